// A simulated host as SPEC-sim's "Building and running" table describes it:
// Linux's TCP knobs by default, its own descriptor table, limit and ports,
// its sleep, the object layer bound to it, its program's life (a throw, a
// restart on an empty table), and links that may differ by direction.
import assert from "node:assert/strict";
import {
  AF_INET,
  EADDRINUSE,
  EMFILE,
  EPOLLIN,
  EPOLLOUT,
  type InetSockAddr,
  Listener,
  SOCK_STREAM,
  type SockAddr,
} from "../mod.ts";
import { createSimNetwork, SimError } from "../sim.ts";
import { simConnect, simListen, simWait, simWriteAll } from "./_helpers.ts";

Deno.test("a network's TCP knobs are Linux's defaults unless opts.tcp changes some", () => {
  using sim = createSimNetwork({ seed: 1 });
  assert.deepEqual(sim.knobs, {
    mss: 1448,
    sndbuf: 16384,
    rcvbuf: 131072,
    rtoMinMs: 200,
    rtoMaxMs: 120_000,
    synRtoMs: 1000,
    synRetries: 6,
    retries2: 15,
    timeWaitMs: 60_000,
    keepalive: { idleMs: 7_200_000, intervalMs: 75_000, probes: 9 },
    somaxconn: 4096,
    ephemeral: { min: 32768, max: 60999 },
  });
  using other = createSimNetwork({ seed: 1, tcp: { mss: 536 } });
  assert.equal(other.knobs.mss, 536);
  assert.equal(other.knobs.sndbuf, 16384);
});

Deno.test("segments carry at most mss bytes, and a connection's local port is ephemeral", async () => {
  for (const mss of [1448, 500]) {
    using sim = createSimNetwork({ seed: 2, tcp: { mss } });
    const server = sim.addHost("server");
    sim.spawn(server, async (os) => {
      const lfd = simListen(os, 80);
      await simWait(os, lfd, EPOLLIN);
      const c = os.accept(lfd);
      await os.sleep(1000);
      os.close(c);
    });
    let port = -1;
    sim.client("client", async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      await simWriteAll(os, fd, new Uint8Array(10_000));
      const out: SockAddr = { family: AF_INET, address: "", port: 0 };
      os.getsockname(fd, out);
      port = (out as InetSockAddr).port;
    });
    await sim.run();
    const lens = sim.trace.filter((e) => e.kind === "send" && e.host === "client")
      .map((e) => Number(/ len=(\d+)$/.exec(e.text)![1]));
    assert.equal(Math.max(...lens), mss);
    assert.equal(lens.reduce((a, b) => a + b, 0), 10_000);
    assert.ok(port >= 32768 && port <= 60999, `port ${port}`);
  }
});

Deno.test("listen's backlog is capped at somaxconn", async () => {
  using sim = createSimNetwork({ seed: 3, link: { latency: 10 }, tcp: { somaxconn: 2 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80, 100));
  const at: number[] = [];
  for (let i = 0; i < 5; i++) {
    sim.client(`c${i}`, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      if (await simWait(os, fd, EPOLLOUT, 500)) at.push(os.now());
    });
  }
  await sim.run();
  assert.deepEqual(at, [20, 20, 20]); // somaxconn + 1, as with backlog 2
});

Deno.test("each host has its own descriptor table, limit and ports", async () => {
  using sim = createSimNetwork({ seed: 4 });
  const a = sim.addHost("a"), b = sim.addHost("b");
  assert.equal(a.os.setDescriptorLimit(2), 0);
  assert.deepEqual([a.os.eventfd(0, 0), a.os.eventfd(0, 0), a.os.eventfd(0, 0)], [0, 1, -EMFILE]);
  assert.deepEqual([b.os.eventfd(0, 0), b.os.eventfd(0, 0), b.os.eventfd(0, 0)], [0, 1, 2]);
  assert.ok(b.os.getDescriptorLimit() > 2);
  const bind = (os: typeof a.os) => {
    const fd = os.socket(AF_INET, SOCK_STREAM, 0);
    return os.bind(fd, { family: AF_INET, address: "0.0.0.0", port: 80 });
  };
  assert.equal(a.os.close(1), 0);
  assert.equal(bind(a.os), 0);
  assert.equal(bind(b.os), 0); // another host, another port space
  assert.equal(bind(b.os), -EADDRINUSE);
  await sim.run();
});

Deno.test("host.os's object layer acts on the host, whoever calls it", async () => {
  using sim = createSimNetwork({ seed: 5 });
  const server = sim.addHost("server");
  server.os.eventfd(0, 0); // fd 0
  using l = server.os.Listener.listen({ family: AF_INET, address: "0.0.0.0", port: 80 });
  assert.ok(l instanceof Listener);
  assert.equal(l.fd, 1);
  assert.deepEqual(sim.netstat("server").map((r) => [r.fd, r.state]), [[1, "LISTEN"]]);
  using ep = new server.os.Epoll();
  assert.equal(ep.fd, 2);
  await sim.run();
});

Deno.test("sleep(ms, signal) rejects with the signal's reason when aborted, at that virtual time", async () => {
  using sim = createSimNetwork({ seed: 6 });
  const seen: unknown[] = [];
  sim.client("h", async (os) => {
    const ac = new AbortController();
    const long = os.sleep(1000, ac.signal);
    await os.sleep(10);
    ac.abort(new Error("stop"));
    await assert.rejects(long, /stop/);
    seen.push(os.now());
    await assert.rejects(os.sleep(5, ac.signal), /stop/); // already aborted
    seen.push(os.now());
  });
  const report = await sim.run();
  assert.deepEqual(seen, [10, 10]);
  assert.equal(report.now, 10);
});

Deno.test("a main that throws before its first await fails run() with SimError naming the host", async () => {
  using sim = createSimNetwork({ seed: 7 });
  sim.client("bad", () => {
    throw new Error("at once");
  });
  await assert.rejects(sim.run(), (e: SimError) => {
    assert.ok(e instanceof SimError);
    assert.equal(e.host, "bad");
    assert.equal((e.cause as Error).message, "at once");
    return true;
  });
});

Deno.test("restart runs main again on a fresh kernel with an empty descriptor table", async () => {
  using sim = createSimNetwork({ seed: 8 });
  const server = sim.addHost("server");
  const fds: number[] = [];
  sim.spawn(server, async (os) => {
    os.eventfd(0, 0);
    fds.push(simListen(os, 80));
    await os.sleep(1_000_000);
  });
  await sim.runFor(10);
  const first = server.kernel;
  sim.kill(server);
  assert.equal(first.openDescriptors, 0);
  sim.restart(server);
  await sim.runFor(10);
  assert.notEqual(server.kernel, first);
  assert.deepEqual(fds, [1, 1]); // the same numbers: the table started empty again
  assert.equal(server.kernel.openDescriptors, 2);
});

Deno.test("setLink with oneWay sets one direction only", async () => {
  using sim = createSimNetwork({ seed: 9, link: { latency: 10 } });
  const server = sim.addHost("server");
  let accepted = -1;
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    accepted = os.now();
  });
  let connected = -1;
  const client = sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    connected = os.now();
  });
  sim.setLink(client, server, { latency: 50, oneWay: true });
  await sim.run();
  await sim.runFor(100);
  // SYN 50 ms, SYN-ACK 10 ms, ACK 50 ms.
  assert.deepEqual([connected, accepted], [60, 110]);
});

Deno.test("virtual time keeps epollPwait2's nanoseconds", async () => {
  using sim = createSimNetwork({ seed: 10 });
  const at: number[] = [];
  sim.client("h", async (os) => {
    const ep = os.epollCreate1(0);
    assert.equal(await os.epollPwait2(ep, [], 1, { sec: 0, nsec: 1500 }), 0);
    at.push(os.now(), sim.now());
  });
  await sim.run();
  assert.deepEqual(at, [0.0015, 0.0015]);
});

Deno.test("restart refuses a host that was neither killed nor crashed, and spawn one whose program runs", async () => {
  using sim = createSimNetwork({ seed: 11 });
  const server = sim.addHost("server");
  let starts = 0;
  sim.spawn(server, async (os) => {
    starts++;
    simListen(os, 80);
    await os.sleep(1000);
  });
  await sim.runFor(10);
  assert.throws(() => sim.restart(server), /server is running: kill or crash it first/);
  assert.throws(() => sim.spawn(server, () => {}), /server is running/);
  await sim.run();
  assert.equal(starts, 1);
  sim.kill(server);
  sim.restart(server);
  await sim.runFor(10);
  assert.equal(starts, 2);
});

Deno.test("setLink jitter adds up to jitter ms per segment, drawn per segment", async () => {
  using sim = createSimNetwork({ seed: 12, link: { latency: 10, jitter: 20 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  const at: number[] = [];
  for (let i = 0; i < 8; i++) {
    sim.client(`c${i}`, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      at.push(os.now());
    });
  }
  await sim.run();
  assert.ok(at.every((t) => t >= 20 && t <= 60), `${at}`); // two trips of 10 + [0, 20] ms
  assert.ok(new Set(at).size > 1, `${at}`);
});
