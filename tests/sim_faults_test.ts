// Each fault of SPEC-sim.md: what a program sees, at exact virtual times.
import assert from "node:assert/strict";
import {
  ECONNREFUSED,
  ECONNRESET,
  EPOLLIN,
  EPOLLOUT,
  ETIMEDOUT,
  SHUT_WR,
  SO_ERROR,
  SOL_SOCKET,
} from "../mod.ts";
import { createSimNetwork, type SimNetwork, type SimOs } from "../sim.ts";
import {
  ALL_EVENTS,
  assertBytes,
  pattern,
  simAccept,
  simConnect,
  simListen,
  simReadAll,
  simWait,
  simWriteAll,
} from "./_helpers.ts";

/** A server that accepts one connection and hands it to `body`; a client connected to it. */
function pair(
  sim: SimNetwork,
  server: (os: SimOs, fd: number) => Promise<void>,
  client: (os: SimOs, fd: number) => Promise<void>,
): void {
  const s = sim.addHost("server");
  sim.spawn(s, async (os) => {
    await server(os, await simAccept(os, 80));
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, s.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    await client(os, fd);
  });
}

/** Reads exactly `n` bytes and returns them with the virtual time the last one came. */
async function readN(os: SimOs, fd: number, n: number): Promise<{ data: Uint8Array; at: number }> {
  const data = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = os.read(fd, data.subarray(off));
    if (r > 0) off += r;
    else if (r === -11) await simWait(os, fd, EPOLLIN);
    else throw new Error(`read gave ${r}`);
  }
  return { data, at: os.now() };
}

Deno.test("setLink: latency ranges and jitter delay segments but keep their order", async () => {
  using sim = createSimNetwork({ seed: 1 });
  const data = pattern(50_000);
  let got: Uint8Array = new Uint8Array(0);
  pair(sim, async (os, fd) => {
    got = (await simReadAll(os, fd)).data;
  }, async (os, fd) => {
    for (let off = 0; off < data.length; off += 1000) {
      await simWriteAll(os, fd, data.subarray(off, off + 1000));
      await os.sleep(1);
    }
    os.close(fd);
    await os.sleep(5000);
  });
  sim.setLink("server", "client", { latency: { min: 5, max: 50 }, jitter: 10 });
  await sim.run();
  assertBytes(got, data);
  const deliveries = sim.trace.filter((e) => e.kind === "deliver" && e.host === "server");
  const seqs = deliveries.map((e) => Number(/seq=(\d+)/.exec(e.text)![1]));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "a link never reorders by itself");
  assert.equal(sim.trace.filter((e) => e.kind === "drop").length, 0);
});

Deno.test("setLink duplicate: duplicated segments never duplicate bytes", async () => {
  using sim = createSimNetwork({ seed: 2 });
  const data = pattern(30_000, 2);
  let got: Uint8Array = new Uint8Array(0);
  pair(sim, async (os, fd) => {
    got = (await simReadAll(os, fd)).data;
  }, async (os, fd) => {
    await simWriteAll(os, fd, data);
    os.close(fd);
    await os.sleep(5000);
  });
  sim.setLink("server", "client", { duplicate: 0.5 });
  await sim.run();
  assertBytes(got, data);
  const texts = sim.trace.filter((e) => e.kind === "deliver").map((e) => e.text);
  assert.ok(new Set(texts).size < texts.length, "some segment was delivered twice");
});

Deno.test("a partition repaired within the retry budget: the connection survives and the bytes arrive after the repair", async () => {
  using sim = createSimNetwork({ seed: 3, link: { latency: 10 } });
  let arrived = -1;
  pair(sim, async (os, fd) => {
    arrived = (await readN(os, fd, 5000)).at;
  }, async (os, fd) => {
    await os.sleep(100);
    await simWriteAll(os, fd, pattern(5000));
    await os.sleep(60_000);
  });
  await sim.runFor(50);
  sim.partition("server", "client");
  await sim.runFor(10_000);
  assert.equal(arrived, -1);
  assert.deepEqual(sim.netstat().map((r) => r.state).sort(), [
    "ESTABLISHED",
    "ESTABLISHED",
    "LISTEN",
  ]);
  sim.repair("server", "client");
  await sim.run();
  assert.ok(arrived > 10_050, `arrived at ${arrived}`);
  assert.ok(sim.trace.some((e) => e.kind === "drop" && e.text.startsWith("partition")));
});

Deno.test("a partition never repaired: the writer's retries run out and it gets ETIMEDOUT", async () => {
  using sim = createSimNetwork({ seed: 4, link: { latency: 10 } });
  let failedAt = -1;
  pair(sim, async (os) => {
    await os.sleep(2_000_000);
  }, async (os, fd) => {
    await os.sleep(100);
    sim.partition("server", "client");
    assert.equal(os.write(fd, pattern(100)), 100);
    const m = await simWait(os, fd, EPOLLIN);
    failedAt = os.now();
    assert.ok(m & EPOLLIN);
    assert.equal(os.getsockopt(fd, SOL_SOCKET, SO_ERROR), ETIMEDOUT);
  });
  await sim.run();
  // Written at 120 ms; the RTO is the handshake's 20 ms RTT + rtoMin = 220 ms, doubling
  // (capped at 120 s) over 15 retransmissions and one last timeout: 220 x 1023 + 6 x 120,000.
  assert.equal(failedAt, 120 + 220 * 1023 + 6 * 120_000);
  const retrans = sim.trace.filter((e) => e.kind === "drop" && / len=100$/.test(e.text));
  assert.equal(retrans.length, 16); // the first send and 15 retransmissions
});

Deno.test("a one-way partition drops one direction only", async () => {
  using sim = createSimNetwork({ seed: 5, link: { latency: 10 } });
  const got: string[] = [];
  pair(sim, async (os, fd) => {
    await os.sleep(50);
    os.write(fd, new TextEncoder().encode("down"));
    await os.sleep(1000);
  }, async (os, fd) => {
    await os.sleep(20); // the server has accepted
    sim.partition("client", "server", { oneWay: true });
    os.write(fd, new TextEncoder().encode("up"));
    const r = await readN(os, fd, 4);
    got.push(new TextDecoder().decode(r.data));
  });
  await sim.run();
  assert.deepEqual(got, ["down"]);
  assert.ok(sim.trace.some((e) => e.kind === "drop" && / len=2$/.test(e.text)));
  assert.ok(!sim.trace.some((e) => e.kind === "drop" && / len=4$/.test(e.text)));
});

Deno.test("hold keeps segments and release delivers them in order, at the release", async () => {
  using sim = createSimNetwork({ seed: 6, link: { latency: 10 } });
  const data = pattern(10_000, 6);
  let r: { data: Uint8Array; at: number } | null = null;
  pair(sim, async (os, fd) => {
    r = await readN(os, fd, data.length);
  }, async (os, fd) => {
    await simWriteAll(os, fd, data);
    await os.sleep(10_000);
  });
  await sim.runFor(20);
  sim.hold("server", "client");
  await sim.runFor(150);
  assert.equal(r, null);
  sim.release("server", "client");
  await sim.run();
  assertBytes(r!.data, data);
  assert.equal(r!.at, 170); // held segments land at the release; their ACKs flow at once
});

Deno.test("isolate cuts a host off from every other; heal undoes it", async () => {
  using sim = createSimNetwork({ seed: 7, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  const at: number[] = [];
  for (const name of ["a", "b"]) {
    sim.client(name, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      at.push(os.now());
    });
  }
  sim.isolate("server");
  await sim.runFor(2000);
  assert.deepEqual(at, []);
  sim.heal();
  await sim.run();
  assert.deepEqual(at, [3020, 3020]); // the SYN retransmissions of 3 s
});

Deno.test("sim.reset puts an RST at both ends, each at its delivery time", async () => {
  using sim = createSimNetwork({ seed: 8, link: { latency: 10 } });
  const seen: string[] = [];
  pair(sim, async (os, fd) => {
    await simWait(os, fd, EPOLLIN);
    seen.push(`server ${os.read(fd, new Uint8Array(4))} ${os.now()}`);
  }, async (os, fd) => {
    await os.sleep(100);
    sim.reset("client", fd);
    await simWait(os, fd, EPOLLIN);
    seen.push(`client ${os.read(fd, new Uint8Array(4))} ${os.now()}`);
  });
  await sim.run();
  seen.sort();
  assert.deepEqual(seen, [`client ${-ECONNRESET} 130`, `server ${-ECONNRESET} 130`]);
});

Deno.test("kill closes every descriptor as close() would: FIN, RST where bytes were unread, RST to later SYNs; TIME_WAIT stays", async () => {
  using sim = createSimNetwork({ seed: 9, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    for (;;) {
      await simWait(os, lfd, EPOLLIN);
      os.accept(lfd);
    }
  });
  const results: string[] = [];
  sim.client("quiet", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    results.push(`quiet ${(await simReadAll(os, fd)).end}`); // EOF: the kernel's FIN
    os.close(fd);
  });
  sim.client("talker", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    os.write(fd, pattern(10)); // never read by the server
    results.push(`talker ${(await simReadAll(os, fd)).end}`);
  });
  await sim.runFor(100);
  sim.kill(server);
  await sim.run();
  results.sort();
  assert.deepEqual(results, ["quiet 0", `talker ${-ECONNRESET}`]);
  await sim.runFor(100);
  assert.deepEqual(sim.netstat("server").map((r) => [r.fd, r.state]), [[-1, "TIME_WAIT"]]);
  // The kernel lives on: a new SYN is refused.
  let refused = -1;
  sim.client("late", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, ALL_EVENTS);
    refused = os.getsockopt(fd, SOL_SOCKET, SO_ERROR);
  });
  await sim.run();
  assert.equal(refused, ECONNREFUSED);
  await sim.runFor(60_000);
  assert.deepEqual(sim.netstat("server"), []);
});

Deno.test("crash leaves peers half-open, then a restart runs main again and old connections get RST", async () => {
  using sim = createSimNetwork({ seed: 10, link: { latency: 10 } });
  let starts = 0;
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    starts++;
    const lfd = simListen(os, 80);
    for (;;) {
      await simWait(os, lfd, EPOLLIN);
      os.accept(lfd);
    }
  });
  let end = 0;
  let fresh = -1;
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    await os.sleep(1000); // the server crashes meanwhile: nothing tells us
    assert.equal(sim.netstat("client")[0].state, "ESTABLISHED");
    await os.sleep(1000); // ... and restarts
    os.write(fd, pattern(3));
    end = (await simReadAll(os, fd)).end;
    const again = simConnect(os, server.addresses[0], 80);
    await simWait(os, again, ALL_EVENTS);
    fresh = os.getsockopt(again, SOL_SOCKET, SO_ERROR);
  });
  await sim.runFor(500);
  sim.crash(server);
  assert.deepEqual(sim.netstat("server"), []);
  await sim.runFor(1000);
  sim.restart(server);
  await sim.run();
  assert.equal(starts, 2);
  assert.equal(end, -ECONNRESET);
  assert.equal(fresh, 0);
});

Deno.test("pause stops the program while its kernel acknowledges until the window fills; resume lets it read everything", async () => {
  using sim = createSimNetwork({ seed: 11, link: { latency: 10 } });
  const { sndbuf, rcvbuf } = sim.knobs;
  let total = 0;
  let readAt = -1;
  let got = 0;
  pair(sim, async (os, fd) => {
    const r = await simReadAll(os, fd);
    readAt = os.now();
    got = r.data.length;
    os.close(fd);
  }, async (os, fd) => {
    const chunk = new Uint8Array(1000);
    for (;;) {
      const w = os.write(fd, chunk);
      if (w > 0) total += w;
      else if ((await simWait(os, fd, EPOLLOUT, 3000)) === 0) break;
    }
    total += Math.max(0, os.write(fd, new Uint8Array(sndbuf))); // the room left, writable or not
    assert.equal(total, sndbuf + rcvbuf);
    os.shutdown(fd, SHUT_WR);
    assert.equal((await simReadAll(os, fd)).end, 0); // the server read it all and closed
  });
  await sim.runFor(25);
  sim.pause("server");
  await sim.runFor(10_000);
  assert.equal(readAt, -1);
  assert.equal(sim.netstat("server").find((r) => r.state === "ESTABLISHED")!.recvQ, rcvbuf);
  assert.equal(sim.netstat("client")[0].sendQ, sndbuf); // written, not yet acknowledged
  sim.resume("server");
  await sim.run();
  assert.equal(got, sndbuf + rcvbuf);
  assert.ok(readAt >= 10_025);
});

Deno.test("a rule drops or delays chosen segments until it is removed", async () => {
  using sim = createSimNetwork({ seed: 12, link: { latency: 10 } });
  const server = sim.addHost("server");
  sim.spawn(server, (os) => void simListen(os, 80));
  const removeDelay = sim.rule((s) => s.from === "server" ? { delay: 100 } : "pass");
  const removeDrop = sim.rule((s) => s.from === "b" && s.seq % 2 >= 0 ? "drop" : "pass");
  const at: Record<string, number> = {};
  for (const name of ["a", "b"]) {
    sim.client(name, async (os) => {
      const fd = simConnect(os, server.addresses[0], 80);
      await simWait(os, fd, EPOLLOUT);
      at[name] = os.now();
    });
  }
  await sim.runFor(500);
  assert.deepEqual(at, { a: 120 });
  removeDrop();
  removeDelay();
  await sim.run();
  assert.deepEqual(at, { a: 120, b: 1020 });
});

Deno.test("heal releases what hold kept, in order", async () => {
  using sim = createSimNetwork({ seed: 13, link: { latency: 10 } });
  const data = pattern(10_000, 13);
  let r: { data: Uint8Array; at: number } | null = null;
  pair(sim, async (os, fd) => {
    r = await readN(os, fd, data.length);
  }, async (os, fd) => {
    await simWriteAll(os, fd, data);
    await os.sleep(10_000);
  });
  await sim.runFor(20);
  sim.hold("client", "server");
  await sim.runFor(300);
  assert.equal(r, null);
  sim.heal();
  await sim.run();
  assertBytes(r!.data, data);
  assert.equal(r!.at, 320); // held segments land at the heal
});

Deno.test("every fault is in the trace, in the order it was made", async () => {
  using sim = createSimNetwork({ seed: 14 });
  const a = sim.addHost("a"), b = sim.addHost("b");
  sim.spawn(a, (os) => os.sleep(10));
  await sim.runFor(1);
  sim.setLink(a, b, { latency: 3 });
  sim.partition(a, b, { oneWay: true });
  sim.repair(a, b, { oneWay: true });
  sim.hold(a, b);
  sim.release(a, b);
  sim.isolate(a);
  sim.heal();
  sim.rule(() => "pass")();
  sim.pause(a);
  sim.resume(a);
  sim.kill(a);
  sim.restart(a);
  sim.crash(b);
  await sim.run();
  assert.deepEqual(sim.trace.filter((e) => e.kind === "fault").map((e) => `${e.host} ${e.text}`), [
    'sim setLink a b {"latency":3}',
    "sim partition a b oneWay",
    "sim repair a b oneWay",
    "sim hold a b",
    "sim release a b",
    "sim isolate a",
    "sim heal",
    "sim rule added (1)",
    "sim rule removed",
    "a pause",
    "a resume",
    "a kill",
    "a restart",
    "b crash",
  ]);
});
