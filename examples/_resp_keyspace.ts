/**
 * The resp_server example's data: string keys to byte values with optional
 * expiry times, a memory bound, and the Redis glob matcher for `KEYS`.
 *
 * Expiry is lazy (a key past its time is deleted when touched) plus a
 * periodic {@linkcode Keyspace.sweep} that the server runs on a timerfd:
 * like Redis's active expiry, each sweep looks at a bounded number of keys
 * with a time to live, resuming where the last one stopped.
 *
 * Keys are "binary strings": one char per byte (0..255), so any bytes make
 * a key and convert back exactly.
 *
 * @module
 */

/**
 * A stored value: a binary string (one char per byte, like the keys) up to
 * {@linkcode STRING_VALUE_MAX} bytes, above that its own copy of the bytes.
 * Small values are strings because a JavaScript string is much cheaper to
 * make than a small `Uint8Array` (measured: ~1.6 µs per 3-byte array copy in
 * a pipelined `MSET`, bench/README.md "RESP"); large ones are bytes because
 * a string cannot hold more than ~512 MiB.
 */
export type Value = string | Uint8Array;

/** Largest value kept as a binary string. */
export const STRING_VALUE_MAX = 4096;

/** One value and when it expires (`performance.now()` ms; 0: never). */
export interface Entry {
  value: Value;
  expiresAt: number;
}

/** Bytes counted per key beyond its key and value (map entry, object). */
const OVERHEAD = 64;

/** A key from bytes, one char per byte. */
export function keyOf(b: Uint8Array): string {
  // One call per 8 KiB: a flat string, which a Map hashes without flattening it first.
  if (b.length <= 8192) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** The keyspace of one database. */
export class Keyspace {
  readonly #map = new Map<string, Entry>();
  /** Keys that have an expiry time, for the sweep. */
  readonly #volatile = new Set<string>();
  #cursor: Iterator<string> | null = null;
  /** Approximate bytes held (keys, values, overhead). */
  used = 0;
  /** Keys deleted because their time passed. */
  expired = 0;

  /** @param maxMemory Writes that would grow past this many bytes fail (0: no bound). */
  constructor(readonly maxMemory: number) {}

  /** Keys held, expired ones not yet swept included (as Redis's DBSIZE). */
  get size(): number {
    return this.#map.size;
  }

  /** Keys with an expiry time. */
  get volatileCount(): number {
    return this.#volatile.size;
  }

  /** The live entry of `key`, deleting it if its time has passed. */
  get(key: string, now = performance.now()): Entry | undefined {
    const e = this.#map.get(key);
    if (e === undefined || e.expiresAt === 0 || e.expiresAt > now) return e;
    this.#expire(key, e);
    return undefined;
  }

  /** Whether storing `bytes` more would pass the memory bound. */
  full(bytes: number): boolean {
    return this.maxMemory > 0 && this.used + bytes > this.maxMemory;
  }

  /** Stores `value` (a copy is the caller's job) with `expiresAt` (0: none). */
  set(key: string, value: Value, expiresAt: number): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.used += value.length - old.value.length;
      old.value = value;
      this.#setExpiry(key, old, expiresAt);
      return;
    }
    const e: Entry = { value, expiresAt: 0 };
    this.#map.set(key, e);
    this.used += key.length + value.length + OVERHEAD;
    this.#setExpiry(key, e, expiresAt);
  }

  /** Sets or clears (0) the expiry time of a live entry. */
  setExpiry(key: string, e: Entry, expiresAt: number): void {
    this.#setExpiry(key, e, expiresAt);
  }

  #setExpiry(key: string, e: Entry, expiresAt: number): void {
    e.expiresAt = expiresAt;
    if (expiresAt === 0) this.#volatile.delete(key);
    else this.#volatile.add(key);
  }

  /** Deletes `key`; true if it was live. */
  delete(key: string, now = performance.now()): boolean {
    const e = this.get(key, now);
    if (e === undefined) return false;
    this.#remove(key, e);
    return true;
  }

  #remove(key: string, e: Entry): void {
    this.#map.delete(key);
    this.#volatile.delete(key);
    this.used -= key.length + e.value.length + OVERHEAD;
  }

  #expire(key: string, e: Entry): void {
    this.#remove(key, e);
    this.expired++;
  }

  /** Deletes everything. */
  clear(): void {
    this.#map.clear();
    this.#volatile.clear();
    this.#cursor = null;
    this.used = 0;
  }

  /** Live keys matching the glob `pattern`. */
  keys(pattern: string, now = performance.now()): string[] {
    const all = pattern === "*";
    const out: string[] = [];
    for (const [key, e] of this.#map) {
      if (e.expiresAt !== 0 && e.expiresAt <= now) continue;
      if (all || globMatch(pattern, key)) out.push(key);
    }
    return out;
  }

  /**
   * Looks at up to `budget` keys that have an expiry time, resuming where
   * the previous sweep stopped, and deletes those past their time. Returns
   * how many it deleted.
   */
  sweep(budget: number, now = performance.now()): number {
    let deleted = 0;
    for (let seen = 0; seen < budget && this.#volatile.size > 0; seen++) {
      this.#cursor ??= this.#volatile.values();
      const next = this.#cursor.next();
      if (next.done) {
        this.#cursor = null;
        if (seen === 0) break;
        continue;
      }
      const e = this.#map.get(next.value);
      if (e !== undefined && e.expiresAt !== 0 && e.expiresAt <= now) {
        this.#expire(next.value, e);
        deleted++;
      }
    }
    return deleted;
  }
}

/**
 * Redis's glob (`stringmatchlen`): `*` any run, `?` one char, `[abc]`,
 * `[^a]`, `[a-z]` sets, `\x` the char x. Backtracks only to the last `*`,
 * so a hostile pattern costs at most pattern x key steps.
 */
export function globMatch(p: string, s: string): boolean {
  let pi = 0, si = 0, starP = -1, starS = 0;
  while (si < s.length) {
    if (pi < p.length) {
      if (p[pi] === "*") {
        starP = pi++;
        starS = si;
        continue;
      }
      const next = matchOne(p, pi, s[si]);
      if (next >= 0) {
        pi = next;
        si++;
        continue;
      }
    }
    if (starP < 0) return false;
    pi = starP + 1;
    si = ++starS;
  }
  while (p[pi] === "*") pi++;
  return pi === p.length;
}

/** If the pattern element at `pi` matches `ch`, the index after it; else -1. */
function matchOne(p: string, pi: number, ch: string): number {
  const c = p[pi];
  if (c === "?") return pi + 1;
  if (c === "\\" && pi + 1 < p.length) return p[pi + 1] === ch ? pi + 2 : -1;
  if (c !== "[") return c === ch ? pi + 1 : -1;
  let i = pi + 1;
  const not = p[i] === "^";
  if (not) i++;
  let match = false;
  for (; i < p.length && p[i] !== "]"; i++) {
    if (p[i] === "\\" && i + 1 < p.length) {
      if (p[++i] === ch) match = true;
    } else if (p[i + 1] === "-" && i + 2 < p.length && p[i + 2] !== "]") {
      let lo = p[i], hi = p[i + 2];
      if (lo > hi) [lo, hi] = [hi, lo];
      if (ch >= lo && ch <= hi) match = true;
      i += 2;
    } else if (p[i] === ch) match = true;
  }
  return match !== not ? i + 1 : -1;
}
