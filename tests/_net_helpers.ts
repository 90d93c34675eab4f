/**
 * Helpers for the loopback tests: listening sockets, epoll waits with a
 * deadline, and Deno peers that read everything.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
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
  getSocketBackend,
  getsockname,
  type InetSockAddr,
  listen,
  read,
  SOCK_STREAM,
  type SockAddr,
  socket,
  write,
} from "../mod.ts";

/**
 * Whether `socket()` makes kernel sockets (the suite runs once per backend:
 * `DENO_EPOLL_BACKEND=native` selects the native one). Where the Deno
 * backend can only approximate Linux, a test states both answers.
 */
export const NATIVE: boolean = getSocketBackend() === "native";

/** A listening library socket on 127.0.0.1 and its address. */
export function listenLoopback(backlog = 128): { fd: number; addr: InetSockAddr } {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  assert.ok(fd >= 0);
  assert.equal(bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 }), 0);
  assert.equal(listen(fd, backlog), 0);
  const addr = {} as SockAddr;
  assert.equal(getsockname(fd, addr), 0);
  assert.equal(addr.family, AF_INET);
  return { fd, addr: addr as InetSockAddr };
}

/** A port on 127.0.0.1 that nothing listens on (found by listening and closing). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Waits on a private epoll until `fd` reports any of `events`, returning the
 * mask. Fails after `ms`.
 */
export async function waitFor(fd: number, events: number, ms = 5000): Promise<number> {
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const n = await epollWait(ep, out, 1, Math.max(1, deadline - Date.now()));
      if (n === 1 && (out[0].events & events) !== 0) return out[0].events;
    }
    throw new Error(`fd ${fd} did not report ${events.toString(16)} within ${ms} ms`);
  } finally {
    close(ep);
  }
}

/** Reads from a Deno conn until EOF; returns everything. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads exactly `n` bytes from a Deno conn (fails at EOF). */
export async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Deterministic test bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads exactly `n` bytes from a library fd, waiting with epoll; fails at EOF. */
export async function libReadExactly(fd: number, n: number, ms = 5000): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = read(fd, out.subarray(off));
    if (r === -EAGAIN) {
      await waitFor(fd, EPOLLIN, ms);
      continue;
    }
    if (r <= 0) throw new Error(`read gave ${r} after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Writes all of `data` to a library fd, waiting for EPOLLOUT when the buffer is full. */
export async function libWriteAll(fd: number, data: Uint8Array, ms = 5000): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const w = write(fd, data.subarray(off));
    if (w === -EAGAIN) {
      await waitFor(fd, EPOLLOUT, ms);
      continue;
    }
    if (w < 0) throw new Error(`write gave ${w} after ${off} bytes`);
    off += w;
  }
}

/**
 * Asserts two byte arrays are equal. (`assert.deepEqual` walks typed arrays
 * element by element in Deno's node polyfill, far too slowly for megabytes.)
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.equal(i, actual.length, `${what}: first difference at byte ${i}`);
}
