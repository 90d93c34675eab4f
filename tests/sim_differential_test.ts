// The same programs on the simulated network (no faults) and on the native
// backend over loopback: echo, half-close, reset, backpressure and ET
// draining over TCP, and echo, truncation, ICMP port unreachable and ET
// draining over UDP, give the same results and the same readiness sequences.
import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  connect,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  epollWait,
  getsockname,
  Kernel,
  kernelCalls,
  listen,
  MSG_PEEK,
  MSG_TRUNC,
  read,
  recv,
  recvfrom,
  send,
  sendto,
  setsockopt,
  SHUT_WR,
  shutdown,
  SO_RCVBUF,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  socket,
  socketBackendError,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import { createSimNetwork } from "../sim.ts";

/** The readiness `fd` reports for `events` within `ms`, or 0 (a private epoll). */
async function mask(fd: number, events: number, ms = 5000): Promise<number> {
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd });
    const out: EpollEvent[] = [];
    return (await epollWait(ep, out, 1, ms)) === 1 ? out[0].events : 0;
  } finally {
    close(ep);
  }
}

async function readN(fd: number, n: number): Promise<string> {
  let s = "";
  const buf = new Uint8Array(n);
  while (s.length < n) {
    const r = read(fd, buf.subarray(0, n - s.length));
    if (r === -EAGAIN) await mask(fd, EPOLLIN);
    else if (r <= 0) return `${s}<${r}>`;
    else s += new TextDecoder().decode(buf.subarray(0, r));
  }
  return s;
}

const IN = EPOLLIN | EPOLLRDHUP;

/** Waits `ms` (virtual time inside a simulated host): a wait on an empty epoll. */
async function pause(ms: number): Promise<void> {
  const ep = epollCreate1(0);
  await epollWait(ep, [], 1, ms);
  close(ep);
}

/** Waits and reads until the end; the last result (0 at EOF, or -errno). */
async function readEnd(fd: number): Promise<number> {
  const buf = new Uint8Array(4096);
  for (;;) {
    const r = read(fd, buf);
    if (r === -EAGAIN) await mask(fd, IN);
    else if (r <= 0) return r;
  }
}
const text = (s: string) => new TextEncoder().encode(s);

/**
 * A scenario: the server's side (on an accepted fd, or a bound UDP socket)
 * and the client's (on a connected fd); each logs.
 */
interface Scenario {
  name: string;
  /** `SOCK_STREAM` (the default) or `SOCK_DGRAM`. */
  type?: number;
  server(fd: number, log: unknown[]): Promise<void>;
  client(fd: number, log: unknown[]): Promise<void>;
  /** Makes the logs comparable across backends (buffer sizes differ). */
  compare?(server: unknown[], client: unknown[]): unknown[][];
  /** UDP: the server's side runs (and closes its socket) before the client's starts. */
  closed?: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: "echo",
    async server(fd, log) {
      log.push(await mask(fd, IN), await readN(fd, 5));
      log.push(write(fd, text("hello")));
      log.push(await readEnd(fd)); // the client closed: EOF
    },
    async client(fd, log) {
      log.push(write(fd, text("hello")), await readN(fd, 5));
      close(fd);
    },
  },
  {
    name: "half-close",
    async server(fd, log) {
      log.push(await readN(fd, 4), await mask(fd, IN | EPOLLHUP), read(fd, new Uint8Array(8)));
      log.push(write(fd, text("bye")), shutdown(fd, SHUT_WR));
    },
    async client(fd, log) {
      log.push(write(fd, text("ping")), shutdown(fd, SHUT_WR), write(fd, text("x")));
      log.push(await readN(fd, 3), await mask(fd, IN | EPOLLHUP), read(fd, new Uint8Array(8)));
    },
  },
  {
    name: "reset",
    async server(fd, log) {
      log.push(await mask(fd, IN));
      close(fd); // "data" is unread: RST
    },
    async client(fd, log) {
      log.push(write(fd, text("data")));
      log.push(await mask(fd, EPOLLERR));
      log.push(read(fd, new Uint8Array(8)), write(fd, text("more")), read(fd, new Uint8Array(8)));
    },
  },
  {
    name: "backpressure",
    async server(fd, log) {
      const first = await readN(fd, 1); // the client starts writing
      await mask(fd, EPOLLIN, 300); // let its buffers fill
      let total = first.length;
      const buf = new Uint8Array(65536);
      for (;;) {
        const r = read(fd, buf);
        if (r > 0) total += r;
        else if (r === -EAGAIN) await mask(fd, IN);
        else break;
      }
      log.push(total);
    },
    async client(fd, log) {
      const chunk = new Uint8Array(65536);
      let total = 0, w = 0;
      while ((w = write(fd, chunk)) > 0) total += w;
      log.push(w);
      const m = await mask(fd, EPOLLOUT | EPOLLET); // the server drains: EPOLLOUT comes back
      log.push(m);
      shutdown(fd, SHUT_WR);
      log.push(total);
    },
    // How much the buffers take differs (Linux autotunes them); that it all arrives does not.
    compare: (server, client) => [[server[0] === client[2]], client.slice(0, 2)],
  },
  {
    name: "ET draining",
    async server(fd, log) {
      const ep = epollCreate1(0);
      epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: fd });
      const out: EpollEvent[] = [];
      const buf = new Uint8Array(1000);
      let total = 0;
      while (total < 100_000) {
        assert.equal(await epollWait(ep, out, 1, 5000), 1);
        for (let r = read(fd, buf); r > 0; r = read(fd, buf)) total += r; // drain to EAGAIN
      }
      log.push(total, await epollWait(ep, out, 1, 200)); // drained: no further edge
      close(ep);
    },
    async client(fd, log) {
      const data = new Uint8Array(100_000);
      let off = 0;
      while (off < data.length) {
        const w = write(fd, data.subarray(off));
        if (w === -EAGAIN) await mask(fd, EPOLLOUT);
        else off += w;
      }
      log.push(off);
      await mask(fd, IN, 1000);
    },
  },
  {
    name: "UDP echo",
    type: SOCK_DGRAM,
    async server(fd, log) {
      log.push(await mask(fd, EPOLLIN));
      const buf = new Uint8Array(16), from = {} as SockAddr;
      const n = recvfrom(fd, buf, 0, from);
      log.push(n, sendto(fd, buf.subarray(0, n), 0, from), await mask(fd, EPOLLIN, 100));
    },
    async client(fd, log) {
      log.push(
        send(fd, text("hello"), 0),
        await mask(fd, EPOLLIN),
        recv(fd, new Uint8Array(16), 0),
      );
      log.push(recv(fd, new Uint8Array(16), 0));
    },
  },
  {
    name: "UDP truncation, MSG_PEEK, MSG_TRUNC and an empty datagram",
    type: SOCK_DGRAM,
    async server(fd, log) {
      await mask(fd, EPOLLIN);
      await pause(50); // the empty one too
      const four = new Uint8Array(4);
      log.push(recv(fd, four, MSG_PEEK), recv(fd, four, MSG_PEEK | MSG_TRUNC), read(fd, four));
      log.push([...four], recv(fd, four, 0), recv(fd, four, 0), await mask(fd, EPOLLIN, 0));
    },
    client(fd, log) {
      log.push(send(fd, text("0123456789"), 0), send(fd, new Uint8Array(0), 0));
      return Promise.resolve();
    },
  },
  {
    name: "UDP to a closed port: ECONNREFUSED on the connected socket",
    type: SOCK_DGRAM,
    server(fd, log) {
      log.push(close(fd)); // the port closes before the client sends
      return Promise.resolve();
    },
    async client(fd, log) {
      log.push(send(fd, text("anyone?"), 0), await mask(fd, EPOLLIN | EPOLLERR));
      log.push(recv(fd, new Uint8Array(8), 0), recv(fd, new Uint8Array(8), 0));
    },
    closed: true,
  },
  {
    name: "UDP ET draining",
    type: SOCK_DGRAM,
    async server(fd, log) {
      const ep = epollCreate1(0);
      epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: fd });
      const out: EpollEvent[] = [];
      const buf = new Uint8Array(100);
      let got = 0;
      while (got < 3) {
        assert.equal(await epollWait(ep, out, 1, 5000), 1);
        for (let r = read(fd, buf); r > 0; r = read(fd, buf)) got++; // drain to EAGAIN
      }
      log.push(got, await epollWait(ep, out, 1, 200)); // drained: no further edge
      close(ep);
    },
    client(fd, log) {
      for (let i = 1; i <= 3; i++) log.push(send(fd, new Uint8Array(i), 0));
      return Promise.resolve();
    },
  },
];

/** Connects a client to `addr` and returns its fd once connected (UDP: at once). */
async function dial(addr: SockAddr, type = SOCK_STREAM): Promise<number> {
  const fd = socket(AF_INET, type, 0);
  if (type === SOCK_DGRAM) {
    assert.equal(connect(fd, addr), 0);
    return fd;
  }
  assert.equal(connect(fd, addr), -EINPROGRESS);
  assert.equal(await mask(fd, EPOLLOUT) & EPOLLOUT, EPOLLOUT);
  return fd;
}

/** Accepts one connection on `lfd` (UDP: the bound socket itself). */
async function take(lfd: number, type = SOCK_STREAM): Promise<number> {
  if (type === SOCK_DGRAM) return lfd;
  await mask(lfd, EPOLLIN);
  const fd = accept(lfd);
  assert.ok(fd >= 0);
  return fd;
}

/** A socket of the scenario's type bound to `address:port`; a TCP one listens. */
function serve(s: Scenario, address: string, port: number): number {
  const fd = socket(AF_INET, s.type ?? SOCK_STREAM, 0);
  assert.equal(bind(fd, { family: AF_INET, address, port }), 0);
  if (s.type !== SOCK_DGRAM) listen(fd, 16);
  return fd;
}

/** Both sides of `s`: the server's on `lfd`, the client's towards `addr`; the two logs. */
async function both(s: Scenario, lfd: number, addr: SockAddr): Promise<unknown[][]> {
  const server: unknown[] = [], client: unknown[] = [];
  const type = s.type ?? SOCK_STREAM;
  const serverSide = take(lfd, type).then(async (fd) => {
    await s.server(fd, server);
    close(fd);
  });
  if (s.closed) await serverSide;
  await Promise.all([
    serverSide,
    dial(addr, type).then(async (fd) => {
      await s.client(fd, client);
      close(fd);
    }),
  ]);
  return [server, client];
}

/** Runs `s` over the native backend on loopback, in a kernel of its own. */
async function onNative(s: Scenario): Promise<unknown[][]> {
  const k = new Kernel({ name: "native" });
  try {
    return await k.run(async () => {
      assert.equal(kernelCalls(k).setSocketBackend("native"), 0);
      const lfd = serve(s, "127.0.0.1", 0);
      const addr = {} as SockAddr;
      getsockname(lfd, addr);
      const logs = await both(s, lfd, addr);
      if (s.type !== SOCK_DGRAM) close(lfd);
      return logs;
    });
  } finally {
    k.shutdown();
  }
}

/** Runs `s` on the simulated network: a server host and a client host. */
async function onSim(s: Scenario): Promise<unknown[][]> {
  using sim = createSimNetwork({ seed: 1 });
  const server: unknown[] = [], client: unknown[] = [];
  const type = s.type ?? SOCK_STREAM;
  const host = sim.addHost("server");
  let serverDone!: () => void;
  const closed = new Promise<void>((r) => serverDone = r);
  sim.spawn(host, async () => {
    const fd = await take(serve(s, "0.0.0.0", 80), type);
    await s.server(fd, server);
    close(fd);
    serverDone();
  });
  sim.client("client", async () => {
    if (s.closed) await closed;
    const fd = await dial({ family: AF_INET, address: host.addresses[0], port: 80 }, type);
    await s.client(fd, client);
    close(fd);
  });
  await sim.run();
  await sim.runFor(1000); // the server's side finishes too
  return [server, client];
}

const native = socketBackendError() === null;
for (const s of SCENARIOS) {
  Deno.test({
    name:
      `${s.name}: the simulated network and the native backend give the same results and events`,
    ignore: !native,
    fn: async () => {
      const cmp = s.compare ?? ((a: unknown[], b: unknown[]) => [a, b]);
      const [rs, rc] = await onNative(s);
      const [ss, sc] = await onSim(s);
      assert.deepEqual(cmp(ss, sc), cmp(rs, rc));
    },
  });
}

/**
 * How many datagrams of each size a UDP socket with `SO_RCVBUF` 65,536
 * (doubled: 131,072) holds when nobody reads: sent on loopback, then
 * counted. On Linux a loopback send queues (or drops) before it returns.
 */
async function held(sizes: number[], pause: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (const size of sizes) {
    const r = serve({ name: "", type: SOCK_DGRAM } as Scenario, "127.0.0.1", 0);
    setsockopt(r, SOL_SOCKET, SO_RCVBUF, 65536);
    const addr = {} as SockAddr;
    getsockname(r, addr);
    const w = socket(AF_INET, SOCK_DGRAM, 0);
    for (let i = 0; i < 400; i++) sendto(w, new Uint8Array(size), 0, addr);
    await pause();
    let n = 0;
    while (recv(r, new Uint8Array(size + 1), 0) >= 0) n++;
    out.push(n);
    close(w);
    close(r);
  }
  return out;
}

Deno.test({
  name: "a full UDP receive buffer drops what the kernel drops: each datagram charged its truesize",
  ignore: !native,
  fn: async () => {
    const sizes = [0, 100, 200, 1000, 1472, 2000, 8000, 16000, 32000, 65000];
    const k = new Kernel({ name: "native" });
    let real: number[];
    try {
      real = await k.run(() => {
        kernelCalls(k).setSocketBackend("native");
        return held(sizes, () => Promise.resolve());
      });
    } finally {
      k.shutdown();
    }
    using sim = createSimNetwork({ seed: 1 });
    let simulated: number[] = [];
    sim.client("h", async (os) => {
      simulated = await held(sizes, () => os.sleep(1));
    });
    await sim.run();
    assert.deepEqual(simulated, real);
  },
});
