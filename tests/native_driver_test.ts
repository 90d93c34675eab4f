/**
 * A white-box test of the native driver's policy (`net/native/_driver.ts`):
 * after a spin that found kernel events, the driver lets Deno's event loop
 * turn before it spins again, so timers and Deno I/O are not starved while
 * native sockets stay busy. It feeds the driver's kernel epoll directly
 * (`driver.add`), because no public source keeps kernel events coming while
 * the program itself is starved: a TCP or UDP sender dries up, the driver
 * parks, and the park turns the loop anyway (tried: both pass with the loop
 * turn removed). The public behaviour of the native backend is
 * `native_backend_test.ts`'s.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  close,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLIN,
  epollWait,
  getSocketBackend,
  pipe,
  setSocketBackend,
  socketBackendError,
  write,
} from "../mod.ts";
import { type Libc, openLibc } from "../net/native/libc.ts";
import { getDriver } from "../net/native/_driver.ts";
import { listenLoopback, LOOPBACK } from "./_helpers.ts";

const why = socketBackendError();
const ignore = why !== null;
const skipped = ignore ? ` (skipped: ${why})` : "";

/** Runs `fn` with new sockets made by `name`, then restores the backend. */
function withBackend<T>(name: "deno" | "native", fn: () => T): T {
  const before = getSocketBackend();
  assert.equal(setSocketBackend(name), 0);
  try {
    return fn();
  } finally {
    setSocketBackend(before);
  }
}

/** A kernel timerfd (libc's timerfd_create/timerfd_settime, which the binding does not need). */
function openTimerfd() {
  const lib = Deno.dlopen("libc.so.6", {
    timerfd_create: { parameters: ["i32", "i32"], result: "i32" },
    timerfd_settime: { parameters: ["i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  const CLOCK_MONOTONIC = 1;
  const TFD_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
  const fd = lib.symbols.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK_CLOEXEC);
  assert.ok(fd >= 0, "timerfd_create");
  /** Ticks every `ns` nanoseconds (0: disarmed). */
  const every = (ns: number) => {
    const spec = new BigInt64Array([0n, BigInt(ns), 0n, BigInt(ns)]);
    assert.equal(lib.symbols.timerfd_settime(fd, 0, new Uint8Array(spec.buffer), null), 0);
  };
  return { fd, every, close: () => lib.close() };
}

Deno.test({
  name: "under a continuous native event flood with two sleepers, a timer fires and a Deno read " +
    "completes" + skipped,
  ignore,
  async fn() {
    // A kernel timerfd in the driver's epoll raises an edge every microsecond
    // once read,
    // whatever the load on the machine (a flooding thread can be descheduled
    // long enough for the driver to park, which turns the loop anyway), so
    // every spin of the driver finds events. Two tasks sleep on native
    // sockets: after each hit the driver must let Deno's event loop turn, or
    // the timer and the Deno read below wait for the flood to end. The flood
    // ends by itself after FLOOD_EDGES edges (a bound in work, not in time).
    const FLOOD_EDGES = 200_000;
    const libc = openLibc() as Libc;
    const driver = getDriver(libc);
    const { fd: lfd } = withBackend("native", () => listenLoopback());
    const p: number[] = [];
    assert.equal(pipe(p), 0);
    const eps = [epollCreate1(0), epollCreate1(0)];
    const denoListener = Deno.listen({ hostname: LOOPBACK, port: 0 });
    const tfd = openTimerfd();
    let token = -1;
    let edges = 0;
    let endedByBound = false;
    const ticks = new Uint8Array(8);
    let denoClient: Deno.Conn | undefined;
    let denoServer: Deno.Conn | undefined;
    const sleepers: Promise<number>[] = [];
    try {
      const accepting = denoListener.accept();
      denoClient = await Deno.connect({ hostname: LOOPBACK, port: denoListener.addr.port });
      denoServer = await accepting;
      for (const ep of eps) {
        epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: "listener" });
        epollCtl(ep, EPOLL_CTL_ADD, p[0], { events: EPOLLIN, data: "stop" });
        sleepers.push(epollWait(ep, [], 8, 60_000));
      }
      await new Promise((r) => setTimeout(r, 20)); // both asleep
      token = driver.add(tfd.fd, {
        kernelEvents() {
          libc.read(tfd.fd, ticks); // the read re-arms an interval timerfd
          if (++edges === FLOOD_EDGES) {
            endedByBound = true;
            tfd.every(0);
          }
        },
      });
      assert.ok(token > 0);
      tfd.every(1_000);
      while (edges === 0) await new Promise((r) => setTimeout(r, 1));
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 20));
      const server = denoServer;
      const denoRead = server.read(new Uint8Array(1));
      await denoClient.write(new Uint8Array([7]));
      await Promise.all([timer, denoRead]);
      const flooding = !endedByBound;
      tfd.every(0);
      assert.ok(flooding, "the timer and the Deno read completed while the flood ran");
      assert.equal(await denoRead, 1);
    } finally {
      tfd.every(0);
      if (token > 0) driver.remove(tfd.fd, token);
      libc.close(tfd.fd);
      tfd.close();
      write(p[1], new Uint8Array([1]));
      await Promise.allSettled(sleepers);
      denoClient?.close();
      denoServer?.close();
      denoListener.close();
      close(lfd);
      eps.forEach((ep) => close(ep));
      p.forEach((fd) => close(fd));
    }
  },
});
