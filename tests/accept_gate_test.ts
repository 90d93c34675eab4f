/**
 * The examples' EMFILE recipe (examples/_accept_gate.ts): when accept gives
 * EMFILE the listener is unwatched, so a level-triggered loop does not spin
 * on it; closing a descriptor watches it again and the queued client is
 * accepted.
 */

import assert from "node:assert/strict";
import {
  close,
  epollCreate1,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  getDescriptorLimit,
  setDescriptorLimit,
} from "../mod.ts";
import { descriptors } from "../runtime/core/fd_table.ts";
import { AcceptGate } from "../examples/_accept_gate.ts";
import { listenLoopback } from "./_helpers.ts";

for (const et of [false, true]) {
  Deno.test(`AcceptGate${et ? " (edge-triggered)" : ""}: EMFILE unwatches the listener until a descriptor is closed`, async () => {
    const before = getDescriptorLimit();
    const { fd: lfd, port } = listenLoopback();
    const ep = epollCreate1(0);
    const clients: Deno.Conn[] = [];
    const fds: number[] = [];
    const out: EpollEvent[] = [];
    try {
      const gate = new AcceptGate(ep, lfd, "listener", et ? EPOLLIN | EPOLLET : EPOLLIN);
      assert.equal(setDescriptorLimit(descriptors.open + 2), 0);
      for (let i = 0; i < 4; i++) clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      // Accept until the table is full.
      for (let i = 0; i < 100 && !gate.paused; i++) {
        assert.equal(await epollWait(ep, out, 4, 10_000), 1, "the listener never became readable");
        gate.acceptAll((fd) => fds.push(fd));
      }
      assert.ok(gate.paused, "EMFILE did not unwatch the listener");
      assert.equal(fds.length, 2);
      assert.equal(gate.pauses, 1);
      // Clients are still queued, but the loop is not woken for the listener.
      assert.equal(await epollWait(ep, out, 4, 50), 0);
      close(fds.shift()!);
      gate.fdClosed();
      assert.equal(gate.paused, false);
      assert.equal(await epollWait(ep, out, 4, 10_000), 1);
      gate.acceptAll((fd) => fds.push(fd));
      assert.equal(fds.length, 2, "the queued client was accepted into the freed slot");
    } finally {
      for (const fd of fds) close(fd);
      close(ep);
      close(lfd);
      for (const c of clients) c.close();
      assert.equal(setDescriptorLimit(before), 0);
    }
  });
}
