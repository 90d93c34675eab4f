/**
 * A bounded FIFO of bytes in a ring buffer: the storage behind pipes,
 * socketpairs and the TCP receive and send buffers.
 *
 * Data lives in `buf[head, head + length)`, wrapping at `end`: the end of
 * `buf`, except while a direct read was given the free space at the front
 * because the space after the held bytes was too short for it (a bip
 * buffer's watermark): `buf[end, capacity)` then lies unused until the
 * bytes before it are consumed. The ring grows by doubling, up to `limit`,
 * only when the free space cannot take a push; it never moves bytes
 * otherwise, so a Deno write in flight on {@linkcode ByteQueue.view} and a
 * Deno read in flight into the region {@linkcode ByteQueue.reserve}
 * returned both stay valid while the program pushes or shifts around them.
 * Growth copies into a fresh buffer and leaves the old one intact for the
 * operation in flight.
 *
 * Invariants (tests/byte_queue_test.ts checks them against a plain array):
 * - `end <= capacity`, and `head < end` while bytes are held.
 * - The held bytes are `buf[head, min(head + length, end))`, then, if
 *   `head + length > end`, `buf[0, head + length - end)`.
 * - `end < capacity` only while `head + length >= end`: the next byte goes
 *   to the front. Consuming past `end` (or emptying the queue unpinned)
 *   puts `end` back at the storage's end.
 *
 * @module
 */

/** Smallest storage allocated once bytes arrive. */
const MIN_CAPACITY = 256;

/** Internal storage helper; not exported from `mod.ts`. */
export class ByteQueue {
  /**
   * The storage: always a whole `ArrayBuffer` of its own (offset 0), so a
   * view of it is made as `new Uint8Array(buf.buffer, offset, length)`,
   * which V8 makes faster than `subarray` (1.2x in `deno task bench`, group
   * "a view of a byte queue's storage"): the views of every message, the
   * read's target, the write's source, the copy out.
   */
  #buf: Uint8Array;
  #head = 0;
  #len = 0;
  /** Where the held bytes wrap: the storage's end, or the watermark (module doc). */
  #end: number;
  /** Most bytes held at once. */
  limit: number;
  /**
   * While true, a Deno operation holds a view of the storage: the queue
   * never rewinds its head to 0 (which would move where new bytes go), and
   * `trim` leaves the storage alone.
   */
  pinned = false;

  constructor(limit: number, initial = 0) {
    this.limit = limit;
    this.#buf = new Uint8Array(Math.min(initial, limit));
    this.#end = this.#buf.length;
  }

  /** Bytes held. */
  get length(): number {
    return this.#len;
  }

  /** Bytes that may still be added before the limit. */
  get room(): number {
    return Math.max(0, this.limit - this.#len);
  }

  /** Size of the storage currently allocated. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Copies as much of `src` as fits; returns the count. */
  push(src: Uint8Array): number {
    const n = Math.min(src.length, this.room);
    if (n === 0) return 0;
    this.#ensure(n);
    const buf = this.#buf;
    const end = this.#end;
    const head = this.#head;
    let tail = head + this.#len;
    // Before `end`: free up to it, then from 0; after the wrap: up to the head.
    let first = n;
    if (tail < end) first = Math.min(n, end - tail);
    else tail -= end;
    buf.set(first === src.length ? src : src.subarray(0, first), tail);
    if (first < n) buf.set(src.subarray(first, n), 0);
    this.#len += n;
    return n;
  }

  /** Copies up to `dst.length` bytes out, consuming them; returns the count. */
  shift(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.#len);
    if (n === 0) return 0;
    const buf = this.#buf;
    const head = this.#head;
    const first = Math.min(n, this.#end - head);
    dst.set(new Uint8Array(buf.buffer, head, first));
    if (first < n) dst.set(new Uint8Array(buf.buffer, 0, n - first), first);
    this.consume(n);
    return n;
  }

  /**
   * The oldest held bytes that are contiguous in storage (all of them unless
   * they wrap), as a view valid until the next change.
   */
  view(): Uint8Array {
    const head = this.#head;
    return new Uint8Array(this.#buf.buffer, head, Math.min(this.#len, this.#end - head));
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.#len -= n;
    if (this.#len === 0 && !this.pinned) {
      this.#head = 0;
      this.#end = this.#buf.length;
      return;
    }
    this.#head += n;
    if (this.#head >= this.#end) {
      // Past the wrap (and past a watermark, which ends with it).
      this.#head -= this.#end;
      this.#end = this.#buf.length;
    }
  }

  /**
   * Returns the free space after the held bytes, contiguous in storage, for
   * a direct read: at most `n` bytes and at least 1 while there is room.
   * The storage grows (within `limit`) when the free space is smaller than
   * `n`. Where the space after the held bytes is shorter than `n` and the
   * space before them is longer, the read gets the front (and `end` marks
   * where the held bytes stop): a read cut short there would be filled by
   * its message, and a read that fills its buffer costs the next one a
   * system call that finds nothing (Deno's I/O driver, tokio, takes a short
   * read as "drained", a full one as "maybe more"): with 1 KiB messages in
   * a 4 KiB ring, every fourth read. Call {@linkcode ByteQueue.commit} with
   * the count read; push nothing while that read is in flight.
   */
  reserve(n: number): Uint8Array {
    n = Math.min(n, this.room);
    if (n === 0) return this.#buf.subarray(0, 0);
    this.#ensure(n);
    const buf = this.#buf;
    const len = this.#len;
    if (len === 0 && !this.pinned) {
      // Nothing held, nothing in flight: start at the front.
      this.#head = 0;
      this.#end = buf.length;
    }
    const head = this.#head;
    const end = this.#end;
    let tail = head + len;
    if (tail >= end) {
      tail -= end; // wrapped: free up to the head
      return new Uint8Array(buf.buffer, tail, Math.min(head - tail, n));
    }
    if (end - tail < n && head > end - tail && len > 0) {
      // The front is longer: the held bytes stop at `tail`.
      this.#end = tail;
      return new Uint8Array(buf.buffer, 0, Math.min(head, n));
    }
    return new Uint8Array(buf.buffer, tail, Math.min(end - tail, n));
  }

  /** Marks `n` bytes written into the view from {@linkcode ByteQueue.reserve} as held. */
  commit(n: number): void {
    this.#len += n;
  }

  /** Frees the storage when empty and larger than `keep` bytes. */
  trim(keep: number): void {
    if (this.#len === 0 && !this.pinned && this.#buf.length > keep) {
      this.#buf = new Uint8Array(keep);
      this.#head = 0;
      this.#end = keep;
    }
  }

  /** Grows the storage so that `n` more bytes fit (callers keep `n <= room`). */
  #ensure(n: number): void {
    const old = this.#buf;
    const len = this.#len;
    // The free space a push can use: a watermark's unused tail is not.
    if (this.#end - len >= n) return;
    let cap = Math.max(old.length, MIN_CAPACITY);
    while (cap - len < n) cap *= 2;
    cap = Math.max(Math.min(cap, this.limit), len + n);
    const next = new Uint8Array(cap);
    const head = this.#head;
    const first = Math.min(len, this.#end - head);
    next.set(old.subarray(head, head + first));
    if (first < len) next.set(old.subarray(0, len - first), first);
    this.#buf = next;
    this.#head = 0;
    this.#end = cap;
  }
}
