/**
 * The standard streams as descriptors 0, 1 and 2 (`openStdio()`), with the
 * readiness of pipe ends whatever Deno's streams are (a terminal, a pipe, a
 * file: each as Deno reads and writes it).
 *
 * Standard input (fd 0) is a read end fed by one background read at a time
 * into a bounded buffer ({@linkcode STDIO_BUFFER} bytes): `EPOLLIN` while
 * bytes are buffered (every arrival is a new edge, as every pipe write is),
 * `EPOLLHUP` once the input has ended (a read then returns 0 after the
 * data), `-EAGAIN` meanwhile. The background read starts when the program
 * first reads fd 0 or watches it, so a program that only writes never
 * consumes its input; it pauses while the buffer is full.
 *
 * Standard output and error (fds 1, 2) are write ends over a bounded queue
 * that a background `write` drains: a write takes what fits (a write of at
 * most `PIPE_BUF` bytes all or nothing, as a pipe's), `-EAGAIN` when full;
 * `EPOLLOUT` while there is room, raised again as the queue drains; once
 * Deno reports the reader gone, `EPOLLERR` and `-EPIPE`. Queued output is
 * written even after `close`, and keeps the process alive until it is.
 *
 * Exit: the background read of fd 0 does not keep the process alive (it
 * is unreferenced through Deno's internal `core.unrefOpPromise` on 2.9.6;
 * where that is missing, a read in flight holds the process until input
 * arrives or ends). A wait (`epollWait`, `kevent`) sleeping while fd 0 is
 * open does keep it alive (`_keep_alive.ts`).
 *
 * @module
 */

import { Description, type FilterCounts } from "../core/description.ts";
import { EAGAIN, EBADF, EBUSY, EMFILE, EPIPE } from "../core/errno.ts";
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWRNORM,
} from "../core/constants.ts";
import { ByteQueue } from "../core/_byte_queue.ts";
import { descriptors } from "../core/fd_table.ts";
import type { Watcher } from "../core/description.ts";
import { keepAliveWhileWaiting } from "./_keep_alive.ts";
import { traced, tracing } from "../core/_call_trace.ts";

/** Bytes each standard stream buffers (a pipe's 64 KiB). */
export const STDIO_BUFFER = 65536;
/** Writes of at most this many bytes are all or nothing, as on a pipe. */
const PIPE_BUF = 4096;
/** The most one background read asks for. */
const READ_CHUNK = 16384;

/** Reads standard input, unreferenced where Deno allows it: bytes, or 0 at the end. */
type StdinRead = (buf: Uint8Array) => Promise<number>;

/** Deno's internal op calls, when this Deno exposes them (2.9.6 does). */
interface CoreOps {
  read(rid: number, buf: Uint8Array): Promise<number>;
  unrefOpPromise(p: Promise<unknown>): void;
}

function stdinReader(): StdinRead {
  const internal = Reflect.get(Deno, "internal");
  const core = (internal === undefined ? undefined : Reflect.get(Deno, internal)?.core) as
    | Partial<CoreOps>
    | undefined;
  if (typeof core?.read === "function" && typeof core.unrefOpPromise === "function") {
    const ops = core as CoreOps;
    return (buf) => {
      const p = ops.read(0, buf);
      ops.unrefOpPromise(p);
      return p;
    };
  }
  return async (buf) => (await Deno.stdin.read(buf)) ?? 0;
}

/** Descriptor 0: the read end over Deno's standard input. */
export class StdinDescription extends Description {
  readonly kind = "stdin";
  readonly #queue = new ByteQueue(STDIO_BUFFER);
  readonly #read: StdinRead;
  #started = false;
  #reading = false;
  #ended = false;
  #open = true;
  readonly #release = keepAliveWhileWaiting();

  constructor(read: StdinRead = stdinReader()) {
    super();
    this.#read = read;
  }

  poll(): number {
    let mask = this.#queue.length > 0 ? EPOLLIN | EPOLLRDNORM : 0;
    if (this.#ended) mask |= EPOLLHUP;
    return mask;
  }

  /** kqueue: bytes buffered; EOF once the input has ended. */
  override counts(out: FilterCounts): void {
    out.readable = this.#queue.length;
    out.readEof = this.#ended;
    out.writable = 0;
    out.writeReady = false;
    out.writeEof = false;
    out.error = 0;
  }

  override read(buf: Uint8Array): number {
    this.#start();
    if (buf.length === 0) return 0;
    const n = this.#queue.shift(buf);
    if (n > 0) {
      this.#pump(); // room again: resume a paused read
      return n;
    }
    return this.#ended ? 0 : -EAGAIN;
  }

  /** Not open for writing. */
  override write(_buf: Uint8Array): number {
    return -EBADF;
  }

  /** Watching fd 0 starts the background read: the watcher is waiting for input. */
  override watch(w: Watcher): void {
    super.watch(w);
    this.#start();
  }

  protected override onRelease(): void {
    // A read in flight cannot be cancelled; its bytes are dropped.
    this.#open = false;
    this.#release();
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#pump();
  }

  /** Keeps one read in flight while open, not ended, and the buffer has room. */
  #pump(): void {
    if (this.#reading || this.#ended || !this.#open) return;
    const room = this.#queue.room;
    if (room === 0) return;
    this.#reading = true;
    const chunk = new Uint8Array(Math.min(READ_CHUNK, room));
    this.#read(chunk).then(
      (n) => this.#arrived(chunk, n),
      () => this.#arrived(chunk, 0), // a failed read (stdin closed under us) ends the input
    );
  }

  #arrived(chunk: Uint8Array, n: number): void {
    this.#reading = false;
    if (!this.#open) return;
    if (n > 0) {
      this.#queue.push(chunk.subarray(0, n));
      this.notify(EPOLLIN | EPOLLRDNORM);
      this.#pump();
      return;
    }
    this.#ended = true;
    this.notify(EPOLLIN | EPOLLHUP, true);
  }
}

/** Where {@linkcode StdoutDescription} writes: `Deno.stdout` or `Deno.stderr`. */
export interface StdWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Descriptors 1 and 2: write ends over Deno's standard output and error. */
export class StdoutDescription extends Description {
  readonly kind = "stdout";
  readonly #queue = new ByteQueue(STDIO_BUFFER);
  #flushing = false;
  #broken = false;

  constructor(readonly stream: StdWriter) {
    super();
  }

  poll(): number {
    if (this.#broken) return EPOLLOUT | EPOLLWRNORM | EPOLLERR;
    return this.#queue.room > 0 ? EPOLLOUT | EPOLLWRNORM : 0;
  }

  /** kqueue: the free room while any; EOF once the reader is gone. */
  override counts(out: FilterCounts): void {
    out.readable = 0;
    out.readEof = false;
    out.writable = this.#broken ? 0 : this.#queue.room;
    out.writeReady = this.#broken || this.#queue.room > 0;
    out.writeEof = this.#broken;
    out.error = 0;
  }

  /** Not open for reading. */
  override read(_buf: Uint8Array): number {
    return -EBADF;
  }

  override write(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    if (this.#broken) return -EPIPE;
    const room = this.#queue.room;
    if (room === 0 || (buf.length <= PIPE_BUF && room < buf.length)) return -EAGAIN;
    const n = this.#queue.push(buf);
    this.#flush();
    return n;
  }

  /** Keeps one write in flight while bytes are queued. */
  #flush(): void {
    if (this.#flushing || this.#queue.length === 0) return;
    this.#flushing = true;
    const queue = this.#queue;
    queue.pinned = true;
    this.stream.write(queue.view()).then(
      (n) => {
        const wasFull = queue.room === 0;
        queue.consume(n);
        this.#done();
        // The drain made room: a new edge for writers (pipe_read wakes writers likewise).
        if (n > 0 && (wasFull || queue.room >= PIPE_BUF)) this.notify(EPOLLOUT | EPOLLWRNORM);
      },
      () => {
        // The reader is gone (EPIPE) or the stream closed: what is queued is lost, as in a pipe.
        this.#broken = true;
        queue.consume(queue.length);
        this.#done();
        this.notify(EPOLLERR | EPOLLOUT, true);
      },
    );
  }

  #done(): void {
    this.#flushing = false;
    this.#queue.pinned = false;
    this.#flush();
  }
}

/**
 * Makes descriptors 0, 1 and 2 the process's standard input, output and
 * error: non-blocking pipe ends over `Deno.stdin`, `Deno.stdout` and
 * `Deno.stderr`, for one epoll loop that reads the keyboard (or a pipe, or
 * a file) beside its sockets.
 *
 * fd 0 is readable (`EPOLLIN`) while input is buffered and reports
 * `EPOLLHUP` (a read returns 0) when the input ends; fds 1 and 2 accept
 * what fits in a 64 KiB queue each (`-EAGAIN` when full, `EPOLLOUT` when
 * room comes back) and report `EPOLLERR` and `-EPIPE` once the reader is
 * gone. Needs no permission. The background read of fd 0 starts at its
 * first `read` or watch and does not keep the process alive unless a wait
 * is sleeping.
 *
 * @returns 0; `-EBUSY` when descriptor 0, 1 or 2 is already taken (open
 * the standard streams before anything else); `-EMFILE` when the
 * descriptor limit is below 3.
 *
 * @example Descriptors 0, 1 and 2 must be free
 * ```ts
 * import { close, EBUSY, openStdio, pipe } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * pipe(fds); // takes the lowest free numbers: 0 and 1 in a fresh program
 * assert.equal(openStdio(), -EBUSY);
 * close(fds[0]);
 * close(fds[1]);
 * ```
 */
export function openStdio(): number {
  if (tracing) return traced("openStdio", openStdio);
  for (let fd = 0; fd <= 2; fd++) if (descriptors.get(fd) !== undefined) return -EBUSY;
  if (descriptors.limit < 3) return -EMFILE;
  // With 0, 1 and 2 free, the lowest-free rule hands them out in order.
  descriptors.allocate(new StdinDescription());
  descriptors.allocate(new StdoutDescription(Deno.stdout));
  descriptors.allocate(new StdoutDescription(Deno.stderr));
  return 0;
}
