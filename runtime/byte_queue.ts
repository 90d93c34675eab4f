/**
 * A bounded FIFO of bytes in one contiguous buffer, the storage behind pipes,
 * socketpairs and the TCP receive and send buffers.
 *
 * Data lives in `buf[start, end)`. It grows by doubling up to `limit` and
 * compacts in place when the tail runs out. While it is *pinned* (a Deno read
 * or write is in flight on a view of the buffer) bytes are never moved inside
 * the buffer: growth copies into a fresh buffer and leaves the old one
 * intact for the operation in flight.
 *
 * @module
 */

/** Internal storage helper; not exported from `mod.ts`. */
export class ByteQueue {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Most bytes held at once. */
  limit: number;
  /** While true, bytes are never moved within the current buffer. */
  pinned = false;

  constructor(limit: number, initial = 0) {
    this.limit = limit;
    this.#buf = new Uint8Array(Math.min(initial, limit));
  }

  /** Bytes held. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** Bytes that may still be added before the limit. */
  get room(): number {
    return Math.max(0, this.limit - this.length);
  }

  /** Size of the storage currently allocated. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Copies as much of `src` as fits; returns the count. */
  push(src: Uint8Array): number {
    const n = Math.min(src.length, this.room);
    if (n === 0) return 0;
    this.reserve(n);
    this.#buf.set(n === src.length ? src : src.subarray(0, n), this.#end);
    this.#end += n;
    return n;
  }

  /** Copies up to `dst.length` bytes out, consuming them; returns the count. */
  shift(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.length);
    if (n === 0) return 0;
    dst.set(this.#buf.subarray(this.#start, this.#start + n));
    this.consume(n);
    return n;
  }

  /** The bytes held, as a view (valid until the next change). */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end && !this.pinned) this.#start = this.#end = 0;
  }

  /**
   * Makes at least `n` bytes of free tail space, by compaction or growth,
   * and returns the free tail as a view for a direct read. Call
   * {@linkcode ByteQueue.commit} with the count read. Callers keep
   * `n <= room`, so the storage stays within `limit`. While a read into that
   * tail is in flight (pinned), nothing may be pushed.
   */
  reserve(n: number): Uint8Array {
    const buf = this.#buf;
    if (buf.length - this.#end < n) {
      const len = this.length;
      if (!this.pinned && buf.length - len >= n && this.#start > 0) {
        buf.copyWithin(0, this.#start, this.#end);
      } else {
        let cap = Math.max(buf.length, 256);
        while (cap - len < n) cap *= 2;
        cap = Math.max(Math.min(cap, this.limit), len + n);
        const next = new Uint8Array(cap);
        next.set(buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = len;
    }
    return this.#buf.subarray(this.#end);
  }

  /** Marks `n` bytes written into the view from {@linkcode ByteQueue.reserve} as held. */
  commit(n: number): void {
    this.#end += n;
  }

  /** Frees the storage when empty and larger than `keep` bytes. */
  trim(keep: number): void {
    if (this.length === 0 && !this.pinned && this.#buf.length > keep) {
      this.#buf = new Uint8Array(keep);
      this.#start = this.#end = 0;
    }
  }
}
