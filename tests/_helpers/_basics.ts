/**
 * Small things every kind of test uses: an errno matcher, sleeping, a
 * seeded PRNG and byte patterns, comparing byte arrays, and the 8-byte
 * counters eventfd and timerfd read and write.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrnoError, read } from "../../mod.ts";

/** An `assert.throws` / `assert.rejects` matcher: an {@linkcode ErrnoError} with `errno` `code`. */
export function errno(code: number): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ErrnoError && e.errno === code;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The 8 bytes of `v` in host (little-endian) order, as eventfd takes them;
 * with `size`/`offset`, inside a larger buffer that starts `offset` bytes
 * into its backing store.
 */
export function u64(v: bigint, size = 8, offset = 0): Uint8Array {
  const buf = new Uint8Array(size + offset).subarray(offset);
  new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, v, true);
  return buf;
}

/**
 * Reads an eventfd or timerfd counter: the 8-byte value, or what `read`
 * returned instead (`-errno`, or a short count).
 */
export function readU64(fd: number): bigint | number {
  const buf = new Uint8Array(8);
  const n = read(fd, buf);
  return n === 8 ? new DataView(buf.buffer).getBigUint64(0, true) : n;
}

/**
 * mulberry32: a small, fast, seedable PRNG, so a randomized test
 * reproduces from its seed. Returns numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
