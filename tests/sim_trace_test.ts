// The trace's call records: every call a host's program makes, through
// host.os, through plain mod.ts imports (ambient) or through the object
// layer, is one record {host, call(args) = result}, in order, made once;
// the process's own kernel is never traced; checkDeterminism names the
// first differing call when a host reads the real clock or Math.random.
import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  EAGAIN,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  eventfd,
  listen,
  read,
  SOCK_STREAM,
  socket,
  write,
} from "../mod.ts";
import { Epoll, Socket } from "../mod.ts";
import { checkDeterminism, createSimNetwork, type SimNetwork } from "../sim.ts";

/** The host's call records, as `call(args) = result` lines. */
function calls(sim: SimNetwork, host: string): string[] {
  return sim.trace.filter((e) => e.host === host && e.kind === "call").map((e) => e.text);
}

/** A server written against mod.ts only: one connection, echo one message, close. */
async function ambientEchoServer(): Promise<void> {
  const lfd = socket(AF_INET, SOCK_STREAM, 0);
  bind(lfd, { family: AF_INET, address: "0.0.0.0", port: 7 });
  listen(lfd, 8);
  const ep = epollCreate1(0);
  epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: lfd });
  const out: EpollEvent[] = [];
  await epollWait(ep, out, 4, -1);
  const c = accept(lfd);
  epollCtl(ep, EPOLL_CTL_ADD, c, { events: EPOLLIN, data: c });
  await epollWait(ep, out, 4, -1);
  const buf = new Uint8Array(64);
  const n = read(c, buf);
  write(c, buf.subarray(0, n));
  close(c);
  close(lfd);
  close(ep);
}

Deno.test("a host main that uses plain mod.ts imports produces one call record per call, in order", async () => {
  using sim = createSimNetwork({ seed: 1, link: { latency: 5 } });
  sim.spawn(sim.addHost("server"), ambientEchoServer);
  sim.client("client", async (os) => {
    using s = Socket.connect({ family: AF_INET, address: os.resolve("server")!, port: 7 });
    using ep = new Epoll();
    ep.add(s.fd, EPOLLOUT);
    await ep.wait();
    assert.equal(s.write(new TextEncoder().encode("hello")), 5);
    ep.modify(s.fd, EPOLLIN);
    await ep.wait();
    const buf = new Uint8Array(64);
    assert.equal(s.read(buf), 5);
  });
  await sim.run();
  assert.deepEqual(calls(sim, "server"), [
    "socket(2, 1, 0) = 0",
    "bind(0, 0.0.0.0:7) = 0",
    "listen(0, 8) = 0",
    "epollCreate1(0) = 1",
    "epollCtl(1, 1, 0, {events: 1}) = 0",
    "epollWait(1, [1], 4, -1) = 1",
    "accept(0) = 2",
    "epollCtl(1, 1, 2, {events: 1}) = 0",
    "epollWait(1, [1], 4, -1) = 1",
    "read(2, [64 bytes]) = 5",
    "write(2, [5 bytes]) = 5",
    "close(2) = 0",
    "close(0) = 0",
    "close(1) = 0",
  ]);
  // The object layer's methods are the calls they make, each recorded once.
  const client = calls(sim, "client");
  assert.equal(client[0], "socket(2, 1, 0) = 0");
  assert.match(client[1], /^connect\(0, 10\.0\.0\.1:7\) = -115$/);
  assert.ok(client.some((c) => /^write\(0, \[5 bytes\]\) = 5$/.test(c)), client.join("\n"));
  assert.ok(client.some((c) => /^read\(0, \[64 bytes\]\) = 5$/.test(c)), client.join("\n"));
  assert.equal(client.at(-1), "close(0) = 0");
  // Each record names its host; the call records and the segments interleave in time order.
  const at = sim.trace.map((e) => e.at);
  assert.deepEqual(at, [...at].sort((a, b) => a - b));
});

Deno.test("host.os calls and ambient calls give the same records, once each (accept is not also accept4)", async () => {
  const run = async (viaOs: boolean) => {
    using sim = createSimNetwork({ seed: 2 });
    sim.client("h", async (os) => {
      const fd = viaOs ? os.eventfd(0, 0) : eventfd(0, 0);
      const buf = new Uint8Array(8);
      assert.equal(viaOs ? os.read(fd, buf) : read(fd, buf), -EAGAIN);
      const lfd = viaOs ? os.socket(AF_INET, SOCK_STREAM, 0) : socket(AF_INET, SOCK_STREAM, 0);
      assert.equal(viaOs ? os.accept(lfd) : accept(lfd), -22);
      assert.throws(() => viaOs ? os.read(fd, "x" as never) : read(fd, "x" as never), TypeError);
      await os.sleep(3);
      using ep = new Epoll();
      assert.deepEqual(await ep.wait(1, 10), []);
    });
    await sim.run();
    return calls(sim, "h");
  };
  const expected = [
    "eventfd(0, 0) = 0",
    "read(0, [8 bytes]) = -11",
    "socket(2, 1, 0) = 1",
    "accept(1) = -22",
    'read(0, "x") = throws TypeError',
    "sleep(3) = 0",
    "epollCreate1(0) = 2",
    "epollPwait2(2, [0], 1, 0s10000000ns, signal) = 0",
    "close(2) = 0",
  ];
  assert.deepEqual(await run(true), expected);
  assert.deepEqual(await run(false), expected);
});

Deno.test("the process's own kernel is not traced while a simulated network runs", async () => {
  using sim = createSimNetwork({ seed: 3 });
  sim.client("h", async (os) => {
    os.close(os.eventfd(0, 0));
    await os.sleep(1);
  });
  const running = sim.run();
  const fd = eventfd(0, 0); // the process's kernel, during the run
  assert.equal(close(fd), 0);
  await running;
  assert.deepEqual(calls(sim, "h"), ["eventfd(0, 0) = 0", "close(0) = 0", "sleep(1) = 0"]);
  assert.ok(sim.trace.every((e) => e.host !== "default"));
});

/** A host whose ambient wait timeout comes from `draw()`. */
function drawingHost(draw: () => number) {
  return async (sim: SimNetwork) => {
    sim.client("h", async () => {
      const ep = epollCreate1(0);
      for (let i = 0; i < 3; i++) await epollWait(ep, [], 1, 1 + Math.floor(draw() % 50));
      close(ep);
    });
    return (await sim.run()).seed;
  };
}

Deno.test("checkDeterminism names the first differing call when a host reads Math.random or the real clock", async () => {
  for (const draw of [() => Math.random() * 1e6, () => performance.now() * 1e3]) {
    await assert.rejects(checkDeterminism(drawingHost(draw), { seed: 4 }), (e: Error) => {
      assert.match(e.message, /not deterministic: trace event \d+ differs/);
      assert.match(e.message, /first run: +\d+ms h call epollWait\(0, \[0\], 1, \d+\) = 0/);
      assert.match(e.message, /second run: \d+ms h call epollWait\(0, \[0\], 1, \d+\) = 0/);
      return true;
    });
  }
  // The host's own seeded stream is deterministic.
  let os: { random(): number } | undefined;
  const seeded = (sim: SimNetwork) => {
    sim.addHost("seeded");
    os = sim.addHost("draws").os;
    return drawingHost(() => os!.random() * 1e6)(sim);
  };
  assert.equal(await checkDeterminism(seeded, { seed: 4 }), 4);
});
