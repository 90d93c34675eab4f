/**
 * The data channel of a connected socket: a `Deno.Conn` with a bounded
 * receive buffer fed by a read pump and a bounded send buffer drained by a
 * write pump. The channel owns the connection's whole state; its socket
 * only asks it questions (`readiness()`, `read()`, `write()`, `takeError()`).
 *
 * Deno has no readiness query, only operations in flight (like AFD polls
 * under wepoll), so readiness is synthesized from two explicit state
 * machines, one per direction: receive `paused | reading | eof | failed |
 * closed` and send `idle | writing | fin-due | fin-sent | lingering |
 * failed | closed`. Each changes through its transition function
 * (`#toRecv`, `#toSend`), checked against the tables in
 * `_channel_states.ts` that list and explain every legal step, except the
 * four steps of every message (`paused -> reading -> paused`, `idle ->
 * writing -> idle`), stored directly where the code has just tested the
 * state they leave.
 *
 * Invariants (asserted where they matter):
 * - `reading` means one `conn.read()` in flight; `writing`, `fin-due` and
 *   `lingering` mean one `conn.write()` in flight, and then the send buffer
 *   is not empty. `failed` and `closed` may still have the operation that
 *   was in flight when they were entered; no new one starts there. A
 *   completion arriving in any other state is a bug.
 * - The error slot (Linux's `sk_err`) is filled once, when the connection
 *   first fails (the send side enters `failed`); read, write and `SO_ERROR`
 *   share it, and whichever comes first takes it.
 * - A failure after the peer's FIN leaves the receive side at `eof` (Linux
 *   reports the FIN before `sk_err`), and a FIN that Deno delivers after the
 *   failure moves it from `failed` to `eof`.
 * - After `close()` the receive side is `closed` and nothing is reported
 *   to the owner any more; the send side may linger until its bytes are out.
 * - `SHUT_RD` is the one fact beside the machines: like Linux's
 *   `RCV_SHUTDOWN` it changes what the program sees (reads return 0 once
 *   the buffer is empty, `EPOLLRDHUP`) but not the pump, which keeps
 *   receiving what the peer still sends.
 *
 * Mechanics:
 * - Read pump: while there is room, one `conn.read()` is in flight. Each
 *   completion is an arrival (`EPOLLIN`); `null` is the peer's FIN
 *   (`EPOLLRDHUP`). A full buffer pauses the pump, the kernel's window
 *   closes, the peer feels the backpressure; the program's next read
 *   resumes it. The read size doubles while reads fill it (up to 64 KiB,
 *   bounded by `SO_RCVBUF`) and halves while they come back mostly empty.
 * - Fairness towards a fast sender: after a burst of reads that filled
 *   their buffer, the pump waits for Deno's runtime to poll the kernel
 *   (`_read_burst.ts`).
 * - Idle connections are cheap: a small read goes into a 32-byte buffer that
 *   V8 keeps on its heap, and empty receive and send storage beyond 256
 *   bytes is released (what is kept saves an allocation per message).
 *   Larger reads go straight into the free space of the receive ring, never
 *   cut short where it wraps (`ByteQueue.reserve`): a read its message
 *   fills costs the next one a system call that finds nothing.
 * - Write pump: `write` copies into the send buffer (`SO_SNDBUF`) and, when
 *   no Deno write is in flight, starts one; bytes written meanwhile go out
 *   together in the next. Writability is the room left in that buffer.
 * - `conn.read()` is used, never `conn.readable`: the stream closes the
 *   resource at EOF and would break half-close. `close()` rejects a pending
 *   read with `Interrupted`: our own close, not a failure.
 *
 * @module
 */

import { ByteQueue } from "../../runtime/core/_byte_queue.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { currentKernel } from "../../runtime/core/kernel.ts";
import type { Timeout } from "../../runtime/core/_timer_queue.ts";
import { EAGAIN, ECONNRESET, EPIPE } from "../../runtime/core/errno.ts";
import { errnoOf } from "./_deno_map.ts";
import { ReadBurst } from "./_read_burst.ts";
import { registerKeepAlive, trackConn, untrackConn } from "./_keep_alive.ts";
import {
  impossible,
  Recv,
  recvName,
  type RecvState,
  recvStep,
  Send,
  sendName,
  type SendState,
  sendStep,
} from "./_channel_states.ts";
import { EPOLLERR, EPOLLHUP, EPOLLRDHUP } from "../../runtime/core/constants.ts";
import { POLL_DEAD, POLL_IN as IN, POLL_OUT as OUT } from "../../runtime/core/_poll_masks.ts";

/** Reads of at most this size go to the on-heap probe buffer (V8 keeps typed arrays under 64 bytes on its heap). */
const PROBE = 32;
/**
 * Storage an idle connection keeps in each direction once it has used
 * some (ByteQueue's smallest allocation): larger storage is released, this
 * much is kept, so a connection that exchanges small messages does not
 * allocate and free its buffers on every message (four allocations per
 * request-response, measurable in a server's CPU per request).
 */
const IDLE_KEEP = 256;
/** Largest single read. */
const MAX_READ = 65536;
/**
 * How long a closed socket keeps trying to deliver unsent bytes to a peer
 * that does not read (Linux's `tcp_fin_timeout` default).
 */
export const ORPHAN_TIMEOUT_MS = 60_000;

/** What the channel tells its socket. */
export interface ChannelEvents {
  /** Readiness may have risen; `events` are the raised bits (0: unknown). */
  channelRaised(events: number): void;
}

/** A connected stream over a `Deno.Conn`. */
export class DataChannel {
  readonly conn: Deno.Conn;
  #owner: ChannelEvents;
  #rx: ByteQueue;
  #tx: ByteQueue;
  #recv: RecvState = Recv.paused;
  #send: SendState = Send.idle;
  /** The error slot (`sk_err`): a positive errno until read, write or `SO_ERROR` takes it. */
  #error = 0;
  /** Our `SHUT_RD` (see the module invariants). */
  #readShut = false;
  #readSize = PROBE;
  /** The small read buffer of idle connections (on V8's heap). */
  #probe = new Uint8Array(PROBE);
  /** Size and target of the read in flight. */
  #readLen = 0;
  #readProbe = false;
  /** The read pump's bound on reads between two polls of the kernel (`_read_burst.ts`). */
  #burst = new ReadBurst(() => {
    if (this.#recv === Recv.paused) this.#startRead();
  });
  /** Ends a linger whose peer never reads; set exactly while `lingering`. */
  #orphanTimer: Timeout | undefined;
  // Completion callbacks made once per channel: no closures per operation.
  #readDone = (n: number | null) => this.#onRead(n);
  #readFailed = (err: unknown) => this.#onReadError(err);
  #writeDone = (n: number) => this.#onWrite(n);
  #writeFailed = (err: unknown) => this.#onWriteError(err);

  constructor(conn: Deno.Conn, owner: ChannelEvents, rcvbuf: number, sndbuf: number) {
    this.conn = conn;
    this.#owner = owner;
    this.#rx = new ByteQueue(rcvbuf);
    this.#tx = new ByteQueue(sndbuf);
    // Reads in flight keep the process alive only while the program waits (_keep_alive.ts).
    registerKeepAlive();
    trackConn(conn);
    this.#startRead();
  }

  /** The readiness of the connection, as Linux's `tcp_poll` computes it. */
  readiness(): number {
    const err = this.#error ? EPOLLERR : 0;
    if (this.#send === Send.failed) return err | POLL_DEAD;
    const rcvShut = this.#recv === Recv.eof || this.#readShut;
    const sndShut = this.#send === Send.finDue || this.#send === Send.finSent;
    let mask = err;
    if (rcvShut) mask |= IN | EPOLLRDHUP;
    else if (this.#rx.length > 0) mask |= IN;
    if (rcvShut && sndShut) mask |= EPOLLHUP;
    if (sndShut || this.#writable) mask |= OUT;
    return mask;
  }

  /**
   * kqueue's view (`Description.counts`): bytes buffered, send-buffer room,
   * EOF after the peer's FIN, our shutdown or a failure, and the pending
   * error (not taken).
   */
  counts(out: FilterCounts): void {
    const failed = this.#send === Send.failed;
    const sndShut = this.#send === Send.finDue || this.#send === Send.finSent;
    out.error = this.#error;
    out.readable = this.#rx.length;
    out.readEof = failed || this.#recv === Recv.eof || this.#readShut;
    out.writable = failed || sndShut ? 0 : this.#tx.room;
    out.writeReady = this.#writable;
    out.writeEof = failed || sndShut;
  }

  /**
   * Reads buffered bytes (`tcp_recvmsg`): the count, 0 at end of stream
   * (FIN, `SHUT_RD`, or after the error was taken), the pending error once,
   * or `-EAGAIN`.
   */
  read(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    const n = this.#rx.shift(buf);
    if (n > 0) {
      if (this.#recv === Recv.paused) this.#startRead();
      // An idle connection gives its emptied receive storage back.
      else if (this.#recv === Recv.reading && this.#readSize === PROBE) this.#rx.trim(IDLE_KEEP);
      return n;
    }
    // A FIN received comes first, then the pending error.
    if (this.#recv === Recv.failed && this.#error) return -this.takeError();
    if (this.#recv === Recv.eof || this.#recv === Recv.failed || this.#readShut) return 0;
    return -EAGAIN;
  }

  /**
   * Copies what fits into the send buffer: the count, `-EAGAIN` when it is
   * full, the pending error once after a failure, else `-EPIPE` once the
   * connection failed or our write side is shut.
   */
  write(buf: Uint8Array): number {
    switch (this.#send) {
      case Send.failed:
        return this.#error ? -this.takeError() : -EPIPE;
      case Send.finDue:
      case Send.finSent:
        return -EPIPE;
      case Send.lingering:
      case Send.closed:
        return impossible(`write after close (${sendName(this.#send)})`);
    }
    if (buf.length === 0) return 0;
    const n = this.#tx.push(buf);
    if (n === 0) return -EAGAIN;
    if (this.#send === Send.idle) this.#startWrite(Send.writing);
    return n;
  }

  /** Takes the pending error (reading `SO_ERROR` clears it); 0 when none. */
  takeError(): number {
    const e = this.#error;
    this.#error = 0;
    return e;
  }

  /** `SHUT_RD`: bytes already received stay readable, then reads return 0; the peer is not told. */
  shutdownRead(): void {
    this.#readShut = true;
  }

  /** `SHUT_WR`: FIN once the send buffer is drained. Idempotent; nothing to do once failed. */
  shutdownWrite(): void {
    if (this.#send === Send.idle) this.#sendFin();
    else if (this.#send === Send.writing) this.#toSend(Send.finDue);
  }

  /** Resizes the buffers after `SO_RCVBUF` / `SO_SNDBUF`. */
  resize(rcvbuf: number, sndbuf: number): void {
    this.#rx.limit = rcvbuf;
    this.#tx.limit = sndbuf;
    if (this.#recv === Recv.paused) this.#startRead();
  }

  /**
   * Closes the connection. With `linger`, unsent bytes are still delivered
   * first (as `close(2)` does); the Deno resource closes when they are out,
   * or after {@linkcode ORPHAN_TIMEOUT_MS} if the peer stops reading (an
   * orphaned Linux socket is likewise given up on after its retries).
   */
  close(linger: boolean): void {
    if (this.#recv === Recv.closed) return;
    this.#toRecv(Recv.closed);
    this.#burst.cancel();
    const s = this.#send;
    if (linger && (s === Send.writing || s === Send.finDue)) {
      this.#toSend(Send.lingering);
      // On the kernel's clock (an unref'd alarm), as every internal timer.
      this.#orphanTimer = currentKernel().timers.after(ORPHAN_TIMEOUT_MS, () => this.#closeConn());
      return;
    }
    this.#closeConn();
  }

  // ---- transitions --------------------------------------------------------

  /** The receive side's one checked transition function. */
  #toRecv(next: RecvState): void {
    this.#recv = recvStep(this.#recv, next);
  }

  /** The send side's one checked transition function. */
  #toSend(next: SendState): void {
    this.#send = sendStep(this.#send, next);
  }

  /**
   * The connection failed: fill the error slot (first failure only) and
   * move both directions to `failed`, except a receive side already at
   * `eof`. A broken pipe on our side means the peer reset the connection;
   * after the peer's FIN (CLOSE_WAIT) Linux's `tcp_reset` reports `EPIPE`.
   */
  #fail(errno: number): void {
    if (this.#send !== Send.failed) {
      this.#error = errno === EPIPE && this.#recv !== Recv.eof ? ECONNRESET : errno;
      this.#toSend(Send.failed);
      if (this.#recv === Recv.reading || this.#recv === Recv.paused) this.#toRecv(Recv.failed);
    }
    this.#owner.channelRaised(0);
  }

  // ---- read pump ----------------------------------------------------------

  /** `paused -> reading` when there is room; stays `paused` otherwise. */
  #startRead(): void {
    if (this.#burst.paused) return; // resumes after the runtime's poll
    const room = this.#rx.room;
    if (room === 0) return; // backpressure: resume when the program reads
    const want = Math.min(room, this.#readSize);
    const probe = want <= PROBE;
    let view: Uint8Array;
    if (probe) {
      view = want === PROBE ? this.#probe : this.#probe.subarray(0, want);
    } else {
      // Straight into the ring; the region may be shorter where it wraps.
      view = this.#rx.reserve(want);
      this.#rx.pinned = true;
    }
    // paused -> reading: every caller starts a read only in paused (the
    // constructor, read(), resize() and #onRead() test it first).
    this.#recv = Recv.reading;
    this.#readLen = view.length;
    this.#readProbe = probe;
    this.conn.read(view).then(this.#readDone, this.#readFailed);
  }

  #onRead(n: number | null): void {
    const state = this.#recv;
    // -1: no burst to count after EOF, or once closed (no pause is armed then).
    const pause = this.#burst.settled(n === null || state === Recv.closed ? -1 : n, this.#readLen);
    this.#rx.pinned = false;
    if (state === Recv.closed) return;
    if (state !== Recv.reading && state !== Recv.failed) {
      impossible(`read completed in ${recvName(state)}`);
    }
    if (n === null) {
      this.#toRecv(Recv.eof);
      this.#owner.channelRaised(IN | EPOLLRDHUP);
      return;
    }
    if (state === Recv.reading) this.#recv = Recv.paused; // reading -> paused
    if (n > 0) {
      if (this.#readProbe) this.#rx.push(this.#probe.subarray(0, n));
      else this.#rx.commit(n);
      this.#adaptReadSize(n);
      this.#owner.channelRaised(IN);
    }
    // After a fast sender's burst the next read waits for the runtime's poll (pause).
    if (this.#recv === Recv.paused && !pause) this.#startRead();
  }

  #adaptReadSize(n: number): void {
    if (n === this.#readSize) {
      if (this.#readSize < MAX_READ) this.#readSize *= 2;
    } else if (n < this.#readLen >> 3 && this.#readSize > PROBE) {
      this.#readSize = Math.max(PROBE, this.#readSize >> 1);
      if (this.#readSize === PROBE && this.#tx.length === 0) this.#tx.trim(IDLE_KEEP);
    }
  }

  #onReadError(err: unknown): void {
    this.#burst.settled(-1, this.#readLen);
    this.#rx.pinned = false;
    const state = this.#recv;
    if (state === Recv.closed) return; // our own close interrupted the read
    if (state !== Recv.reading && state !== Recv.failed) {
      impossible(`read failed in ${recvName(state)}`);
    }
    this.#fail(errnoOf(err, ECONNRESET));
  }

  // ---- write pump ---------------------------------------------------------

  /**
   * Starts a Deno write of everything buffered; `next` is the state that
   * has it in flight: `writing` from `idle` (write()), or the state the
   * completed write left (#onWrite()), which stays.
   */
  #startWrite(next: SendState): void {
    if (this.#tx.length === 0) impossible("write of an empty send buffer");
    this.#send = next; // idle -> writing, or no step
    this.#tx.pinned = true;
    this.conn.write(this.#tx.view()).then(this.#writeDone, this.#writeFailed);
  }

  #sendFin(): void {
    this.#toSend(Send.finSent);
    this.conn.closeWrite().catch(() => {});
  }

  #onWrite(n: number): void {
    this.#tx.pinned = false;
    const was = this.#writable;
    this.#tx.consume(n);
    // Idle connections keep no send storage either.
    if (this.#tx.length === 0 && this.#readSize === PROBE) this.#tx.trim(IDLE_KEEP);
    if (this.#recv !== Recv.closed && !was && this.#writable) this.#owner.channelRaised(OUT);
    const state = this.#send;
    switch (state) {
      case Send.writing:
      case Send.finDue:
      case Send.lingering:
        break;
      case Send.failed:
      case Send.closed:
        return; // the connection is over: nothing more goes out
      default:
        impossible(`write completed in ${sendName(state)}`);
    }
    if (this.#tx.length > 0) this.#startWrite(state);
    else if (state === Send.writing) this.#send = Send.idle; // writing -> idle
    else if (state === Send.finDue) this.#sendFin();
    else this.#closeConn();
  }

  #onWriteError(err: unknown): void {
    this.#tx.pinned = false;
    this.#tx.consume(this.#tx.length);
    const state = this.#send;
    if (state === Send.lingering) return this.#closeConn();
    if (this.#recv === Recv.closed || state === Send.closed) return;
    if (state !== Send.writing && state !== Send.finDue && state !== Send.failed) {
      impossible(`write failed in ${sendName(state)}`);
    }
    this.#fail(errnoOf(err, EPIPE));
  }

  /** Whether a write would accept bytes now (`sk_stream_is_writeable`). */
  get #writable(): boolean {
    const room = this.#tx.room;
    return room > 0 && room >= this.#tx.length >> 1;
  }

  /** Closes the Deno connection: the send side ends `closed`. */
  #closeConn(): void {
    if (this.#orphanTimer !== undefined) {
      this.#orphanTimer.cancel();
      this.#orphanTimer = undefined;
    }
    if (this.#send !== Send.closed) this.#toSend(Send.closed);
    untrackConn(this.conn);
    try {
      this.conn.close();
    } catch {
      // Already closed by Deno (e.g. after a reset): nothing left to free.
    }
  }
}
