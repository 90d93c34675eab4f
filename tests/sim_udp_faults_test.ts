// UDP on simulated hosts under the sim's faults, per datagram: loss,
// duplicates, bandwidth, partitions, holds, isolation, rules, reordering
// under jitter, kill/crash/restart, a full receive buffer and ICMP port
// unreachable; determinism under loss and duplicates; at exact virtual times.
import assert from "node:assert/strict";
import {
  AF_INET,
  EAGAIN,
  ECONNREFUSED,
  EPOLLERR,
  EPOLLIN,
  SO_RCVBUF,
  SOCK_DGRAM,
  SOL_SOCKET,
} from "../mod.ts";
import { checkDeterminism, createSimNetwork, type SimNetwork } from "../sim.ts";
import { inet4, simDrain, simRecvFrom, simServerClient, simUdp, simWait } from "./_helpers.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("SO_RCVBUF bounds the receive queue: arrivals that do not fit are dropped, an empty queue takes one", async () => {
  using sim = createSimNetwork({ seed: 6 });
  const seen: unknown[] = [];
  simServerClient(sim, async (os) => {
    const fd = simUdp(os, 53);
    os.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 4096); // 8192
    await os.sleep(100); // 20 small datagrams come meanwhile, each charged 832
    seen.push(sim.netstat("srv")[0].recvQ, simDrain(os, fd).length);
    await os.sleep(100); // one of 60,000 bytes: more than the buffer, but the queue is empty
    seen.push(simDrain(os, fd).length);
    os.close(fd);
  }, async (os, srv) => {
    const fd = simUdp(os);
    for (let i = 0; i < 20; i++) os.sendto(fd, new Uint8Array(100), 0, inet4(srv, 53));
    await os.sleep(150);
    os.sendto(fd, new Uint8Array(60_000), 0, inet4(srv, 53));
    os.close(fd);
  });
  await sim.run();
  await sim.runFor(1000);
  assert.deepEqual(seen, [9 * 832, 9, 1]);
  assert.equal(
    sim.trace.filter((e) => e.kind === "drop" && e.text.includes("receive buffer")).length,
    11,
  );
});

Deno.test("a connected socket's datagram to a closed port gives ECONNREFUSED and EPOLLERR one round trip later; an unconnected one's does not", async () => {
  using sim = createSimNetwork({ seed: 7, link: { latency: 10 } });
  const seen: unknown[] = [];
  simServerClient(sim, () => Promise.resolve(), async (os, srv) => {
    const c = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(c, inet4(srv, 53));
    const u = simUdp(os);
    assert.equal(os.send(c, bytes(1), 0), 1);
    assert.equal(os.sendto(u, bytes(1), 0, inet4(srv, 53)), 1);
    seen.push(await simWait(os, c, EPOLLIN), os.now());
    seen.push(os.recv(c, new Uint8Array(4), 0), os.recv(c, new Uint8Array(4), 0));
    seen.push(await simWait(os, u, EPOLLIN | EPOLLERR, 100));
    assert.equal(os.send(c, bytes(1), 0), 1); // the error was taken; the next ICMP sets it again
    await os.sleep(20);
    seen.push(os.send(c, bytes(1), 0));
    os.close(c);
    os.close(u);
  });
  await sim.run();
  assert.deepEqual(seen, [EPOLLERR, 20, -ECONNREFUSED, -EAGAIN, 0, -ECONNREFUSED]);
  assert.ok(sim.trace.some((e) => e.kind === "send" && e.text.includes("icmp port-unreachable")));
});

Deno.test("faults per datagram: loss, duplicates, bandwidth, partition, hold and release, isolate, rules", async () => {
  using sim = createSimNetwork({ seed: 8, link: { latency: 10 } });
  const got: unknown[] = [];
  const s = sim.addHost("srv");
  const c = sim.addHost("cli");
  const proto: string[] = [];
  sim.spawn(s, async (os) => {
    const fd = simUdp(os, 53);
    for (;;) {
      const d = await simRecvFrom(os, fd);
      got.push([d.data[0], d.at]);
    }
  });
  const send = (tag: number, len = 1) =>
    c.os.sendto(fd, new Uint8Array(len).fill(tag), 0, inet4(s.addresses[0], 53));
  let fd = -1;
  sim.spawn(c, () => {
    fd = simUdp(c.os);
    return Promise.resolve();
  });
  await sim.runFor(1);
  sim.setLink(s, c, { latency: 10, duplicate: 1 });
  send(1); // twice: UDP shows duplicates
  await sim.runFor(20);
  sim.setLink(s, c, { latency: 10, loss: 1 });
  send(2); // lost
  await sim.runFor(20);
  sim.setLink(s, c, { latency: 10, bandwidth: 1000 });
  send(3, 500); // at 41 ms: 0.5 s to serialise, then 10 ms
  await sim.runFor(600);
  sim.setLink(s, c, { latency: 10 });
  sim.partition(s, c);
  send(4); // dropped
  await sim.runFor(20);
  sim.repair(s, c);
  sim.hold(c, s);
  send(5); // at 661 ms, held
  send(6);
  await sim.runFor(100);
  sim.release(c, s); // both now, in order
  await sim.runFor(20);
  sim.isolate(c);
  send(7);
  await sim.runFor(20);
  sim.heal();
  const off = sim.rule((p) => {
    proto.push(p.proto);
    return p.proto === "udp" && p.data[0] === 8 ? { delay: 30 } : "pass";
  });
  send(8); // at 801 ms: 10 ms and the rule's 30
  await sim.runFor(50);
  off();
  assert.deepEqual(got, [[1, 11], [1, 11], [3, 551], [5, 761], [6, 761], [8, 841]]);
  assert.deepEqual(proto, ["udp"]);
  const udp = (kind: string) =>
    sim.trace.filter((e) => e.kind === kind && e.text.includes(" udp "));
  assert.deepEqual([udp("send").length, udp("deliver").length], [8, 6]); // every datagram traced
  const drops = sim.trace.filter((e) => e.kind === "drop").map((e) => e.text.split(" ")[0]);
  assert.deepEqual(drops, ["loss", "partition", "partition"]);
  sim.dispose();
});

Deno.test("under jitter datagrams may overtake each other (UDP keeps no order); without it they keep it", async () => {
  for (const jitter of [0, 50]) {
    using sim = createSimNetwork({ seed: 9, link: { latency: 10, jitter } });
    const order: number[] = [];
    simServerClient(sim, async (os) => {
      const fd = simUdp(os, 53);
      while (order.length < 20) order.push((await simRecvFrom(os, fd)).data[0]);
    }, (os, srv) => {
      const fd = simUdp(os);
      for (let i = 0; i < 20; i++) os.sendto(fd, bytes(i), 0, inet4(srv, 53));
      os.close(fd);
      return Promise.resolve();
    });
    await sim.run();
    await sim.runFor(1000);
    const sorted = [...order].sort((a, b) => a - b);
    assert.deepEqual(sorted, [...Array(20).keys()]);
    if (jitter === 0) assert.deepEqual(order, sorted);
    else assert.notDeepEqual(order, sorted);
  }
});

Deno.test("kill closes a host's UDP sockets (later datagrams get ICMP), crash answers nothing, restart serves again", async () => {
  using sim = createSimNetwork({ seed: 10, link: { latency: 10 } });
  const s = sim.addHost("srv");
  sim.spawn(s, async (os) => {
    const fd = simUdp(os, 53);
    for (;;) {
      const d = await simRecvFrom(os, fd);
      const [address, port] = d.from.split(":");
      os.sendto(fd, bytes(d.data[0] + 100), 0, inet4(address, +port));
    }
  });
  const seen: unknown[] = [];
  sim.client("cli", async (os) => {
    const fd = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(fd, inet4(s.addresses[0], 53));
    const ask = async (tag: number) => {
      os.send(fd, bytes(tag), 0);
      const m = await simWait(os, fd, EPOLLIN, 100);
      const buf = new Uint8Array(4);
      const n = os.recv(fd, buf, 0);
      seen.push([tag, m & EPOLLERR ? "ERR" : m ? "IN" : "-", n > 0 ? buf[0] : n]);
    };
    await ask(1);
    sim.kill(s);
    await ask(2);
    sim.restart(s);
    await os.sleep(1);
    await ask(3);
    sim.crash(s);
    await ask(4);
    os.close(fd);
  });
  await sim.run();
  assert.deepEqual(seen, [[1, "IN", 101], [2, "ERR", -ECONNREFUSED], [3, "IN", 103], [
    4,
    "-",
    -EAGAIN,
  ]]);
});

Deno.test("the same seed gives the same trace with UDP under loss and duplicates", async () => {
  const build = async (sim: SimNetwork) => {
    const got: number[] = [];
    const s = sim.addHost("srv");
    sim.spawn(s, async (os) => {
      const fd = simUdp(os, 53);
      for (;;) {
        const d = await simRecvFrom(os, fd);
        got.push(d.data[0]);
        const [address, port] = d.from.split(":");
        os.sendto(fd, bytes(d.data[0]), 0, inet4(address, +port));
      }
    });
    for (let k = 0; k < 3; k++) {
      sim.client(`c${k}`, async (os) => {
        const fd = simUdp(os);
        for (let i = 0; i < 20; i++) {
          os.sendto(fd, bytes(k * 20 + i), 0, inet4(s.addresses[0], 53));
          await simWait(os, fd, EPOLLIN, 50);
          simDrain(os, fd);
        }
        os.close(fd);
      });
    }
    await sim.run();
    return got;
  };
  await checkDeterminism(build, {
    seed: 42,
    link: { latency: { min: 1, max: 20 }, loss: 0.2, duplicate: 0.2 },
  });
});
