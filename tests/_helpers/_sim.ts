/**
 * The simulated network's hosts seen from a test (tests/sim_*_test.ts):
 * TCP listen, accept, connect, waits on virtual time and whole streams; UDP
 * sockets, receives and drains; a server and a client host.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
} from "../../mod.ts";
import type { SimNetwork, SimOs } from "../../sim.ts";
import { ALL_EVENTS } from "./_readiness.ts";

// ---- The simulated network (tests/sim_*_test.ts) ---------------------------

/** A listening simulated socket on `port` of the host that runs `os`. */
export function simListen(os: SimOs, port: number, backlog = 128): number {
  const fd = os.socket(AF_INET, SOCK_STREAM, 0);
  assert.equal(os.bind(fd, { family: AF_INET, address: "0.0.0.0", port }), 0);
  assert.equal(os.listen(fd, backlog), 0);
  return fd;
}

/** Listens on `port` of the host that runs `os`, waits for a connection and accepts it. */
export async function simAccept(os: SimOs, port: number): Promise<number> {
  const lfd = simListen(os, port);
  await simWait(os, lfd, EPOLLIN);
  return os.accept(lfd);
}

/** A simulated socket connecting to `address:port` (connect gave `-EINPROGRESS`). */
export function simConnect(os: SimOs, address: string, port: number): number {
  const fd = os.socket(AF_INET, SOCK_STREAM, 0);
  assert.equal(os.connect(fd, { family: AF_INET, address, port }), -EINPROGRESS);
  return fd;
}

/** A host fd's readiness now for `events` (every bit by default), or 0. */
export async function simReadiness(os: SimOs, fd: number, events = ALL_EVENTS): Promise<number> {
  return await simWait(os, fd, events, 0);
}

/** Waits (virtual `ms`, -1 forever) until `fd` reports something for `events`; the mask or 0. */
export async function simWait(os: SimOs, fd: number, events: number, ms = -1): Promise<number> {
  const ep = os.epollCreate1(0);
  try {
    assert.equal(os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await os.epollWait(ep, out, 1, ms);
    assert.ok(n >= 0, `epollWait gave ${n}`);
    return n === 0 ? 0 : out[0].events;
  } finally {
    os.close(ep);
  }
}

/** Reads until EOF (or an error, returned with the bytes) from a host fd. */
export async function simReadAll(
  os: SimOs,
  fd: number,
): Promise<{ data: Uint8Array; end: number }> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = os.read(fd, buf);
    if (r === -EAGAIN) {
      await simWait(os, fd, EPOLLIN | EPOLLRDHUP);
      continue;
    }
    if (r <= 0) {
      const len = chunks.reduce((a, c) => a + c.length, 0);
      const data = new Uint8Array(len);
      let off = 0;
      for (const c of chunks) {
        data.set(c, off);
        off += c.length;
      }
      return { data, end: r };
    }
    chunks.push(buf.slice(0, r));
  }
}

/** Writes all of `data` to a host fd, waiting for `EPOLLOUT` when the buffer is full. */
export async function simWriteAll(os: SimOs, fd: number, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const w = os.write(fd, data.subarray(off));
    if (w === -EAGAIN) {
      await simWait(os, fd, EPOLLOUT);
      continue;
    }
    if (w < 0) throw new Error(`write gave ${w} after ${off} bytes`);
    off += w;
  }
}

// ---- UDP on the simulated network (tests/sim_udp*_test.ts) -----------------

/** A UDP socket on `port` (0: none, unbound) of the host that runs `os`. */
export function simUdp(os: SimOs, port = 0, address = "0.0.0.0"): number {
  const fd = os.socket(AF_INET, SOCK_DGRAM, 0);
  assert.ok(fd >= 0, `socket gave ${fd}`);
  if (port !== 0) assert.equal(os.bind(fd, { family: AF_INET, address, port }), 0);
  return fd;
}

/** Receives one datagram (waiting for it): its bytes, sender and the virtual time. */
export async function simRecvFrom(
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
export function simDrain(os: SimOs, fd: number): number[] {
  const out: number[] = [];
  const buf = new Uint8Array(2048);
  for (let n = os.recv(fd, buf, 0); n >= 0; n = os.recv(fd, buf, 0)) {
    out.push(n === 0 ? -1 : buf[0]);
  }
  return out;
}

/** An IPv4 address as a `SockAddr`. */
export function inet4(address: string, port: number): SockAddr {
  return { family: AF_INET, address, port };
}

/** A server host "srv" whose main is `server`, and a client host "cli" whose main is `client`. */
export function simServerClient(
  sim: SimNetwork,
  server: (os: SimOs) => Promise<void>,
  client: (os: SimOs, srv: string) => Promise<void>,
): void {
  const s = sim.addHost("srv");
  sim.spawn(s, server);
  sim.client("cli", (os) => client(os, s.addresses[0]));
}
