// The simulated TCP's visible behaviours (SPEC-sim.md "What must be
// visible"), at exact virtual times.
import assert from "node:assert/strict";
import {
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EPIPE,
  EPOLL_CTL_ADD,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  ETIMEDOUT,
  SHUT_WR,
  SO_ERROR,
  SOL_SOCKET,
} from "../mod.ts";
import { createSimNetwork } from "../sim.ts";
import {
  ALL_EVENTS,
  assertBytes,
  pattern,
  simAccept,
  simConnect,
  simListen,
  simReadAll,
  simReadiness,
  simWait,
  simWriteAll,
  TCP_DEAD,
  TCP_IN,
  TCP_OUT,
} from "./_helpers.ts";

Deno.test("a connect across a 10 ms link is EINPROGRESS, silent in SYN_SENT, EPOLLOUT at 20 ms, the listener's EPOLLIN at 30 ms", async () => {
  using sim = createSimNetwork({ seed: 1, link: { latency: 10 } });
  const server = sim.addHost("server");
  let accepted = -1;
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    assert.equal(await simWait(os, lfd, ALL_EVENTS), TCP_IN);
    accepted = os.now();
  });
  let connected = -1;
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    assert.equal(await simReadiness(os, fd), 0);
    await os.sleep(19);
    assert.equal(await simReadiness(os, fd), 0, "no bits while SYN_SENT");
    assert.equal(await simWait(os, fd, ALL_EVENTS), TCP_OUT);
    connected = os.now();
    await os.sleep(20);
  });
  await sim.run();
  assert.equal(connected, 20);
  assert.equal(accepted, 30);
});

Deno.test("a connect to a live host's closed port fails after one round trip with IN|RDHUP|OUT|ERR|HUP and ECONNREFUSED", async () => {
  using sim = createSimNetwork({ seed: 2, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 81);
    assert.equal(await simWait(os, fd, ALL_EVENTS), TCP_DEAD);
    assert.equal(os.now(), 20);
    assert.equal(os.getsockopt(fd, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    assert.equal(await simReadiness(os, fd), TCP_DEAD & ~EPOLLERR);
  });
  await sim.run();
});

Deno.test("a connect to a crashed host hears nothing until ETIMEDOUT at 127 s", async () => {
  using sim = createSimNetwork({ seed: 3, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  sim.client("client", async (os) => {
    await os.sleep(1);
    const fd = simConnect(os, server.addresses[0], 80);
    assert.equal(await simWait(os, fd, ALL_EVENTS, 126_000), 0);
    assert.equal(await simWait(os, fd, ALL_EVENTS), TCP_DEAD);
    assert.equal(os.now(), 127_001);
    assert.equal(os.getsockopt(fd, SOL_SOCKET, SO_ERROR), ETIMEDOUT);
  });
  await sim.runFor(0.5);
  sim.crash(server);
  await sim.run();
  const syns = sim.trace.filter((e) =>
    e.kind === "send" && e.host === "client" && / S /.test(e.text)
  );
  assert.deepEqual(syns.map((e) => e.at), [1, 1001, 3001, 7001, 15001, 31001, 63001]);
});

Deno.test("a restart before the SYN budget runs out lets the next SYN retransmission connect", async () => {
  using sim = createSimNetwork({ seed: 4, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  let connected = -1;
  sim.client("client", async (os) => {
    await os.sleep(1);
    const fd = simConnect(os, server.addresses[0], 80);
    assert.equal(await simWait(os, fd, ALL_EVENTS), TCP_OUT);
    connected = os.now();
  });
  await sim.runFor(0.5);
  sim.crash(server);
  await sim.runFor(4000);
  sim.restart(server);
  await sim.run();
  assert.equal(connected, 7021); // the SYN of 7001 ms, answered
});

Deno.test("with backlog n and a server that never accepts, n + 1 connections complete and later ones wait and retry", async () => {
  using sim = createSimNetwork({ seed: 5, link: { latency: 10 } });
  const server = sim.addHost("server");
  const n = 2;
  let lfd = -1;
  sim.spawn(server, async (os) => {
    lfd = simListen(os, 80, n);
    await os.sleep(2000);
    const got: number[] = [];
    while (got.length < 5) {
      const c = os.accept(lfd);
      if (c >= 0) got.push(c);
      else await simWait(os, lfd, EPOLLIN);
    }
  });
  const at: number[] = [];
  for (let i = 0; i < 5; i++) {
    sim.client(`c${i}`, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      at.push(os.now());
    });
  }
  await sim.runFor(500);
  assert.equal(at.length, n + 1);
  assert.equal(sim.netstat("server").find((r) => r.state === "LISTEN")!.recvQ, n + 1);
  assert.equal(sim.netstat().filter((r) => r.state === "SYN_SENT").length, 5 - (n + 1));
  await sim.run();
  assert.deepEqual(at, [20, 20, 20, 3020, 3020]); // the SYNs of 3 s find room
});

Deno.test("a reader that never reads: the writer gets its send buffer plus the peer's window, then EAGAIN; ET EPOLLOUT returns only at half the queue free", async () => {
  using sim = createSimNetwork({ seed: 6, link: { latency: 10 } });
  const server = sim.addHost("server");
  const { sndbuf, rcvbuf } = sim.knobs;
  let reader = -1;
  let stage = 0;
  sim.spawn(server, async (os) => {
    reader = await simAccept(os, 80);
    while (stage < 1) await os.sleep(100);
    assert.equal(os.read(reader, new Uint8Array(4000)), 4000);
    await os.sleep(1000);
    stage = 2;
    assert.equal(os.read(reader, new Uint8Array(2000)), 2000);
  });
  sim.client("writer", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    const chunk = new Uint8Array(4096);
    let total = 0;
    for (;;) {
      const w = os.write(fd, chunk);
      if (w === -EAGAIN) {
        if ((await simWait(os, fd, EPOLLOUT, 2000)) !== 0) continue;
        // Not writable (less than half the queue free), but a write still takes the room left.
        total += Math.max(0, os.write(fd, new Uint8Array(sndbuf)));
        break;
      }
      total += w;
    }
    assert.equal(total, sndbuf + rcvbuf);
    assert.equal(os.write(fd, chunk), -EAGAIN);
    const ep = os.epollCreate1(0);
    os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT | EPOLLET, data: fd });
    const out: EpollEvent[] = [];
    stage = 1;
    assert.equal(await os.epollWait(ep, out, 1, -1), 1);
    assert.equal(stage, 2, "no EPOLLOUT while 4,000 of 16,384 bytes are free");
    assert.equal(os.write(fd, new Uint8Array(10_000)), 6000);
  });
  await sim.run();
});

Deno.test("a 1 MB/s link moves 10 MB in 10 s plus at most one round trip, byte-exact", async () => {
  using sim = createSimNetwork({ seed: 7, link: { latency: 1, bandwidth: 1_000_000 } });
  const server = sim.addHost("server");
  const data = pattern(10_000_000);
  let got: Uint8Array | null = null;
  let done = -1;
  sim.spawn(server, async (os) => {
    const r = await simReadAll(os, await simAccept(os, 80));
    done = os.now();
    got = r.data;
  });
  let start = -1;
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    start = os.now();
    await simWriteAll(os, fd, data);
    os.close(fd);
  });
  await sim.run({ until: 60_000 });
  while (got === null) await sim.step();
  assertBytes(got, data);
  const elapsed = done - start;
  assert.ok(elapsed >= 10_000 && elapsed <= 10_002, `10 MB took ${elapsed} ms`);
});

Deno.test("30 % loss both ways still delivers every byte in order, later", async () => {
  using sim = createSimNetwork({ seed: 8, link: { latency: 5, loss: 0.3 } });
  const server = sim.addHost("server");
  const data = pattern(200_000, 3);
  let got: Uint8Array | null = null;
  sim.spawn(server, async (os) => {
    got = (await simReadAll(os, await simAccept(os, 80))).data;
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    await simWriteAll(os, fd, data);
    os.close(fd);
    await os.sleep(600_000);
  });
  await sim.run();
  assertBytes(got!, data);
  assert.ok(sim.trace.some((e) => e.kind === "drop" && e.text.startsWith("loss")));
});

Deno.test("a large write arrives in several reads: an ET reader that stops before EAGAIN stalls, one that drains does not", async () => {
  for (const drain of [false, true]) {
    using sim = createSimNetwork({ seed: 9, link: { latency: 10 } });
    const server = sim.addHost("server");
    let total = 0;
    let events = 0;
    sim.spawn(server, async (os) => {
      const fd = await simAccept(os, 80);
      const ep = os.epollCreate1(0);
      os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: fd });
      const out: EpollEvent[] = [];
      const buf = new Uint8Array(1000);
      while ((await os.epollWait(ep, out, 1, 5000)) > 0) {
        events++;
        for (;;) {
          const r = os.read(fd, buf);
          if (r <= 0) break;
          total += r;
          if (!drain) break;
        }
      }
    });
    sim.client("client", async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      assert.equal(os.write(fd, new Uint8Array(16384)), 16384);
      await os.sleep(10_000);
    });
    await sim.run();
    const segments = Math.ceil(16384 / sim.knobs.mss);
    if (drain) assert.equal(total, 16384);
    else {
      assert.equal(events, segments, "one edge per arriving segment");
      assert.equal(total, segments * 1000, "stalled with bytes left");
    }
  }
});

Deno.test("a peer's SHUT_WR gives IN|RDHUP without HUP; a peer closing with unread data gives ECONNRESET, ERR|HUP, then EPIPE", async () => {
  using sim = createSimNetwork({ seed: 10, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const a = os.accept(lfd);
    assert.equal(os.shutdown(a, SHUT_WR), 0);
    await simWait(os, lfd, EPOLLIN);
    const b = os.accept(lfd);
    await simWait(os, b, EPOLLIN);
    os.close(b); // unread bytes: RST
  });
  sim.client("client", async (os) => {
    const a = simConnect(os, server.addresses[0], 80);
    await simWait(os, a, EPOLLOUT);
    assert.equal(await simWait(os, a, EPOLLIN | EPOLLRDHUP | EPOLLHUP), EPOLLIN | EPOLLRDHUP);
    assert.equal(os.read(a, new Uint8Array(8)), 0);
    const b = simConnect(os, server.addresses[0], 80);
    await simWait(os, b, EPOLLOUT);
    assert.equal(os.write(b, new Uint8Array(5)), 5);
    const dead = await simWait(os, b, EPOLLERR, -1);
    assert.equal(dead & (EPOLLERR | EPOLLHUP), EPOLLERR | EPOLLHUP);
    assert.equal(os.read(b, new Uint8Array(8)), -ECONNRESET);
    assert.equal(os.write(b, new Uint8Array(1)), -EPIPE);
    assert.equal(os.read(b, new Uint8Array(8)), 0); // ECONNRESET once: then the end of the stream
  });
  await sim.run();
});
