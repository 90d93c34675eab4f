// UDP on simulated hosts: the call surface and errno answers of a kernel UDP
// socket (bind, connect, AF_UNSPEC, the flags, empty datagrams, the batch
// calls), readiness through the readiness core, netstat and the module-level
// calls in a host; at exact virtual times. Faults, ICMP and receive-buffer
// drops: sim_udp_faults_test.ts.
import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  DatagramSocket,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAGAIN,
  EDESTADDRREQ,
  EINVAL,
  EMSGSIZE,
  ENOTCONN,
  EPIPE,
  Epoll,
  EPOLL_CTL_ADD,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  EV_ADD,
  EVFILT_READ,
  type KEvent,
  MSG_DONTWAIT,
  MSG_PEEK,
  MSG_TRUNC,
  type RecvMessage,
  SHUT_WR,
  SO_REUSEADDR,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { createSimNetwork } from "../sim.ts";
import { inet4, kev, simDrain, simRecvFrom, simServerClient, simUdp, simWait } from "./_helpers.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("a datagram across a 10 ms link arrives at 10 ms with its sender; the reply at 20 ms", async () => {
  using sim = createSimNetwork({ seed: 1, link: { latency: 10 } });
  const seen: unknown[] = [];
  simServerClient(sim, async (os) => {
    const fd = simUdp(os, 53);
    const d = await simRecvFrom(os, fd);
    seen.push(d);
    const [address, port] = d.from.split(":");
    assert.equal(os.sendto(fd, bytes(9, ...d.data), 0, inet4(address, +port)), 3);
  }, async (os, srv) => {
    const fd = simUdp(os);
    const name = {} as SockAddr;
    assert.equal(os.getsockname(fd, name), 0);
    assert.deepEqual(name, inet4("0.0.0.0", 0));
    assert.equal(await simWait(os, fd, EPOLLOUT | EPOLLIN, 0), EPOLLOUT); // always writable
    assert.equal(os.sendto(fd, bytes(1, 2), 0, inet4(srv, 53)), 2);
    os.getsockname(fd, name); // autobound: the wildcard and an ephemeral port
    const port = (name as { port: number }).port;
    assert.ok(port >= 32768 && port <= 60999);
    assert.equal((name as { address: string }).address, "0.0.0.0");
    const r = await simRecvFrom(os, fd);
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
    const a = simUdp(os, 5000);
    const b = os.socket(AF_INET, SOCK_DGRAM, 0);
    assert.equal(os.send(b, bytes(1), 0), -EDESTADDRREQ);
    assert.equal(os.write(b, bytes(1)), -EDESTADDRREQ);
    assert.equal(os.sendto(b, new Uint8Array(65508), 0, inet4("10.0.0.1", 5000)), -EMSGSIZE);
    assert.equal(os.sendto(b, new Uint8Array(65507), 0, inet4("10.0.0.1", 5000)), 65507);
    assert.equal(os.sendto(b, bytes(1), 0, inet4("10.0.0.1", 0)), -EINVAL);
    const c = os.socket(AF_INET, SOCK_DGRAM, 0);
    assert.equal(os.bind(c, inet4("0.0.0.0", 5000)), -EADDRINUSE);
    assert.equal(os.bind(c, inet4("10.9.9.9", 5001)), -EADDRNOTAVAIL);
    assert.equal(os.bind(c, inet4("10.0.0.1", 5001)), 0);
    assert.equal(os.bind(c, inet4("10.0.0.1", 5002)), -EINVAL); // bound already
    const t = os.socket(AF_INET, SOCK_STREAM, 0); // TCP has its own ports
    assert.equal(os.bind(t, inet4("0.0.0.0", 5000)), 0);
    const r1 = os.socket(AF_INET, SOCK_DGRAM, 0), r2 = os.socket(AF_INET, SOCK_DGRAM, 0);
    for (const r of [r1, r2]) os.setsockopt(r, SOL_SOCKET, SO_REUSEADDR, 1);
    assert.equal(os.bind(r1, inet4("0.0.0.0", 6000)), 0);
    assert.equal(os.bind(r2, inet4("0.0.0.0", 6000)), 0); // both SO_REUSEADDR
    assert.equal(os.getpeername(a, {} as SockAddr), -ENOTCONN);
    assert.equal(os.shutdown(a, SHUT_WR), -ENOTCONN); // shut anyway
    assert.equal(os.sendto(a, bytes(1), 0, inet4("10.0.0.1", 5001)), -EPIPE);
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
    assert.equal(os.connect(fd, inet4("10.0.0.1", 7)), 0);
    const port = name().split(":")[1];
    assert.equal(name(), `10.0.0.2:${port}`); // the route's source, an ephemeral port
    const peer = {} as SockAddr;
    assert.equal(os.getpeername(fd, peer), 0);
    assert.deepEqual(peer, inet4("10.0.0.1", 7));
    assert.equal(os.send(fd, bytes(1), 0), 1);
    assert.equal(os.connect(fd, { family: AF_UNSPEC }), 0);
    assert.equal(name(), "0.0.0.0:0"); // autobound: the port is gone
    assert.equal(os.send(fd, bytes(1), 0), -EDESTADDRREQ);
    os.close(fd);
    fd = simUdp(os, 4000);
    assert.equal(os.connect(fd, inet4("127.0.0.1", 7)), 0);
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
    const a = simUdp(os, 9000), b = simUdp(os);
    assert.equal(os.connect(b, inet4("127.0.0.1", 9000)), 0);
    const out = [{ buf: bytes(1, 2, 3, 4) }, { buf: new Uint8Array(0) }, { buf: bytes(7) }];
    assert.equal(os.sendmmsg(b, out, 0), 3);
    await os.sleep(1); // three arrivals (loopback: each its own event at 0 ms)
    const two = new Uint8Array(2);
    assert.equal(os.recv(a, two, MSG_PEEK | MSG_DONTWAIT), 2); // MSG_DONTWAIT: accepted
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
  simServerClient(sim, async (os) => {
    const fd = simUdp(os, 53);
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
    simDrain(os, fd);
    assert.equal(await simWait(os, fd, EPOLLIN, 0), 0);
    os.close(kq);
    os.close(et);
    os.close(fd);
  }, async (os, srv) => {
    const fd = simUdp(os);
    os.sendto(fd, new Uint8Array(300), 0, inet4(srv, 53));
    await os.sleep(5);
    os.sendto(fd, new Uint8Array(20), 0, inet4(srv, 53));
    os.close(fd);
  });
  await sim.run();
  await sim.runFor(1000);
  assert.deepEqual(seen, [10, 15, 300]);
});

Deno.test("netstat shows UDP rows: UNCONN or ESTABLISHED, the receive buffer's charge as Recv-Q", async () => {
  using sim = createSimNetwork({ seed: 11 });
  sim.client("h", async (os) => {
    const a = simUdp(os, 53);
    const b = os.socket(AF_INET, SOCK_DGRAM, 0);
    os.connect(b, inet4("127.0.0.1", 53));
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
    const d = await simRecvFrom(os, fd);
    assert.deepEqual(d.data, [5]);
    assert.equal(d.from, "::1:53");
    os.close(fd);
  });
  await sim.run();
  assert.equal(sim.netstat().length, 0);
});

Deno.test("DatagramSocket and Epoll, the object layer, run in a host unchanged", async () => {
  using sim = createSimNetwork({ seed: 13, link: { latency: 3 } });
  const got: unknown[] = [];
  const srv = sim.addHost("srv");
  sim.spawn(srv, async () => {
    using server = DatagramSocket.bind({ family: AF_INET, address: "0.0.0.0", port: 53 });
    using ep = new Epoll();
    ep.add(server.fd, EPOLLIN);
    await ep.wait(1, -1);
    const buf = new Uint8Array(16);
    const d = server.receiveFrom(buf)!;
    server.sendTo(buf.subarray(0, d.length), d.from);
  });
  sim.client("cli", async (os) => {
    using client = DatagramSocket.create(AF_INET);
    client.connect({ family: AF_INET, address: srv.addresses[0], port: 53 });
    client.sendTo(bytes(4, 2));
    using ep = new Epoll();
    ep.add(client.fd, EPOLLIN);
    await ep.wait(1, -1);
    const buf = new Uint8Array(16);
    got.push(client.receiveFrom(buf)!.length, [...buf.subarray(0, 2)], os.now());
  });
  await sim.run();
  assert.deepEqual(got, [2, [4, 2], 6]);
});
