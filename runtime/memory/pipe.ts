/**
 * In-memory pipes (`pipe(2)`) with Linux's buffer and readiness rules
 * (`fs/pipe.c`).
 *
 * - The buffer is Linux's ring of 16 page slots of 4096 bytes. A write first
 *   appends its sub-page remainder (`len % 4096` bytes) to the last slot when
 *   that slot's page has room, then fills new slots a page at a time; a
 *   non-blocking write returns what went in, or `-EAGAIN` when nothing did.
 *   So 64 KiB fit in page-sized writes, fewer in writes that do not merge,
 *   and a write of at most `PIPE_BUF` (4096) bytes is all or nothing.
 * - A read takes bytes slot by slot; a slot is freed when its last byte is
 *   read.
 * - The read end is `EPOLLIN` while a slot holds bytes and `EPOLLHUP` once
 *   the write end is closed (a read then returns 0 after the data).
 * - The write end is `EPOLLOUT` while a slot is free and `EPOLLERR` once the
 *   read end is closed; a write then returns `-EPIPE`.
 * - Wake-ups are Linux's: every write that is not empty raises `EPOLLIN` on
 *   the read end, even one that returns `-EAGAIN` ("epoll nonsensically wants
 *   a wakeup"), so an edge-triggered reader sees each; a read raises
 *   `EPOLLOUT` on the write end only when it frees a slot of a full pipe;
 *   closing one end wakes every watcher of the other.
 *
 * @module
 */

import { Description, type FilterCounts } from "../core/description.ts";
import { EAGAIN, EBADF, EPIPE } from "../core/errno.ts";
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWRNORM,
} from "../core/constants.ts";
import { ByteQueue } from "../core/_byte_queue.ts";
import { installPair } from "../core/fd_table.ts";
import { traced, tracing } from "../core/_call_trace.ts";

/** Linux's `PAGE_SIZE`: the size of one slot. */
const PAGE_SIZE = 4096;
/** Linux's `PIPE_DEF_BUFFERS`: slots in a new pipe. */
const PIPE_SLOTS = 16;
/** Bytes a pipe holds at most (16 full pages). */
export const PIPE_CAPACITY = PAGE_SIZE * PIPE_SLOTS;
/** Writes of at most this many bytes are atomic. */
export const PIPE_BUF = 4096;

/** The shared state of one pipe. */
class PipeCore {
  readonly data = new ByteQueue(PIPE_CAPACITY);
  /** Bytes held by each used slot, oldest first. */
  readonly slotLen: number[] = [];
  /** Where the last slot's bytes end in its page (`offset + len`). */
  lastEnd = 0;
  readerOpen = true;
  writerOpen = true;
  reader!: PipeReadEnd;
  writer!: PipeWriteEnd;

  get full(): boolean {
    return this.slotLen.length >= PIPE_SLOTS;
  }
}

/** The read end of a pipe. */
export class PipeReadEnd extends Description {
  readonly kind = "pipe";
  constructor(readonly core: PipeCore) {
    super();
  }

  poll(): number {
    let mask = this.core.slotLen.length > 0 ? EPOLLIN | EPOLLRDNORM : 0;
    if (!this.core.writerOpen) mask |= EPOLLHUP;
    return mask;
  }

  /** kqueue: bytes buffered; EOF once every write end is closed. */
  override counts(out: FilterCounts): void {
    out.readable = this.core.data.length;
    out.readEof = !this.core.writerOpen;
    out.writable = 0;
    out.writeReady = false;
    out.writeEof = false;
    out.error = 0;
  }

  override read(buf: Uint8Array): number {
    const core = this.core;
    // pipe_read: "Null read succeeds."
    if (buf.length === 0) return 0;
    if (core.slotLen.length === 0) return core.writerOpen ? -EAGAIN : 0;
    let n = 0;
    let wakeWriter = false;
    const slots = core.slotLen;
    while (n < buf.length && slots.length > 0) {
      const chars = Math.min(slots[0], buf.length - n);
      core.data.shift(buf.subarray(n, n + chars));
      n += chars;
      slots[0] -= chars;
      if (slots[0] === 0) {
        // A slot freed in a full pipe wakes the writers (and only that).
        wakeWriter ||= core.full;
        slots.shift();
        if (slots.length === 0) core.lastEnd = 0;
      }
    }
    if (wakeWriter && core.writerOpen) core.writer.raise(EPOLLOUT | EPOLLWRNORM);
    return n;
  }

  /** Not open for writing (`vfs_write` without `FMODE_WRITE`). */
  override write(_buf: Uint8Array): number {
    return -EBADF;
  }

  /** Lets the core raise readiness on this end. */
  raise(events: number, all = false): void {
    this.notify(events, all);
  }

  protected override onRelease(): void {
    this.core.readerOpen = false;
    if (this.core.writerOpen) this.core.writer.raise(0, true);
  }
}

/** The write end of a pipe. */
export class PipeWriteEnd extends Description {
  readonly kind = "pipe";
  constructor(readonly core: PipeCore) {
    super();
  }

  poll(): number {
    let mask = this.core.full ? 0 : EPOLLOUT | EPOLLWRNORM;
    if (!this.core.readerOpen) mask |= EPOLLERR;
    return mask;
  }

  /**
   * kqueue: `data` is the most one write takes whole now: the free slots'
   * pages, plus the room left in the last slot's page, which a write's
   * sub-page remainder merges into (100 bytes in an empty pipe leave 65,436,
   * as a kernel pipe takes them). Fires while a slot is free (`EPOLLOUT`);
   * EOF once every read end is closed.
   */
  override counts(out: FilterCounts): void {
    const used = this.core.slotLen.length;
    const free = PIPE_SLOTS - used;
    out.readable = 0;
    out.readEof = false;
    out.writable = this.core.readerOpen
      ? free * PAGE_SIZE + (used > 0 ? PAGE_SIZE - this.core.lastEnd : 0)
      : 0;
    out.writeReady = free > 0;
    out.writeEof = !this.core.readerOpen;
    out.error = 0;
  }

  /** Not open for reading (`vfs_read` without `FMODE_READ`). */
  override read(_buf: Uint8Array): number {
    return -EBADF;
  }

  override write(buf: Uint8Array): number {
    const core = this.core;
    // pipe_write: "Null write succeeds", before the check for readers.
    if (buf.length === 0) return 0;
    if (!core.readerOpen) return -EPIPE;
    const slots = core.slotLen;
    let n = 0;
    // Merge the sub-page remainder into the last slot when its page has room.
    const chars = buf.length & (PAGE_SIZE - 1);
    if (chars !== 0 && slots.length > 0 && core.lastEnd + chars <= PAGE_SIZE) {
      core.data.push(buf.subarray(0, chars));
      slots[slots.length - 1] += chars;
      core.lastEnd += chars;
      n = chars;
    }
    // Then one new slot per page while slots are free.
    while (n < buf.length && !core.full) {
      const take = Math.min(PAGE_SIZE, buf.length - n);
      core.data.push(buf.subarray(n, n + take));
      slots.push(take);
      core.lastEnd = take;
      n += take;
    }
    // Readers are woken whatever came of it, -EAGAIN included.
    core.reader.raise(EPOLLIN | EPOLLRDNORM);
    return n > 0 ? n : -EAGAIN;
  }

  /** Lets the core raise readiness on this end. */
  raise(events: number, all = false): void {
    this.notify(events, all);
  }

  protected override onRelease(): void {
    this.core.writerOpen = false;
    if (this.core.readerOpen) this.core.reader.raise(0, true);
  }
}

/**
 * Creates a pipe: `fds[0]` is the read end, `fds[1]` the write end.
 *
 * @param fds Receives the two fds (its length becomes at least 2).
 * @returns 0, or `-EMFILE` (then no fd is left open).
 * @throws {TypeError} When `fds` is not an array.
 *
 * @example
 * ```ts
 * import { close, pipe, read, write } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * assert.equal(pipe(fds), 0);
 * write(fds[1], new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(8);
 * assert.equal(read(fds[0], buf), 4);
 * close(fds[1]);
 * assert.equal(read(fds[0], buf), 0); // end of stream
 * close(fds[0]);
 * ```
 */
export function pipe(fds: number[]): number {
  if (tracing) return traced("pipe", pipe, fds);
  if (!Array.isArray(fds)) throw new TypeError("fds must be an array");
  const core = new PipeCore();
  core.reader = new PipeReadEnd(core);
  core.writer = new PipeWriteEnd(core);
  return installPair(core.reader, core.writer, fds);
}
