/**
 * The listen channel's accept queue under hostile clients: connections reset
 * while they wait are skipped at once, and queued connections count against
 * the descriptor limit (net/deno/_listen_channel.ts).
 */

import assert from "node:assert/strict";
import {
  accept,
  close,
  EAGAIN,
  EMFILE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  getDescriptorLimit,
  setDescriptorLimit,
} from "../mod.ts";
import { descriptors } from "../runtime/core/fd_table.ts";
import { ACCEPT_QUEUE } from "../net/deno/_listen_channel.ts";
import { listenLoopback, NATIVE, waitFor } from "./_helpers.ts";
import { resetClientsAvailable, resetFlood } from "./_reset_clients.ts";

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test({
  name: "connections reset in the accept queue are skipped at once, not one back-off each",
  ignore: !resetClientsAvailable(),
  async fn() {
    const DEAD = 400;
    const { fd: lfd, addr } = listenLoopback(1024);
    let client: Deno.Conn | undefined;
    let fd = -1;
    try {
      // Synchronous: the pump cannot accept them before they are reset.
      assert.equal(resetFlood(addr.port, DEAD), DEAD);
      const start = performance.now();
      client = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
      for (;;) {
        await waitFor(lfd, EPOLLIN, 30_000);
        fd = accept(lfd);
        if (fd >= 0) break;
        assert.equal(fd, -EAGAIN);
      }
      const ms = performance.now() - start;
      // One 20 ms back-off per dead connection would take 8 s; skipping them
      // takes a few ms. The bound leaves a wide margin for a loaded machine.
      assert.ok(ms < 2000, `the fresh client waited ${ms.toFixed(0)} ms behind ${DEAD} resets`);
    } finally {
      if (fd >= 0) close(fd);
      close(lfd);
      client?.close();
    }
  },
});

Deno.test("queued connections count against the descriptor limit; each listener may hold one", async () => {
  const CLIENTS = 10;
  const FREE = 3;
  const before = getDescriptorLimit();
  const { fd: lfd, addr } = listenLoopback(64);
  const clients: Deno.Conn[] = [];
  const fds: number[] = [];
  // An epoll made before the table fills (waitFor() would need a new fd).
  const ep = epollCreate1(0);
  const out: EpollEvent[] = [];
  const readable = async () => {
    const n = await epollWait(ep, out, 1, 10_000);
    assert.equal(n, 1, "the listener did not become readable");
  };
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: 0 }), 0);
    assert.equal(setDescriptorLimit(descriptors.open + FREE), 0);
    for (let i = 0; i < CLIENTS; i++) {
      clients.push(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
    }
    await readable();
    await delay(300); // time for the pump to take whatever it is allowed to
    // FREE queued, plus the one a full table still lets the listener hold.
    assert.ok(descriptors.held <= FREE + 1, `${descriptors.held} held with ${FREE} free fds`);
    for (let i = 0; i < FREE; i++) {
      const fd = accept(lfd);
      assert.ok(fd >= 0, `accept ${i} gave ${fd}`);
      fds.push(fd);
    }
    // Table full, a connection pending: -EMFILE, and the listener stays readable.
    await readable();
    assert.equal(accept(lfd), -EMFILE);
    assert.ok(descriptors.held <= 1);
    // Freeing fds lets the rest in, one by one.
    for (let accepted = FREE; accepted < CLIENTS; accepted++) {
      close(fds.shift()!);
      await readable();
      const fd = accept(lfd);
      assert.ok(fd >= 0, `accept after a close gave ${fd}`);
      fds.push(fd);
    }
    // Every client was accepted; nothing is left queued. (The table is full again:
    // Linux reserves the fd before it looks at the queue, so the native backend
    // answers EMFILE.)
    assert.equal(accept(lfd), NATIVE ? -EMFILE : -EAGAIN);
  } finally {
    for (const fd of fds) close(fd);
    close(ep);
    close(lfd);
    for (const c of clients) c.close();
    assert.equal(setDescriptorLimit(before), 0);
  }
});

Deno.test({
  name: "the OS descriptors a listener holds stay within the descriptor limit",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_held_descriptors_child.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const { clients, free, held } = JSON.parse(new TextDecoder().decode(out.stdout));
    // free queued, plus the one a full table still lets the listener hold;
    // before the limit counted them, the listener held every client.
    assert.ok(
      held <= free + 1,
      `${held} OS descriptors held for ${clients} clients, ${free} free fds`,
    );
  },
});

Deno.test({
  name:
    "the Deno backend queues at most 16 connections for accept (ACCEPT_QUEUE); the rest wait in the kernel's backlog",
  ignore: NATIVE,
  async fn() {
    // With the whole backlog queued in the process, a program could accept
    // thousands of connections without Deno's runtime polling the kernel once
    // (every other connection's I/O waits for that poll), at ~3.5 KB each.
    const CLIENTS = 200;
    const { fd: lfd, addr } = listenLoopback(1024);
    const clients: Deno.Conn[] = [];
    const fds: number[] = [];
    try {
      for (let i = 0; i < CLIENTS; i++) {
        clients.push(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
      }
      await delay(300); // many turns of the event loop: the pump takes what it may
      assert.equal(descriptors.held, ACCEPT_QUEUE);
      // Without a turn of the loop, accept gets the queued ones only.
      for (let fd = accept(lfd); fd >= 0; fd = accept(lfd)) fds.push(fd);
      assert.equal(fds.length, ACCEPT_QUEUE);
      // The others are taken as the program accepts: every client gets in.
      while (fds.length < CLIENTS) {
        await waitFor(lfd, EPOLLIN);
        for (let fd = accept(lfd); fd >= 0; fd = accept(lfd)) fds.push(fd);
      }
    } finally {
      for (const fd of fds) close(fd);
      close(lfd);
      for (const c of clients) c.close();
    }
  },
});
