/**
 * Moving whole byte streams: reading to EOF or exactly `n` bytes and writing
 * everything, over a Deno conn or a library fd (waiting with epoll), and
 * closing a Deno resource the test may already have closed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EAGAIN, EPOLLIN, EPOLLOUT, read, write } from "../../mod.ts";
import { waitFor } from "./_readiness.ts";

/** Closes a Deno resource that the test may already have closed. */
export function closeQuietly(r: { close(): void }): void {
  try {
    r.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
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

/** Writes all of `data` to a Deno conn. */
export async function writeAllDeno(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/** Reads exactly `n` bytes from a library fd, waiting with epoll; fails at EOF. */
export async function libReadExactly(fd: number, n: number, ms = 5000): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = read(fd, out.subarray(off));
    if (r === -EAGAIN) {
      assert.ok((await waitFor(fd, EPOLLIN, ms)) & EPOLLIN, `fd ${fd}: no EPOLLIN`);
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
      assert.ok((await waitFor(fd, EPOLLOUT, ms)) & EPOLLOUT, `fd ${fd}: no EPOLLOUT`);
      continue;
    }
    if (w < 0) throw new Error(`write gave ${w} after ${off} bytes`);
    off += w;
  }
}
