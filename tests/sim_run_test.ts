// Building and running a simulated network: hosts, programs, the driver,
// its errors, netstat, virtual time in every wait, and the TCP rules that
// the contract names beside "What must be visible".
import assert from "node:assert/strict";
import {
  AF_INET,
  CLOCK_MONOTONIC,
  close,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EBADF,
  ECONNRESET,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  epollWait,
  ETIMEDOUT,
  EV_ADD,
  eventfd,
  EVFILT_TIMER,
  getSocketBackend,
  type KEvent,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SOCK_STREAM,
  socket,
  SOL_SOCKET,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { createSimNetwork, SimError } from "../sim.ts";
import { simConnect, simListen, simReadAll, simWait } from "./_helpers.ts";

Deno.test("addHost gives deterministic addresses in creation order and refuses duplicates", () => {
  using sim = createSimNetwork({ seed: 1 });
  assert.deepEqual(sim.addHost("a").addresses, ["10.0.0.1", "fd00::1"]);
  assert.deepEqual(sim.addHost("b").addresses, ["10.0.0.2", "fd00::2"]);
  assert.deepEqual(sim.addHost("c", { addresses: ["192.168.1.9"] }).addresses, ["192.168.1.9"]);
  assert.throws(() => sim.addHost("a"), /duplicate host name/);
  assert.throws(() => sim.addHost("d", { addresses: ["10.0.0.1"] }), /duplicate address/);
  assert.throws(() => sim.addHost(""), TypeError);
  assert.equal(sim.resolve("b"), "10.0.0.2");
  assert.equal(sim.resolve("nobody"), null);
});

Deno.test("a host's program uses mod.ts unchanged: its module-level calls act on the host's own table and sockets", async () => {
  using sim = createSimNetwork({ seed: 2, link: { latency: 10 } });
  const server = sim.addHost("server");
  const seen: unknown[] = [];
  sim.spawn(server, () => void simListen(server.os, 80));
  sim.client("client", async () => {
    const fd = socket(AF_INET, SOCK_STREAM, 0); // ambient: the client's kernel
    seen.push(fd, getSocketBackend());
    const ep = epollCreate1(0);
    seen.push(ep);
    assert.equal(server.os.read(7, new Uint8Array(1)), -9); // the server has no fd 7
    assert.equal(
      (await import("../mod.ts")).connect(fd, { family: AF_INET, address: "10.0.0.1", port: 80 }),
      -115,
    );
    epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT, data: fd });
    const out: EpollEvent[] = [];
    assert.equal(await epollWait(ep, out, 1, 1000), 1);
    seen.push(sim.now());
  });
  await sim.run();
  assert.deepEqual(seen, [0, "sim", 1, 20]);
});

Deno.test("timerfd, EVFILT_TIMER and wait timeouts run on virtual time", async () => {
  using sim = createSimNetwork({ seed: 3 });
  const at: number[] = [];
  sim.client("c", async (os) => {
    const ep = epollCreate1(0);
    const events: EpollEvent[] = [];
    assert.equal(await epollWait(ep, events, 1, 86_400_000), 0); // a virtual day
    at.push(os.now());
    const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
    timerfdSettime(tfd, 0, { value: { sec: 3600, nsec: 0 }, interval: { sec: 0, nsec: 0 } });
    epollCtl(ep, EPOLL_CTL_ADD, tfd, { events: EPOLLIN, data: tfd });
    assert.equal(await epollWait(ep, events, 1, -1), 1);
    at.push(os.now());
    const kq = os.kqueue();
    const ch: KEvent = {
      ident: 1,
      filter: EVFILT_TIMER,
      flags: EV_ADD,
      fflags: 0,
      data: 250,
      udata: null,
    };
    const out: KEvent[] = [];
    assert.equal(await os.kevent(kq, [ch], out, 1, null), 1);
    at.push(os.now());
    assert.equal(await os.epollPwait2(ep, events, 1, { sec: 0, nsec: 1500 }), 1); // tfd still readable
  });
  await sim.run();
  assert.deepEqual(at, [86_400_000, 90_000_000, 90_000_250]);
});

Deno.test("24 virtual hours of heartbeats between two hosts run to the last beat", async () => {
  using sim = createSimNetwork({ seed: 4, link: { latency: 2 } });
  const server = sim.addHost("server");
  let beats = 0;
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const c = os.accept(lfd);
    const buf = new Uint8Array(64);
    for (;;) {
      await simWait(os, c, EPOLLIN);
      const r = os.read(c, buf);
      if (r <= 0) break;
      beats += r;
      os.write(c, buf.subarray(0, r));
    }
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    for (let t = 0; t < 24 * 3600; t += 10) {
      await os.sleep(10_000);
      os.write(fd, new Uint8Array([1]));
      await simWait(os, fd, EPOLLIN);
      assert.equal(os.read(fd, new Uint8Array(4)), 1);
    }
  });
  const report = await sim.run();
  assert.equal(beats, 8640);
  assert.ok(report.now > 86_400_000 && report.now < 86_500_000);
});

Deno.test("run() rejects with SimError naming the host when a program throws", async () => {
  using sim = createSimNetwork({ seed: 5 });
  sim.client("bad", async (os) => {
    await os.sleep(42);
    throw new Error("boom");
  });
  await assert.rejects(sim.run(), (e: SimError) => {
    assert.ok(e instanceof SimError);
    assert.equal(e.host, "bad");
    assert.equal(e.now, 42);
    assert.equal(e.seed, 5);
    assert.equal((e.cause as Error).message, "boom");
    assert.match(e.message, /DENO_EPOLL_SIM_SEED=5/);
    return true;
  });
});

Deno.test("a deadlock rejects with SimError listing each host's pending waits", async () => {
  using sim = createSimNetwork({ seed: 6 });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN); // nobody ever connects
  });
  sim.client("client", async (os) => {
    const ep = os.epollCreate1(0);
    await os.epollWait(ep, [], 1, -1);
  });
  await assert.rejects(sim.run(), (e: SimError) => {
    assert.match(e.message, /deadlock/);
    assert.deepEqual(e.blocked.map((b) => b.host).sort(), ["client", "server"]);
    assert.ok(
      e.blocked.every((b) => /epoll wait, forever/.test(b.call)),
      JSON.stringify(e.blocked),
    );
    return true;
  });
});

Deno.test("run() stops at until and fails at maxSteps; step and runUntil drive by hand", async () => {
  using sim = createSimNetwork({ seed: 7 });
  let ticks = 0;
  sim.client("ticker", async (os) => {
    for (;;) {
      await os.sleep(100);
      ticks++;
    }
  });
  const r = await sim.run({ until: 1050 });
  assert.deepEqual(r, { seed: 7, now: 1050, steps: 10, traceHash: sim.traceHash() });
  assert.equal(ticks, 10);
  assert.equal(await sim.step(), true);
  assert.equal(ticks, 11);
  await sim.runUntil(() => ticks === 20);
  assert.equal(sim.now(), 2000);
  await assert.rejects(sim.run({ maxSteps: 25 }), (e: SimError) => {
    assert.ok(e instanceof SimError);
    assert.match(e.message, /step limit \(25\)/);
    assert.deepEqual([e.seed, e.step, e.now, e.host], [7, 25, 2500, null]);
    assert.deepEqual(e.blocked, [{ host: "ticker", call: "sleep(100) from 2500 ms" }]);
    return true;
  });
});

Deno.test("runUntil rejects with SimError when nothing is left to run and its condition never held", async () => {
  using sim = createSimNetwork({ seed: 7 });
  sim.client("once", (os) => os.sleep(100));
  await assert.rejects(sim.runUntil(() => false), (e: SimError) => {
    assert.ok(e instanceof SimError);
    assert.match(e.message, /deadlock: runUntil's condition never held/);
    assert.equal(e.now, 100);
    return true;
  });
});

Deno.test("netstat shows Linux state names and queues; closing with unread bytes resets the peer", async () => {
  using sim = createSimNetwork({ seed: 8, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const c = os.accept(lfd);
    await simWait(os, c, EPOLLIN);
    await os.sleep(100);
    os.close(c); // 3 bytes unread: RST
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    os.write(fd, new Uint8Array(3));
    await os.sleep(50);
    const rows = sim.netstat();
    assert.deepEqual(rows.map((r) => [r.host, r.fd, r.state, r.sendQ, r.recvQ]), [
      ["server", 0, "LISTEN", 0, 0],
      ["server", 1, "ESTABLISHED", 0, 3],
      ["client", 0, "ESTABLISHED", 0, 0],
    ]);
    assert.equal(rows[2].peer, "10.0.0.1:80");
    assert.equal((await simReadAll(os, fd)).end, -ECONNRESET);
  });
  await sim.run();
});

Deno.test("a port held by TIME_WAIT gives EADDRINUSE without SO_REUSEADDR, and binds with it", async () => {
  using sim = createSimNetwork({ seed: 9, link: { latency: 10 } });
  const server = sim.addHost("server");
  const results: number[] = [];
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const c = os.accept(lfd);
    os.close(lfd);
    os.close(c); // the server closes first: its side goes to TIME_WAIT
    await os.sleep(1000);
    for (const reuse of [0, 1]) {
      const fd = os.socket(AF_INET, SOCK_STREAM, 0);
      os.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, reuse);
      results.push(os.bind(fd, { family: AF_INET, address: "0.0.0.0", port: 80 }));
      os.close(fd);
    }
    await os.sleep(60_000);
    const fd = os.socket(AF_INET, SOCK_STREAM, 0);
    results.push(os.bind(fd, { family: AF_INET, address: "0.0.0.0", port: 80 }));
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    assert.equal((await simReadAll(os, fd)).end, 0);
    os.close(fd);
    await os.sleep(70_000);
  });
  await sim.run();
  assert.deepEqual(results, [-EADDRINUSE, 0, 0]);
});

Deno.test("ephemeral ports run out with EADDRNOTAVAIL", async () => {
  using sim = createSimNetwork({ seed: 10, tcp: { ephemeral: { min: 40000, max: 40002 } } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  const got: number[] = [];
  sim.client("client", (os) => {
    for (let i = 0; i < 4; i++) {
      const fd = os.socket(AF_INET, SOCK_STREAM, 0);
      got.push(os.connect(fd, { family: AF_INET, address: server.addresses[0], port: 80 }));
    }
  });
  await sim.run();
  assert.deepEqual(got, [-115, -115, -115, -EADDRNOTAVAIL]);
});

Deno.test("closing a listener resets its unaccepted connections", async () => {
  using sim = createSimNetwork({ seed: 11, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await os.sleep(100); // both connections are complete, never accepted
    os.close(lfd);
  });
  const ends: number[] = [];
  for (const name of ["a", "b"]) {
    sim.client(name, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      ends.push((await simReadAll(os, fd)).end);
      assert.equal(os.now(), 110);
    });
  }
  await sim.run();
  assert.deepEqual(ends, [-ECONNRESET, -ECONNRESET]);
});

Deno.test("keepalive probes an idle peer that vanished and gives ETIMEDOUT after the probes", async () => {
  using sim = createSimNetwork({
    seed: 12,
    link: { latency: 10 },
    tcp: { keepalive: { idleMs: 60_000, intervalMs: 5_000, probes: 3 } },
  });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    os.accept(lfd);
    await os.sleep(10_000_000);
  });
  let failed = -1;
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    os.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    await simWait(os, fd, EPOLLOUT);
    assert.equal(
      await simWait(os, fd, EPOLLIN, 100_000),
      0,
      "probes answered while the peer lives",
    );
    sim.crash("server");
    await simWait(os, fd, EPOLLIN | EPOLLRDHUP);
    failed = os.now();
    assert.equal(os.getsockopt(fd, SOL_SOCKET, SO_ERROR), ETIMEDOUT);
  });
  await sim.run();
  // Last heard at 60,040 (the answer to the probe of 60,020); probes at 120,040, 125,040,
  // 130,040, then ETIMEDOUT at 135,040.
  assert.equal(failed, 135_040);
});

Deno.test("a killed program's code that runs after dispose acts on its own dead kernel, never the process's", async () => {
  // The process's kernel finds itself without an AsyncLocalStorage lookup only
  // while no other kernel can still run code: a disposed network's programs
  // can (their parked waits reject at dispose, and their finally blocks run).
  const real = eventfd(0, 0);
  let closed: number | undefined;
  const sim = createSimNetwork({ seed: 12 });
  const h = sim.addHost("h");
  sim.spawn(h, async () => {
    const ep = epollCreate1(0);
    try {
      await epollWait(ep, [], 1, -1);
    } finally {
      closed = close(real); // the same number in the host's own table
    }
  });
  await sim.runFor(1);
  sim.kill(h);
  await sim.runFor(1);
  assert.equal(
    closed,
    undefined,
    "a killed program's wait does not return while the network lives",
  );
  sim.dispose();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(closed, -EBADF, "its finally ran in its dead kernel");
  assert.equal(
    write(real, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])),
    8,
    "the process's fd is open",
  );
  assert.equal(close(real), 0);
});
