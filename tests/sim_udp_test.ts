// UDP on simulated hosts: the call surface and errno answers of a kernel UDP
// socket, the sim's faults applied per datagram, ICMP port unreachable,
// readiness through the readiness core, netstat and the trace; at exact
// virtual times.
import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAGAIN,
  ECONNREFUSED,
  EDESTADDRREQ,
  EINVAL,
  EMSGSIZE,
  ENOTCONN,
  EPIPE,
  EPOLL_CTL_ADD,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  EV_ADD,
  EVFILT_READ,
  type KEvent,
  MSG_PEEK,
  MSG_TRUNC,
  type RecvMessage,
  SHUT_WR,
  SO_RCVBUF,
  SO_REUSEADDR,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { checkDeterminism, createSimNetwork, type SimNetwork, type SimOs } from "../sim.ts";
import { kev, simWait } from "./_helpers.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

/** A UDP socket on `port` (0: none, unbound) of the host that runs `os`. */
function udp(os: SimOs, port = 0, address = "0.0.0.0"): number {
  const fd = os.socket(AF_INET, SOCK_DGRAM, 0);
  assert.ok(fd >= 0, `socket gave ${fd}`);
  if (port !== 0) assert.equal(os.bind(fd, { family: AF_INET, address, port }), 0);
  return fd;
}

/** Receives one datagram (waiting for it): its bytes, sender and the virtual time. */
async function recvOne(
  os: SimOs,
  fd: number,
  size = 2048,
): Promise<{ data: number[]; from: string; at: number }> {
  const buf = new Uint8Array(size);
  const from = {} as SockAddr;
  for (;;) {
    const n = os.recvfrom(fd, buf, 0, from);
    if (n === -EAGAIN) {
      await simWait(os, fd, EPOLLIN);
      continue;
    }
    assert.ok(n >= 0, `recvfrom gave ${n}`);
    const f = from as { address: string; port: number };
    return { data: [...buf.subarray(0, n)], from: `${f.address}:${f.port}`, at: os.now() };
  }
}

/** Every datagram queued now, as their first bytes. */
function drain(os: SimOs, fd: number): number[] {
  const out: number[] = [];
  const buf = new Uint8Array(2048);
  for (let n = os.recv(fd, buf, 0); n >= 0; n = os.recv(fd, buf, 0)) {
    out.push(n === 0 ? -1 : buf[0]);
  }
  return out;
}

function to(address: string, port: number): SockAddr {
  return { family: AF_INET, address, port };
}

/** A server host "srv" whose main is `server`, and a client host "cli" whose main is `client`. */
function hosts(
  sim: SimNetwork,
  server: (os: SimOs) => Promise<void>,
  client: (os: SimOs, srv: string) => Promise<void>,
): void {
  const s = sim.addHost("srv");
  sim.spawn(s, server);
  sim.client("cli", (os) => client(os, s.addresses[0]));
}

Deno.test("a datagram across a 10 ms link arrives at 10 ms with its sender; the reply at 20 ms", async () => {
  using sim = createSimNetwork({ seed: 1, link: { latency: 10 } });
  const seen: unknown[] = [];
  hosts(sim, async (os) => {
    const fd = udp(os, 53);
    const d = await recvOne(os, fd);
    seen.push(d);
    const [address, port] = d.from.split(":");
    assert.equal(os.sendto(fd, bytes(9, ...d.data), 0, to(address, +port)), 3);
  }, async (os, srv) => {
    const fd = udp(os);
    const name = {} as SockAddr;
    assert.equal(os.getsockname(fd, name), 0);
    assert.deepEqual(name, to("0.0.0.0", 0));
    assert.equal(await simWait(os, fd, EPOLLOUT | EPOLLIN, 0), EPOLLOUT); // always writable
    assert.equal(os.sendto(fd, bytes(1, 2), 0, to(srv, 53)), 2);
    os.getsockname(fd, name); // autobound: the wildcard and an ephemeral port
    const port = (name as { port: number }).port;
    assert.ok(port >= 32768 && port <= 60999);
    assert.equal((name as { address: string }).address, "0.0.0.0");
    const r = await recvOne(os, fd);
    seen.push(r, port);
  });
  await sim.run();
  const [atServer, atClient, port] = seen as [{ from: string }, unknown, number];
  assert.deepEqual(atServer, { data: [1, 2], from: `10.0.0.2:${port}`, at: 10 });
  assert.deepEqual(atClient, { data: [9, 1, 2], from: "10.0.0.1:53", at: 20 });
});

Deno.test("the errno surface: EDESTADDRREQ, EMSGSIZE, EINVAL, EADDRINUSE, EADDRNOTAVAIL, ENOTCONN, EPIPE", async () => {
  using sim = createSimNetwork({ seed: 2 });
  sim.client("h", (os) => {
    const a = udp(os, 5000);
    const b = os.socket(AF_INET, SOCK_DGRAM, 0);
    assert.equal(os.send(b, bytes(1), 0), -EDESTADDRREQ);
    assert.equal(os.write(b, bytes(1)), -EDESTADDRREQ);
    assert.equal(os.sendto(b, new Uint8Array(65508), 0, to("10.0.0.1", 5000)), -EMSGSIZE);
    assert.equal(os.sendto(b, new Uint8Array(65507), 0, to("10.0.0.1", 5000)), 65507);
    assert.equal(os.sendto(b, bytes(1), 0, to("10.0.0.1", 0)), -EINVAL);
    const c = os.socket(AF_INET, SOCK_DGRAM, 0);
    assert.equal(os.bind(c, to("0.0.0.0", 5000)), -EADDRINUSE);
    assert.equal(os.bind(c, to("10.9.9.9", 5001)), -EADDRNOTAVAIL);
    assert.equal(os.bind(c, to("10.0.0.1", 5001)), 0);
    assert.equal(os.bind(c, to("10.0.0.1", 5002)), -EINVAL); // bound already
    const t = os.socket(AF_INET, SOCK_STREAM, 0); // TCP has its own ports
    assert.equal(os.bind(t, to("0.0.0.0", 5000)), 0);
    const r1 = os.socket(AF_INET, SOCK_DGRAM, 0), r2 = os.socket(AF_INET, SOCK_DGRAM, 0);
    for (const r of [r1, r2]) os.setsockopt(r, SOL_SOCKET, SO_REUSEADDR, 1);
    assert.equal(os.bind(r1, to("0.0.0.0", 6000)), 0);
    assert.equal(os.bind(r2, to("0.0.0.0", 6000)), 0); // both SO_REUSEADDR
    assert.equal(os.getpeername(a, {} as SockAddr), -ENOTCONN);
    assert.equal(os.shutdown(a, SHUT_WR), -ENOTCONN); // shut anyway
    assert.equal(os.sendto(a, bytes(1), 0, to("10.0.0.1", 5001)), -EPIPE);
    for (const fd of [a, b, c, t, r1, r2]) os.close(fd);
    return Promise.resolve();
  });
  await sim.run();
});

Deno.test("connect fixes the peer and the route's source; AF_UNSPEC forgets what bind did not name", async () => {
  using sim = createSimNetwork({ seed: 3 });
  sim.addHost("peer");
  sim.client("h", (os) => {
    const name = () => {
      const a = {} as SockAddr;
      os.getsockname(fd, a);
      return `${(a as { address: string }).address}:${(a as { port: number }).port}`;
    };
    let fd = os.socket(AF_INET, SOCK_DGRAM, 0);
    assert.equal(os.connect(fd, to("10.0.0.1", 7)), 0);
    const port = name().split(":")[1];
    assert.equal(name(), `10.0.0.2:${port}`); // the route's source, an ephemeral port
    const peer = {} as SockAddr;
    assert.equal(os.getpeername(fd, peer), 0);
    assert.deepEqual(peer, to("10.0.0.1", 7));
    assert.equal(os.send(fd, bytes(1), 0), 1);
    assert.equal(os.connect(fd, { family: AF_UNSPEC }), 0);
    assert.equal(name(), "0.0.0.0:0"); // autobound: the port is gone
    assert.equal(os.send(fd, bytes(1), 0), -EDESTADDRREQ);
    os.close(fd);
    fd = udp(os, 4000);
    assert.equal(os.connect(fd, to("127.0.0.1", 7)), 0);
    assert.equal(name(), "127.0.0.1:4000");
    assert.equal(os.connect(fd, { family: AF_UNSPEC }), 0);
    assert.equal(name(), "0.0.0.0:4000"); // bind named the port, not the address
    os.close(fd);
    return Promise.resolve();
  });
  await sim.run();
});

Deno.test("MSG_PEEK, MSG_TRUNC, empty datagrams, a read of nothing, recvmmsg and sendmmsg", async () => {
  using sim = createSimNetwork({ seed: 4 });
  sim.client("h", async (os) => {
    const a = udp(os, 9000), b = udp(os);
    assert.equal(os.connect(b, to("127.0.0.1", 9000)), 0);
    const out = [{ buf: bytes(1, 2, 3, 4) }, { buf: new Uint8Array(0) }, { buf: bytes(7) }];
    assert.equal(os.sendmmsg(b, out, 0), 3);
    await os.sleep(1); // three arrivals (loopback: each its own event at 0 ms)
    const two = new Uint8Array(2);
    assert.equal(os.recv(a, two, MSG_PEEK), 2);
    assert.equal(os.recv(a, two, MSG_PEEK | MSG_TRUNC), 4); // the real length
    assert.equal(os.read(a, new Uint8Array(0)), 0); // takes nothing
    assert.equal(os.recv(a, two, 0), 2); // the rest is discarded
    const slots: RecvMessage[] = [0, 1, 2].map(() => ({ buf: new Uint8Array(8) }));
    assert.equal(os.recvmmsg(a, slots, 0), 2);
    assert.deepEqual(slots.slice(0, 2).map((s) => [s.length, s.flags]), [[0, 0], [1, 0]]);
    const from = slots[0].addr as { address: string; port: number };
    const mine = {} as SockAddr;
    os.getsockname(b, mine);
    assert.deepEqual(from, mine);
    assert.equal(os.recv(a, two, 0), -EAGAIN);
    os.close(a);
    os.close(b);
  });
  await sim.run();
});

Deno.test("readiness: LT holds EPOLLIN while a datagram is queued, ET fires per arrival, EVFILT_READ gives the next size", async () => {
  using sim = createSimNetwork({ seed: 5, link: { latency: 10 } });
  const seen: unknown[] = [];
  hosts(sim, async (os) => {
    const fd = udp(os, 53);
    const et = os.epollCreate1(0);
    os.epollCtl(et, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: fd });
    const kq = os.kqueue();
    const kevs: KEvent[] = [];
    await os.kevent(kq, [kev(fd, EVFILT_READ, EV_ADD)], [], 0, null);
    const evs: EpollEvent[] = [];
    for (let i = 0; i < 2; i++) { // nothing is read: each arrival is an edge of its own
      assert.equal(await os.epollWait(et, evs, 4, -1), 1);
      seen.push(os.now());
    }
    assert.equal(await os.epollWait(et, evs, 4, 100), 0);
    assert.equal(await simWait(os, fd, EPOLLIN, 0), EPOLLIN); // LT: still there
    assert.equal(await os.kevent(kq, [], kevs, 4, { sec: 0, nsec: 0 }), 1);
    seen.push(kevs[0].data); // the next datagram's size
    drain(os, fd);
    assert.equal(await simWait(os, fd, EPOLLIN, 0), 0);
    os.close(kq);
    os.close(et);
    os.close(fd);
  }, async (os, srv) => {
    const fd = udp(os);
    os.sendto(fd, new Uint8Array(300), 0, to(srv, 53));
    await os.sleep(5);
    os.sendto(fd, new Uint8Array(20), 0, to(srv, 53));
    os.close(fd);
  });
  await sim.run();
  await sim.runFor(1000);
  assert.deepEqual(seen, [10, 15, 300]);
});

Deno.test("SO_RCVBUF bounds the receive queue: arrivals that do not fit are dropped, an empty queue takes one", async () => {
  using sim = createSimNetwork({ seed: 6 });
  const seen: unknown[] = [];
  hosts(sim, async (os) => {
    const fd = udp(os, 53);
    os.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 4096); // 8192
    await os.sleep(100); // 20 small datagrams come meanwhile, each charged 832
    seen.push(sim.netstat("srv")[0].recvQ, drain(os, fd).length);
    await os.sleep(100); // one of 60,000 bytes: more than the buffer, but the queue is empty
    seen.push(drain(os, fd).length);
    os.close(fd);
  }, async (os, srv) => {
    const fd = udp(os);
    for (let i = 0; i < 20; i++) os.sendto(fd, new Uint8Array(100), 0, to(srv, 53));
    await os.sleep(150);
    os.sendto(fd, new Uint8Array(60_000), 0, to(srv, 53));
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
  hosts(sim, () => Promise.resolve(), async (os, srv) => {
    const c = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(c, to(srv, 53));
    const u = udp(os);
    assert.equal(os.send(c, bytes(1), 0), 1);
    assert.equal(os.sendto(u, bytes(1), 0, to(srv, 53)), 1);
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
    const fd = udp(os, 53);
    for (;;) {
      const d = await recvOne(os, fd);
      got.push([d.data[0], d.at]);
    }
  });
  const send = (tag: number, len = 1) =>
    c.os.sendto(fd, new Uint8Array(len).fill(tag), 0, to(s.addresses[0], 53));
  let fd = -1;
  sim.spawn(c, () => {
    fd = udp(c.os);
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
  const drops = sim.trace.filter((e) => e.kind === "drop").map((e) => e.text.split(" ")[0]);
  assert.deepEqual(drops, ["loss", "partition", "partition"]);
  sim.dispose();
});

Deno.test("under jitter datagrams may overtake each other (UDP keeps no order); without it they keep it", async () => {
  for (const jitter of [0, 50]) {
    using sim = createSimNetwork({ seed: 9, link: { latency: 10, jitter } });
    const order: number[] = [];
    hosts(sim, async (os) => {
      const fd = udp(os, 53);
      while (order.length < 20) order.push((await recvOne(os, fd)).data[0]);
    }, (os, srv) => {
      const fd = udp(os);
      for (let i = 0; i < 20; i++) os.sendto(fd, bytes(i), 0, to(srv, 53));
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
    const fd = udp(os, 53);
    for (;;) {
      const d = await recvOne(os, fd);
      const [address, port] = d.from.split(":");
      os.sendto(fd, bytes(d.data[0] + 100), 0, to(address, +port));
    }
  });
  const seen: unknown[] = [];
  sim.client("cli", async (os) => {
    const fd = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(fd, to(s.addresses[0], 53));
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

Deno.test("netstat shows UDP rows: UNCONN or ESTABLISHED, the receive buffer's charge as Recv-Q", async () => {
  using sim = createSimNetwork({ seed: 11 });
  sim.client("h", async (os) => {
    const a = udp(os, 53);
    const b = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(b, to("127.0.0.1", 53));
    os.send(b, bytes(1, 2, 3), 0);
    await simWait(os, a, EPOLLIN);
    const rows = sim.netstat("h").map((r) => [r.proto, r.fd, r.local, r.peer, r.state, r.recvQ]);
    const port = (rows[1][2] as string).split(":")[1];
    assert.deepEqual(rows, [
      ["udp", 0, "0.0.0.0:53", "*:*", "UNCONN", 832],
      ["udp", 1, `127.0.0.1:${port}`, "127.0.0.1:53", "ESTABLISHED", 0],
    ]);
    os.close(a);
    os.close(b);
  });
  await sim.run();
});

Deno.test("the module-level calls inside a spawned main make simulated UDP sockets (IPv6 too)", async () => {
  using sim = createSimNetwork({ seed: 12 });
  sim.client("h", async (os) => {
    const fd = socket(AF_INET6, SOCK_DGRAM, 0);
    assert.ok(fd >= 0);
    assert.equal(os.bind(fd, { family: AF_INET6, address: "::", port: 53 }), 0);
    assert.equal(os.sendto(fd, bytes(5), 0, { family: AF_INET6, address: "::1", port: 53 }), 1);
    const d = await recvOne(os, fd);
    assert.deepEqual(d.data, [5]);
    assert.equal(d.from, "::1:53");
    os.close(fd);
  });
  await sim.run();
  assert.equal(sim.netstat().length, 0);
});

Deno.test("the same seed gives the same trace with UDP under loss and duplicates", async () => {
  const build = async (sim: SimNetwork) => {
    const got: number[] = [];
    const s = sim.addHost("srv");
    sim.spawn(s, async (os) => {
      const fd = udp(os, 53);
      for (;;) {
        const d = await recvOne(os, fd);
        got.push(d.data[0]);
        const [address, port] = d.from.split(":");
        os.sendto(fd, bytes(d.data[0]), 0, to(address, +port));
      }
    });
    for (let k = 0; k < 3; k++) {
      sim.client(`c${k}`, async (os) => {
        const fd = udp(os);
        for (let i = 0; i < 20; i++) {
          os.sendto(fd, bytes(k * 20 + i), 0, to(s.addresses[0], 53));
          await simWait(os, fd, EPOLLIN, 50);
          drain(os, fd);
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
