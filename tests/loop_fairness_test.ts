/**
 * Event-loop fairness: a loop of waits that always find events must still
 * let Deno's event loop run, so timers fire and Deno I/O completes
 * (runtime/core/_loop_turn.ts).
 */

import assert from "node:assert/strict";
import {
  accept,
  close,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  pipe,
  read,
  write,
} from "../mod.ts";
import { loopTurn } from "../runtime/core/_loop_turn.ts";
import { listenLoopback, waitFor } from "./_helpers.ts";

/** Gives up spinning after this long (the broken behaviour spins forever). */
const SPIN_LIMIT_MS = 3000;

Deno.test("a loop of waits that always find events still lets timers fire", async () => {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  const ep = epollCreate1(0);
  try {
    assert.equal(write(fds[1], new Uint8Array([1])), 1);
    // Level-triggered and never read: every wait returns at once.
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: 1 }), 0);
    let fired = false;
    const timer = setTimeout(() => fired = true, 5);
    const out: EpollEvent[] = [];
    const start = performance.now();
    let waits = 0;
    try {
      while (!fired && performance.now() - start < SPIN_LIMIT_MS) {
        assert.equal(await epollWait(ep, out, 8, -1), 1);
        waits++;
      }
    } finally {
      clearTimeout(timer);
    }
    assert.ok(fired, `the timer never fired during ${waits} waits`);
  } finally {
    close(ep);
    close(fds[0]);
    close(fds[1]);
  }
});

Deno.test("a loop of waits that always find events still lets Deno I/O complete", async () => {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  const { fd: lfd, addr } = listenLoopback();
  const ep = epollCreate1(0);
  let client: Deno.Conn | undefined;
  let sfd = -1;
  try {
    client = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
    await waitFor(lfd, EPOLLIN);
    sfd = accept(lfd);
    assert.ok(sfd >= 0);
    assert.equal(write(fds[1], new Uint8Array([1])), 1);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "busy" }), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, sfd, { events: EPOLLIN, data: "sock" }), 0);
    const sent = client.write(new TextEncoder().encode("ping"));
    const out: EpollEvent[] = [];
    const start = performance.now();
    let got = 0;
    while (got === 0 && performance.now() - start < SPIN_LIMIT_MS) {
      const n = await epollWait(ep, out, 8, -1);
      for (let i = 0; i < n; i++) {
        if (out[i].data === "sock") got = read(sfd, new Uint8Array(16));
      }
    }
    await sent;
    assert.equal(got, 4, "the socket's data never arrived while the loop spun");
  } finally {
    close(ep);
    if (sfd >= 0) close(sfd);
    close(lfd);
    client?.close();
    close(fds[0]);
    close(fds[1]);
  }
});

Deno.test("a Deno read whose bytes have arrived completes within a few hundred forced loop turns", async () => {
  // Counted in turns, not time. Tokio polls the kernel for I/O once per 61
  // ticks of a busy loop (its event_interval); a setImmediate turn is one
  // tick, so the read lands within 61 turns here. The MessageChannel turn
  // used before reached Deno's I/O poll only after ~1,900 (a fresh channel)
  // to ~3,900 (a kept one) turns: a busy server's clients waited seconds.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    let done = false;
    const read = server.read(new Uint8Array(8)).then((n) => {
      done = true;
      return n;
    });
    await client.write(new Uint8Array([1, 2, 3]));
    let turns = 0;
    while (!done && turns < 5000) {
      await loopTurn();
      turns++;
    }
    assert.equal(await read, 3);
    assert.ok(turns <= 300, `the read completed only after ${turns} forced turns`);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("the loop turns keep nothing open: a program that ends its wait loop exits", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const script = `
    import { close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, epollWait, pipe, write } from "${mod}";
    const fds = [];
    pipe(fds);
    write(fds[1], new Uint8Array([1]));
    const ep = epollCreate1(0);
    epollCtl(ep, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: 0 });
    const start = performance.now();
    let waits = 0;
    while (performance.now() - start < 50) waits += await epollWait(ep, [], 1, -1);
    console.log(waits > 0 ? "done" : "no waits");
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A port left open would keep the child alive: kill it after 20 s and fail.
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const out = await child.output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  } finally {
    clearTimeout(killer);
  }
});

Deno.test("a loop of slow waits that never sleep still lets Deno's runtime poll the kernel", async () => {
  // Each wait finds a pipe ready and the program then works for 3 ms. Forced
  // turns come every 16-32 such waits, and tokio polls the kernel only once
  // per 61 of them (see the test above): a Deno read whose bytes had arrived
  // waited up to 61 x 32 waits (it had not landed after this test's 1,000).
  // When no wait has slept for
  // KERNEL_POLL_INTERVAL_MS the turn parks the runtime, which polls the
  // kernel: the read lands within a few dozen waits. Counted in waits.
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  const ep = epollCreate1(0);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    assert.equal(write(fds[1], new Uint8Array([1])), 1);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: 0 }), 0);
    let done = false;
    // Started before the bytes are sent, so it completes only through the kernel poll.
    const got = server.read(new Uint8Array(8)).then((n) => {
      done = true;
      return n;
    });
    await client.write(new Uint8Array([1, 2, 3]));
    const out: EpollEvent[] = [];
    let waits = 0;
    while (!done && waits < 1000) {
      assert.equal(await epollWait(ep, out, 8, -1), 1);
      waits++;
      const until = performance.now() + 3; // the program's own work after each wait
      while (performance.now() < until) { /* busy */ }
    }
    assert.equal(await got, 3);
    assert.ok(waits <= 200, `the read completed only after ${waits} waits`);
  } finally {
    close(ep);
    close(fds[0]);
    close(fds[1]);
    client.close();
    server.close();
    listener.close();
  }
});
