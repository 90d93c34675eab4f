// A kernel's clock (the clock port of runtime/core/kernel.ts) drives every wait
// timeout and timer of that kernel, its internal ones included, and a kernel on
// a clock of its own never touches the real one.

import assert from "node:assert/strict";
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  close,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollPwait2,
  epollWait,
  EV_ADD,
  EV_ONESHOT,
  eventfd,
  EVFILT_TIMER,
  Kernel,
  type KEvent,
  kevent,
  kqueue,
  NOTE_ABSTIME,
  read,
  TFD_TIMER_ABSTIME,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { connectLoopback, LOOPBACK, ManualClock, NATIVE, settled, turn } from "./_helpers.ts";

Deno.test("a kernel's clock drives its wait timeouts, to the nanosecond, and nothing else's", async () => {
  const clock = new ManualClock();
  const k = new Kernel({ clock });
  const epfd = k.run(() => epollCreate1(0));
  try {
    const events: EpollEvent[] = [];
    const forever = k.run(() => epollWait(epfd, events, 1, 5000));
    await clock.advance(4999.999);
    assert.equal(await settled(forever), false, "5 s of virtual time have not passed");
    await clock.advance(0.001);
    assert.equal(await forever, 0);
    // epollPwait2 keeps nanoseconds: 1.5 ms is not 2 ms.
    const short = k.run(() => epollPwait2(epfd, events, 1, { sec: 0, nsec: 1_500_000 }));
    await clock.advance(1.4);
    assert.equal(await settled(short), false);
    await clock.advance(0.1);
    assert.equal(await short, 0);
    assert.equal(clock.alarms.size, 0, "no alarm left pending");
    // The default kernel's waits stay on the real clock.
    const real = epollCreate1(0);
    const t0 = performance.now();
    assert.equal(await epollWait(real, events, 1, 5), 0);
    assert.ok(performance.now() - t0 >= 5);
    close(real);
  } finally {
    k.shutdown();
  }
});

Deno.test("a kernel's clock drives its timerfds (both clocks) and EVFILT_TIMER", async () => {
  const clock = new ManualClock();
  const k = new Kernel({ clock });
  try {
    await k.run(async () => {
      const epfd = epollCreate1(0);
      const rel = timerfdCreate(CLOCK_MONOTONIC, 0);
      const abs = timerfdCreate(CLOCK_REALTIME, 0);
      epollCtl(epfd, EPOLL_CTL_ADD, rel, { events: EPOLLIN, data: "rel" });
      epollCtl(epfd, EPOLL_CTL_ADD, abs, { events: EPOLLIN, data: "abs" });
      timerfdSettime(rel, 0, { value: { sec: 1, nsec: 0 }, interval: { sec: 1, nsec: 0 } });
      const wall = clock.wallNow() + 2500; // an instant on the kernel's CLOCK_REALTIME
      const at = { sec: Math.floor(wall / 1000), nsec: (wall % 1000) * 1e6 };
      timerfdSettime(abs, TFD_TIMER_ABSTIME, { value: at, interval: { sec: 0, nsec: 0 } });
      const kq = kqueue();
      const absTimer = {
        ident: 9,
        filter: EVFILT_TIMER,
        flags: EV_ADD | EV_ONESHOT,
        fflags: NOTE_ABSTIME,
        data: clock.wallNow() + 3000,
        udata: "kq",
      };
      assert.equal(await kevent(kq, [absTimer], [], 0, null), 0);
      const events: EpollEvent[] = [];
      const kevents: KEvent[] = [];
      const w = epollWait(epfd, events, 2, -1);
      await clock.advance(999);
      assert.equal(await settled(w), false);
      await clock.advance(1);
      assert.equal(await w, 1);
      assert.equal(events[0].data, "rel");
      await clock.advance(2000); // t = 3000: rel fired twice more, abs once, the kqueue timer once
      assert.equal(await epollWait(epfd, events, 2, 0), 2);
      assert.deepEqual(events.slice(0, 2).map((e) => e.data).sort(), ["abs", "rel"]);
      const buf = new Uint8Array(8);
      assert.equal(read(rel, buf), 8);
      assert.equal(new DataView(buf.buffer).getBigUint64(0, true), 3n);
      assert.equal(await kevent(kq, [], kevents, 1, { sec: 0, nsec: 0 }), 1);
      assert.equal(kevents[0].udata, "kq");
      [epfd, rel, abs, kq].forEach(close);
    });
  } finally {
    k.shutdown();
  }
});

Deno.test("a kernel on a clock of its own never reads the real clock or arms a real timer", async () => {
  const clock = new ManualClock();
  const k = new Kernel({ name: "virtual", clock });
  const real = { now: performance.now, dateNow: Date.now, setTimeout: globalThis.setTimeout };
  const reads: string[] = [];
  performance.now = () => (reads.push("performance.now"), real.now.call(performance));
  Date.now = () => (reads.push("Date.now"), real.dateNow());
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => (
    reads.push("setTimeout"), real.setTimeout(...args)
  )) as typeof setTimeout;
  try {
    await k.run(async () => {
      const epfd = epollCreate1(0);
      const ready = eventfd(1, 0);
      epollCtl(epfd, EPOLL_CTL_ADD, ready, { events: EPOLLIN, data: "ready" });
      const events: EpollEvent[] = [];
      // Waits that find events at once, with the loop-fairness policy asked each time.
      for (let i = 0; i < 1000; i++) assert.equal(await epollWait(epfd, events, 1, 0), 1);
      epollCtl(epfd, EPOLL_CTL_DEL, ready);
      // A timed wait, a timerfd (both clocks) and an EVFILT_TIMER, all fired by the clock.
      const tfd = timerfdCreate(CLOCK_REALTIME, 0);
      timerfdSettime(tfd, 0, { value: { sec: 0, nsec: 5e6 }, interval: { sec: 0, nsec: 0 } });
      epollCtl(epfd, EPOLL_CTL_ADD, tfd, { events: EPOLLIN, data: "tfd" });
      const kq = kqueue();
      const timer = { ident: 1, filter: EVFILT_TIMER, flags: EV_ADD, fflags: 0, data: 3, udata: 0 };
      assert.equal(await kevent(kq, [timer], [], 0, null), 0);
      const kw = kevent(kq, [], [], 1, { sec: 1, nsec: 0 });
      const ew = epollWait(epfd, events, 1, 1000);
      await clock.advance(3);
      assert.equal(await kw, 1);
      await clock.advance(2);
      assert.equal(await ew, 1);
      assert.equal(events[0].data, "tfd");
      [epfd, ready, tfd, kq].forEach(close);
    });
  } finally {
    performance.now = real.now;
    Date.now = real.dateNow;
    globalThis.setTimeout = real.setTimeout;
    k.shutdown();
  }
  assert.deepEqual(reads, [], "real time was read or a real timer armed");
});

Deno.test({
  name:
    "internal timers run on the kernel's clock: a Deno socket's linger limit ends on virtual time",
  ignore: NATIVE, // the limit belongs to the Deno backend's close (a native close is the kernel's)
  async fn() {
    const clock = new ManualClock();
    const k = new Kernel({ name: "linger", clock });
    const peer = Deno.listen({ hostname: LOOPBACK, port: 0 }); // accepts, never reads
    const accepting = peer.accept();
    let conn: Deno.Conn | undefined;
    try {
      const fd = await k.run(() => connectLoopback((peer.addr as Deno.NetAddr).port));
      conn = await accepting;
      // Fill everything between us and the peer: our send buffer, then the kernel's.
      const chunk = new Uint8Array(65536);
      for (let quiet = 0; quiet < 3;) {
        if (k.run(() => write(fd, chunk)) > 0) quiet = 0;
        else {
          quiet++;
          await new Promise((r) => setTimeout(r, 20)); // let Deno's write in flight settle
        }
      }
      // Closing with unsent bytes lingers, a Deno write still in flight, for at most
      // ORPHAN_TIMEOUT_MS (60 s) on the kernel's clock: no real minute passes here.
      assert.equal(k.run(() => close(fd)), 0);
      assert.equal(clock.alarms.size, 1, "the linger limit is an alarm of the kernel's clock");
      await clock.advance(60_000);
      assert.equal(clock.alarms.size, 0);
      // The connection is closed now; its write in flight ends (else the op sanitizer fails).
      for (let i = 0; i < 5; i++) await turn();
    } finally {
      conn?.close();
      peer.close();
      k.shutdown();
    }
  },
});
