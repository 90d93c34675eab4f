/**
 * A connection's send buffer: bytes written and not yet acknowledged, in
 * sequence order, so that any of them can be sent again. `base` is the
 * sequence number of the first byte held.
 *
 * A segment's payload is a copy (the buffer moves its bytes as they are
 * acknowledged), carved out of a shared arena: in Deno 2.9 a fresh small
 * `Uint8Array` (its own backing store) costs several times a view on an
 * existing buffer (`bench/sim_bench.ts payloads`). A payload is written
 * once, before anyone sees it, and never again; an arena lives as long as
 * a payload in it does.
 *
 * @module
 */

/** Bytes per arena; larger payloads get their own copy. */
const ARENA = 1 << 16;
let arena = new Uint8Array(ARENA);
let arenaUsed = 0;

/** A copy of `src[off, off + n)` that nothing will write to again. */
function payload(src: Uint8Array, off: number, n: number): Uint8Array {
  if (n > ARENA >> 4) return src.slice(off, off + n);
  if (arenaUsed + n > ARENA) {
    arena = new Uint8Array(ARENA);
    arenaUsed = 0;
  }
  const at = arenaUsed;
  if (n <= 64) { for (let i = 0; i < n; i++) arena[at + i] = src[off + i]; }
  else arena.set(src.subarray(off, off + n), at);
  arenaUsed += n;
  return arena.subarray(at, at + n);
}

/** Bytes from `base` to `end`, at most `limit` of them. */
export class SendBuffer {
  #buf = new Uint8Array(0);
  #len = 0;

  constructor(public limit: number, public base: number) {}

  /** Bytes held. */
  get length(): number {
    return this.#len;
  }

  /** Free space. */
  get room(): number {
    return Math.max(0, this.limit - this.#len);
  }

  /** Sequence number after the last byte held. */
  get end(): number {
    return this.base + this.#len;
  }

  /** Copies in as much of `src` as fits; returns the count. */
  push(src: Uint8Array): number {
    const n = Math.min(src.length, this.room);
    if (n === 0) return 0;
    if (this.#buf.length < this.#len + n) {
      const next = new Uint8Array(
        Math.max(this.#len + n, Math.min(this.limit, this.#buf.length * 2)),
      );
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(n === src.length ? src : src.subarray(0, n), this.#len);
    this.#len += n;
    return n;
  }

  /** Drops the bytes before sequence number `seq` (acknowledged). */
  ackTo(seq: number): void {
    const n = Math.min(Math.max(0, seq - this.base), this.#len);
    if (n === 0) return;
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
    this.base += n;
  }

  /** A copy of `n` bytes from sequence number `seq`. */
  slice(seq: number, n: number): Uint8Array {
    const off = seq - this.base;
    return payload(this.#buf, off, n);
  }
}
