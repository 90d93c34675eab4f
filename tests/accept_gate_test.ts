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
import { RunningExample, SERVERS } from "./_examples.ts";

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

/** A request each server answers, and the answer. */
const PROBE: Record<string, [string, string]> = {
  "echo_server.ts": ["ping\n", "ping\n"],
  "echo_server_et.ts": ["ping\n", "ping\n"],
  "kqueue_echo_server.ts": ["ping\n", "ping\n"],
  "resp_server.ts": ["PING\r\n", "+PONG\r\n"],
  "http_server.ts": ["GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 200"],
  "chat_server.ts": ["", ""],
};

/** Sends `request` on a new connection and reads until the reply starts with `reply`. */
async function served(port: number, [request, reply]: [string, string]): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buf = new Uint8Array(256);
    while (text.length < reply.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.equal(text.slice(0, reply.length), reply);
  } finally {
    conn.close();
  }
}

for (const script of SERVERS.filter((s) => PROBE[s][0] !== "")) {
  Deno.test(`examples/${script}: with the descriptor table full it stops waking for the listener, and serves again once descriptors free`, async () => {
    await using server = await RunningExample.start(
      script,
      ["--port", "0", "--max-fds", "16", "--stats", "--interval", "0.2"],
      ["-A"],
    );
    const flood: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        flood.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
      }
      // Once the flood is queued and the table full, an idle server reports
      // (almost) no events; one that keeps polling a listener it cannot
      // accept from reports thousands per second.
      const name = script.replace(/\.ts$/, "");
      const line = new RegExp(`${name}: (\\d+) open, .*, (\\d+) events/s`, "g");
      const idle = async () => {
        const from = server.stdout.text.length;
        await server.waitFor(
          new RegExp(`^[\\s\\S]{${from}}[\\s\\S]*\\n.*events/s[\\s\\S]*\\n.*events/s`),
        );
        const lines = [...server.stdout.text.slice(from).matchAll(line)];
        return Number(lines.at(-1)![2]);
      };
      let rate = await idle();
      for (let i = 0; i < 10 && rate > 50; i++) rate = await idle(); // the flood's own events
      assert.ok(rate <= 50, `${rate} events/s with the descriptor table full and no traffic`);
    } finally {
      for (const c of flood) c.close();
    }
    await served(server.port, PROBE[script]);
  });
}

Deno.test("AcceptGate (edge-triggered): a batch bound re-arms the listener, so the connections still queued are reported again", async () => {
  const { fd: lfd, port } = listenLoopback();
  const ep = epollCreate1(0);
  const clients: Deno.Conn[] = [];
  const fds: number[] = [];
  const out: EpollEvent[] = [];
  try {
    const gate = new AcceptGate(ep, lfd, "listener", EPOLLIN | EPOLLET);
    for (let i = 0; i < 5; i++) clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    // Wait until all five are queued, then take two at a time.
    for (let i = 0; i < 100; i++) {
      assert.equal(await epollWait(ep, out, 4, 10_000), 1, "the listener never became readable");
      gate.acceptAll((fd) => fds.push(fd), 2);
      if (fds.length >= 5) break;
    }
    // Without the re-arm an edge-triggered set would not report the rest: the
    // loop above would stop at 2 (no new connection arrives to make an edge).
    assert.equal(fds.length, 5);
  } finally {
    for (const fd of fds) close(fd);
    for (const c of clients) c.close();
    close(ep);
    close(lfd);
  }
});
