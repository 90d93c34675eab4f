/**
 * In-memory pipes (`pipe(2)`) with Linux's readiness rules (`fs/pipe.c`).
 *
 * - Capacity 64 KiB. Writes of up to `PIPE_BUF` (4096) bytes are atomic: all
 *   or `-EAGAIN`. Larger writes accept what fits.
 * - The read end is `EPOLLIN` while bytes are buffered and `EPOLLHUP` once
 *   every write end is closed (a read then returns 0 after the data).
 * - The write end is `EPOLLOUT` while at least `PIPE_BUF` bytes are free
 *   (Linux: a free page) and `EPOLLERR` once every read end is closed; a
 *   write then returns `-EPIPE`.
 * - Every write raises `EPOLLIN` on the read end, so an edge-triggered
 *   reader sees each arrival, as on Linux.
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

/** Bytes a pipe holds (Linux default: 16 pages). */
export const PIPE_CAPACITY = 65536;
/** Writes of at most this many bytes are atomic. */
export const PIPE_BUF = 4096;

/** The shared state of one pipe. */
class PipeCore {
  readonly data = new ByteQueue(PIPE_CAPACITY);
  readerOpen = true;
  writerOpen = true;
  reader!: PipeReadEnd;
  writer!: PipeWriteEnd;
}

/** The read end of a pipe. */
export class PipeReadEnd extends Description {
  readonly kind = "pipe";
  constructor(readonly core: PipeCore) {
    super();
  }

  poll(): number {
    let mask = this.core.data.length > 0 ? EPOLLIN | EPOLLRDNORM : 0;
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
    if (buf.length === 0) return 0;
    if (core.data.length === 0) return core.writerOpen ? -EAGAIN : 0;
    const wasWritable = core.writer.poll() & EPOLLOUT;
    const n = core.data.shift(buf);
    if (!wasWritable && core.writerOpen) core.writer.raise(EPOLLOUT | EPOLLWRNORM);
    return n;
  }

  /** Not open for writing (`vfs_write` without `FMODE_WRITE`). */
  override write(_buf: Uint8Array): number {
    return -EBADF;
  }

  /** Lets the core raise readiness on this end. */
  raise(events: number): void {
    this.notify(events);
  }

  protected override onRelease(): void {
    this.core.readerOpen = false;
    if (this.core.writerOpen) this.core.writer.raise(EPOLLERR);
  }
}

/** The write end of a pipe. */
export class PipeWriteEnd extends Description {
  readonly kind = "pipe";
  constructor(readonly core: PipeCore) {
    super();
  }

  poll(): number {
    let mask = this.core.data.room >= PIPE_BUF ? EPOLLOUT | EPOLLWRNORM : 0;
    if (!this.core.readerOpen) mask |= EPOLLERR;
    return mask;
  }

  /** kqueue: free space, firing from `PIPE_BUF` up (FreeBSD's `filt_pipewrite`); EOF once every read end is closed. */
  override counts(out: FilterCounts): void {
    out.readable = 0;
    out.readEof = false;
    out.writable = this.core.readerOpen ? this.core.data.room : 0;
    out.writeReady = this.core.data.room >= PIPE_BUF;
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
    const room = core.data.room;
    if (room === 0 || (buf.length <= PIPE_BUF && room < buf.length)) return -EAGAIN;
    const n = core.data.push(buf);
    core.reader.raise(EPOLLIN | EPOLLRDNORM);
    return n;
  }

  /** Lets the core raise readiness on this end. */
  raise(events: number): void {
    this.notify(events);
  }

  protected override onRelease(): void {
    this.core.writerOpen = false;
    if (this.core.readerOpen) this.core.reader.raise(EPOLLHUP);
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
  if (!Array.isArray(fds)) throw new TypeError("fds must be an array");
  const core = new PipeCore();
  core.reader = new PipeReadEnd(core);
  core.writer = new PipeWriteEnd(core);
  return installPair(core.reader, core.writer, fds);
}
