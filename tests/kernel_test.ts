// Kernels (runtime/core/kernel.ts): independent descriptor tables, limits,
// clocks and timers; ambient calls that follow awaits; a shutdown that tears
// down exactly one kernel; the object layer bound to the kernel it was made in;
// kernelCalls() covering every call of mod.ts; the clock port driving every
// wait timeout and timer.

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  AF_INET,
  bind,
  type Clock,
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  type ClockAlarm,
  close,
  currentKernel,
  EBADF,
  EMFILE,
  ENETUNREACH,
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
  getDescriptorLimit,
  getSocketBackend,
  getsockname,
  type InetSockAddr,
  Kernel,
  kernelCalls,
  type KEvent,
  kevent,
  kqueue,
  listen,
  NOTE_ABSTIME,
  pipe,
  read,
  setDescriptorLimit,
  setSocketBackend,
  SOCK_STREAM,
  socket,
  TFD_TIMER_ABSTIME,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { registerSocketBackend } from "../net/socket_backend.ts";
import { connectLoopback, LOOPBACK, NATIVE } from "./_helpers.ts";

/** A clock that moves only when the test says so (what a simulated network gives its hosts). */
class ManualClock implements Clock {
  t = 0;
  readonly alarms = new Set<{ deadline: number; fire: () => void }>();
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return 1_700_000_000_000 + this.t;
  }
  alarm(deadline: number, fire: () => void): ClockAlarm {
    const entry = { deadline, fire };
    this.alarms.add(entry);
    return { cancel: () => this.alarms.delete(entry), keepAlive: () => {} };
  }
  /** Moves time on and fires the alarms that are due, then lets their effects run. */
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (const a of [...this.alarms]) {
      if (a.deadline <= this.t) {
        this.alarms.delete(a);
        a.fire();
      }
    }
    await macrotask();
  }
}

/** One macrotask without a timer (a MessageChannel message): what the last step queued has run. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** One timer turn: Deno's timers and I/O had their chance too. */
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

/** Whether `p` has settled by the next macrotask. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await turn();
  return done;
}

Deno.test("two kernels number their fds independently, each from its lowest free fd", () => {
  const a = new Kernel({ name: "a" });
  const b = new Kernel({ name: "b" });
  try {
    const mine = eventfd(0, 0); // the default kernel's
    assert.equal(a.run(() => eventfd(0, 0)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 1);
    assert.equal(b.run(() => eventfd(0, 0)), 0);
    assert.equal(a.openDescriptors, 2);
    assert.equal(b.openDescriptors, 1);
    // fd 0 of b is not fd 0 of a: closing it in b leaves a's alone.
    assert.equal(b.run(() => close(0)), 0);
    assert.equal(b.run(() => close(0)), -EBADF);
    assert.equal(a.run(() => write(0, new Uint8Array(8).fill(1, 0, 1))), 8);
    assert.equal(eventfd(0, 0), mine + 1, "the default kernel's table did not move");
    close(mine + 1);
    close(mine);
  } finally {
    a.shutdown();
    b.shutdown();
  }
});

Deno.test("each kernel has its own descriptor limit", () => {
  const a = new Kernel({ limit: 2 });
  try {
    const before = getDescriptorLimit();
    assert.equal(a.run(getDescriptorLimit), 2);
    assert.equal(a.run(() => eventfd(0, 0)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 1);
    assert.equal(a.run(() => eventfd(0, 0)), -EMFILE);
    assert.equal(a.run(() => setDescriptorLimit(3)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 2);
    assert.equal(getDescriptorLimit(), before, "the default kernel's limit did not change");
    assert.throws(() => new Kernel({ limit: 0 }), TypeError);
  } finally {
    a.shutdown();
  }
});

Deno.test("ambient calls follow awaits: inside run(), every call acts on that kernel", async () => {
  const a = new Kernel({ name: "a" });
  const b = new Kernel({ name: "b" });
  try {
    // Two programs interleaved on the event loop, each seeing only its own kernel.
    const program = (k: Kernel, tag: number) =>
      k.run(async () => {
        const fds: number[] = [];
        for (let i = 0; i < 3; i++) {
          assert.equal(currentKernel(), k);
          fds.push(eventfd(tag, 0));
          await turn(); // a macrotask: the other program runs meanwhile
          await Promise.resolve();
          const epfd = epollCreate1(0);
          await epollWait(epfd, [], 1, 1); // a real wait, its timer and wake-up
          assert.equal(currentKernel(), k);
          close(epfd);
        }
        return fds;
      });
    const [fa, fb] = await Promise.all([program(a, 1), program(b, 2)]);
    assert.deepEqual(fa, [0, 1, 2]);
    assert.deepEqual(fb, [0, 1, 2]);
    const buf = new Uint8Array(8);
    assert.equal(a.run(() => read(2, buf)), 8);
    assert.equal(buf[0], 1);
    assert.equal(b.run(() => read(2, buf)), 8);
    assert.equal(buf[0], 2);
    assert.equal(currentKernel(), Kernel.default);
    // Nested: the innermost run wins, and the outer kernel comes back.
    a.run(() => {
      b.run(() => assert.equal(currentKernel(), b));
      assert.equal(currentKernel(), a);
      Kernel.default.run(() => assert.equal(currentKernel(), Kernel.default));
    });
  } finally {
    a.shutdown();
    b.shutdown();
  }
});

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

Deno.test("shutdown tears down exactly one kernel: its waits stop, its fds close, its timers go", async () => {
  const clock = new ManualClock();
  const dead = new Kernel({ name: "dead", clock });
  const alive = new Kernel({ name: "alive" });
  try {
    const [deadWait, deadFds] = dead.run(() => {
      const epfd = epollCreate1(0);
      const fds: number[] = [];
      pipe(fds);
      epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "pipe" });
      const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
      timerfdSettime(tfd, 0, { value: { sec: 60, nsec: 0 }, interval: { sec: 0, nsec: 0 } });
      return [epollWait(epfd, [], 1, 10_000), [epfd, ...fds, tfd]] as const;
    });
    const [aliveWait, aliveFds] = alive.run(() => {
      const epfd = epollCreate1(0);
      const fds: number[] = [];
      pipe(fds);
      epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "pipe" });
      return [epollWait(epfd, [], 1, 10_000), [epfd, ...fds]] as const;
    });
    await turn();
    assert.equal(dead.pendingWaits, 1);
    assert.equal(dead.openDescriptors, 4);
    assert.equal(clock.alarms.size, 1, "one alarm: the earliest of the wait and the timerfd");

    dead.shutdown();
    assert.equal(dead.isShutdown, true);
    assert.equal(dead.pendingWaits, 0);
    assert.equal(dead.openDescriptors, 0);
    assert.equal(clock.alarms.size, 0, "its timers are cancelled");
    await clock.advance(120_000); // past every deadline it had
    assert.equal(await settled(deadWait), false, "a killed program's wait never returns");
    // Its fd numbers are gone, and it makes no new ones.
    for (const fd of deadFds) assert.equal(dead.run(() => close(fd)), -EBADF);
    assert.equal(dead.run(() => eventfd(0, 0)), -EMFILE);
    assert.equal(await dead.run(() => epollWait(deadFds[0], [], 1, 0)), -EBADF);
    dead.shutdown(); // idempotent

    // The other kernel is untouched: its wait still ends when its pipe is written.
    assert.equal(alive.openDescriptors, 3);
    assert.equal(alive.run(() => write(aliveFds[2], new Uint8Array([1]))), 1);
    assert.equal(await aliveWait, 1);
    assert.throws(() => Kernel.default.shutdown(), Error);
  } finally {
    alive.shutdown();
  }
});

Deno.test("shutdown closes sockets as close() would: the peer in another kernel reads EOF", async () => {
  const server = new Kernel({ name: "server" });
  try {
    const [lfd, port] = server.run(() => {
      const fd = socket(AF_INET, SOCK_STREAM, 0);
      assert.equal(bind(fd, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
      assert.equal(listen(fd, 8), 0);
      const at = {} as InetSockAddr;
      getsockname(fd, at);
      return [fd, at.port];
    });
    assert.equal(lfd, 0);
    const client = await connectLoopback(port); // in the default kernel
    try {
      const conn = await server.run(async () => {
        const epfd = epollCreate1(0);
        epollCtl(epfd, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: lfd });
        assert.equal(await epollWait(epfd, [], 1, 5000), 1);
        const c = mod.accept(lfd);
        assert.ok(c >= 0);
        return c;
      });
      assert.equal(server.run(() => write(conn, new TextEncoder().encode("hi"))), 2);
      server.shutdown();
      const epfd = epollCreate1(0);
      epollCtl(epfd, EPOLL_CTL_ADD, client, { events: EPOLLIN, data: client });
      const buf = new Uint8Array(16);
      let got = "";
      for (;;) {
        assert.equal(await epollWait(epfd, [], 1, 5000), 1, "the peer heard the close");
        const n = read(client, buf);
        if (n === 0) break; // FIN after the bytes written before the shutdown
        if (n > 0) got += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.equal(got, "hi");
      close(epfd);
    } finally {
      close(client);
    }
  } finally {
    server.shutdown();
  }
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

Deno.test("the object layer acts on the kernel it was made in, whoever calls it", async () => {
  const k = new Kernel({ name: "objects" });
  const os = kernelCalls(k);
  try {
    const mine = eventfd(1, 0); // a default-kernel fd that may share k's numbers
    using ep = new os.Epoll();
    const efd = os.eventfd(1, 0);
    assert.equal(ep.fd, 0);
    assert.equal(efd, 1);
    // Called from the default kernel's context: still acts on k's fds.
    ep.add(efd, EPOLLIN, "k's eventfd");
    assert.deepEqual((await ep.wait(4, 0)).map((e) => e.data), ["k's eventfd"]);
    using kq = k.run(() => new mod.KQueue());
    kq.changes([{
      ident: 1,
      filter: EVFILT_TIMER,
      flags: EV_ADD | EV_ONESHOT,
      fflags: 0,
      data: 1,
      udata: 1,
    }]);
    assert.equal((await kq.wait(1, 1000)).length, 1);
    // Sockets: a listener made in k hands out sockets of k.
    using listener = os.Listener.listen({ family: AF_INET, address: LOOPBACK, port: 0 });
    assert.ok(listener instanceof mod.Listener && listener instanceof os.Listener);
    const client = await connectLoopback((listener.addr as InetSockAddr).port);
    ep.add(listener.fd, EPOLLIN, "listener");
    assert.ok((await ep.wait(4, 5000)).some((e) => e.data === "listener"));
    using accepted = listener.accept()!;
    assert.ok(accepted !== null);
    assert.equal(k.run(() => mod.getsockname(accepted.fd, {} as InetSockAddr)), 0);
    assert.equal(accepted.write(new Uint8Array([7])), 1);
    // Datagram sockets too: a pair made in k, used from here.
    const [x, y] = os.DatagramSocket.pair();
    using _x = x;
    using _y = y;
    assert.equal(k.run(() => mod.getsockopt(x.fd, mod.SOL_SOCKET, mod.SO_TYPE)), mod.SOCK_DGRAM);
    assert.equal(x.sendTo(new Uint8Array([1, 2, 3])), 3);
    assert.equal(y.receiveFrom(new Uint8Array(8))?.length, 3);
    close(client);
    close(mine);
    os.close(efd);
  } finally {
    k.shutdown();
  }
});

Deno.test("kernelCalls() has a bound member for every call of mod.ts that acts on a kernel", () => {
  // What mod.ts exports that is not a call on a kernel: errno helpers, the base class
  // for new kinds of description, the kernel and clock machinery itself.
  const notCalls = new Set([
    "errnoName",
    "errnoNumber",
    "strerror",
    "check",
    "ErrnoError",
    "Description",
    "Kernel",
    "currentKernel",
    "kernelCalls",
    "realClock",
    "eventLoopTurns",
  ]);
  const k = new Kernel();
  try {
    const os = kernelCalls(k) as unknown as Record<string, unknown>;
    const missing = Object.entries(mod)
      .filter(([name, v]) => typeof v === "function" && !notCalls.has(name))
      .map(([name]) => name)
      .filter((name) => typeof os[name] !== "function");
    assert.deepEqual(missing, [], "calls of mod.ts missing from kernelCalls()");
    assert.equal(os.kernel, k);
  } finally {
    k.shutdown();
  }
});

Deno.test("the socket backend is chosen per kernel, and a registered third backend serves it", () => {
  const backend = {
    name: "kernel-test-down",
    create: () => -ENETUNREACH, // a network with no way out: every socket() fails
  };
  registerSocketBackend(backend);
  assert.throws(() => registerSocketBackend({ ...backend }), TypeError);
  const k = new Kernel({ name: "isolated" });
  try {
    const before = getSocketBackend();
    assert.equal(k.run(getSocketBackend), before, "a new kernel starts with the default's backend");
    assert.equal(k.run(() => setSocketBackend("kernel-test-down")), 0);
    assert.equal(k.run(getSocketBackend), "kernel-test-down");
    assert.equal(k.run(() => socket(AF_INET, SOCK_STREAM, 0)), -ENETUNREACH);
    assert.equal(getSocketBackend(), before, "the default kernel kept its backend");
    const fd = socket(AF_INET, SOCK_STREAM, 0);
    assert.ok(fd >= 0);
    close(fd);
    assert.throws(() => setSocketBackend("no-such-backend"), TypeError);
  } finally {
    k.shutdown();
  }
});
