/**
 * The data channel of a connected socket: a `Deno.Conn` with a bounded
 * receive buffer fed by a read pump and a bounded send buffer drained by a
 * write pump.
 *
 * Deno has no readiness query, only operations in flight (like AFD polls
 * under wepoll), so readiness is synthesized:
 *
 * - Read pump: one `conn.read()` is kept in flight. Each completion is an
 *   arrival (`EPOLLIN`); a `null` result is the peer's FIN (`EPOLLRDHUP`).
 *   When the receive buffer is full the pump stops, the kernel's window
 *   closes, and the peer feels the backpressure; the next `read` by the
 *   program restarts it. The read size adapts: it doubles while reads fill
 *   it (up to 64 KiB, bounded by `SO_RCVBUF`) and halves while they come
 *   back mostly empty.
 * - Idle connections are cheap: a small read goes into a 32-byte buffer that
 *   V8 keeps on its heap, and the empty receive and send storage is
 *   released. Larger reads go straight into the free space of the receive
 *   ring, no copy.
 * - Write pump: `write` copies into the send buffer (`SO_SNDBUF`) and, when
 *   no Deno write is in flight, starts one. Bytes written meanwhile are
 *   coalesced and go out together in the next Deno write.
 *   Writability is the room left in that buffer.
 * - `conn.read()` is used, never `conn.readable`: the stream closes the
 *   resource at EOF and would break half-close.
 * - `close()` rejects a pending read with `Interrupted`: that is our own
 *   close, not a failure.
 *
 * @module
 */

import { ByteQueue } from "../../runtime/core/_byte_queue.ts";
import { noteLoopTurn } from "../../runtime/core/_loop_turn.ts";
import { ECONNRESET, EPIPE } from "../../runtime/core/errno.ts";
import { errnoOf } from "./_deno_map.ts";
import {
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRNORM,
} from "../../runtime/core/constants.ts";

/** Reads of at most this size go to the on-heap probe buffer (V8 keeps typed arrays under 64 bytes on its heap). */
const PROBE = 32;
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

/** Readiness-relevant bits the channel raises. */
const IN = EPOLLIN | EPOLLRDNORM;
const OUT = EPOLLOUT | EPOLLWRNORM;
const RDHUP = EPOLLRDHUP;

/** A connected stream over a `Deno.Conn`. */
export class DataChannel {
  readonly conn: Deno.Conn;
  readonly rx: ByteQueue;
  readonly tx: ByteQueue;
  /** The peer sent FIN. */
  eof = false;
  /** The connection failed (reset, broken pipe); positive errno, 0 if not. */
  failed = 0;
  /** `close()` was called: nothing more is reported. */
  closed = false;
  #owner: ChannelEvents;
  #reading = false;
  #writing = false;
  #readSize = PROBE;
  /** The small read buffer of idle connections (on V8's heap). */
  #probe = new Uint8Array(PROBE);
  /** Size and target of the read in flight. */
  #readLen = 0;
  #readProbe = false;
  // Completion callbacks made once per channel: no closures per operation.
  #readDone = (n: number | null) => this.#onRead(n);
  #readFailed = (err: unknown) => this.#onReadError(err);
  #writeDone = (n: number) => this.#onWrite(n);
  #writeFailed = (err: unknown) => this.#onWriteError(err);
  /** A `closeWrite` is due once the send buffer drains. */
  #shutWrite = false;
  #wroteFin = false;
  /** `close` waits for the send buffer to drain (close with unsent bytes). */
  #lingering = false;
  /** Ends a linger whose peer never reads. */
  #orphanTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.Conn, owner: ChannelEvents, rcvbuf: number, sndbuf: number) {
    this.conn = conn;
    this.#owner = owner;
    this.rx = new ByteQueue(rcvbuf);
    this.tx = new ByteQueue(sndbuf);
    this.#pumpRead();
  }

  /** Whether a write would accept bytes now (`sk_stream_is_writeable`). */
  get writable(): boolean {
    const room = this.tx.room;
    return room > 0 && room >= this.tx.length >> 1;
  }

  /** Bytes waiting to be sent. */
  get unsent(): number {
    return this.tx.length;
  }

  /** Resizes the buffers after `SO_RCVBUF` / `SO_SNDBUF`. */
  resize(rcvbuf: number, sndbuf: number): void {
    this.rx.limit = rcvbuf;
    this.tx.limit = sndbuf;
    this.#pumpRead();
  }

  /** Copies buffered bytes into `buf`; 0 when none (the socket decides what that means). */
  read(buf: Uint8Array): number {
    const n = this.rx.shift(buf);
    if (n > 0) {
      if (!this.#reading) this.#pumpRead();
      // An idle connection gives its emptied receive storage back.
      else if (this.#readSize === PROBE) this.rx.trim(0);
    }
    return n;
  }

  /** Copies what fits into the send buffer; returns the count (0 when it is full). */
  write(buf: Uint8Array): number {
    const n = this.tx.push(buf);
    if (n > 0 && !this.#writing) this.#pumpWrite();
    return n;
  }

  /** Shuts the write side once the send buffer is drained (`SHUT_WR`). */
  shutdownWrite(): void {
    this.#shutWrite = true;
    if (!this.#writing) this.#pumpWrite();
  }

  /**
   * Closes the connection. With `linger`, unsent bytes are still delivered
   * first (as `close(2)` does); the Deno resource closes when they are out,
   * or after {@linkcode ORPHAN_TIMEOUT_MS} if the peer stops reading (an
   * orphaned Linux socket is likewise given up on after its retries).
   */
  close(linger: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (linger && this.tx.length > 0 && !this.failed) {
      this.#lingering = true;
      const timer = setTimeout(() => this.#closeConn(), ORPHAN_TIMEOUT_MS);
      Deno.unrefTimer(timer);
      this.#orphanTimer = timer;
      if (!this.#writing) this.#pumpWrite();
      return;
    }
    this.#closeConn();
  }

  #closeConn(): void {
    this.#lingering = false;
    if (this.#orphanTimer !== undefined) {
      clearTimeout(this.#orphanTimer);
      this.#orphanTimer = undefined;
    }
    try {
      this.conn.close();
    } catch {
      // Already closed by Deno (e.g. after a reset): nothing left to free.
    }
  }

  #pumpRead(): void {
    if (this.#reading || this.eof || this.failed || this.closed) return;
    const room = this.rx.room;
    if (room === 0) return; // backpressure: resume when the program reads
    const want = Math.min(room, this.#readSize);
    const probe = want <= PROBE;
    let view: Uint8Array;
    if (probe) {
      view = want === PROBE ? this.#probe : this.#probe.subarray(0, want);
    } else {
      // Straight into the ring; the region may be shorter where it wraps.
      view = this.rx.reserve(want);
      this.rx.pinned = true;
    }
    this.#reading = true;
    this.#readLen = view.length;
    this.#readProbe = probe;
    this.conn.read(view).then(this.#readDone, this.#readFailed);
  }

  #onRead(n: number | null): void {
    noteLoopTurn();
    const size = this.#readLen;
    const probe = this.#readProbe;
    this.#reading = false;
    this.rx.pinned = false;
    if (this.closed) return;
    if (n === null) {
      this.eof = true;
      this.#owner.channelRaised(IN | RDHUP);
      return;
    }
    if (n > 0) {
      if (probe) this.rx.push(this.#probe.subarray(0, n));
      else this.rx.commit(n);
      if (n === this.#readSize) {
        if (this.#readSize < MAX_READ) this.#readSize *= 2;
      } else if (n < size >> 3 && this.#readSize > PROBE) {
        this.#readSize = Math.max(PROBE, this.#readSize >> 1);
        if (this.#readSize === PROBE && this.tx.length === 0) this.tx.trim(0);
      }
      this.#owner.channelRaised(IN);
    }
    this.#pumpRead();
  }

  #onReadError(err: unknown): void {
    this.#reading = false;
    this.rx.pinned = false;
    if (this.closed) return; // our own close interrupted the read
    this.#fail(errnoOf(err, ECONNRESET));
  }

  #pumpWrite(): void {
    if (this.#writing || this.failed) return;
    if (this.tx.length === 0) {
      if (this.#lingering) {
        this.#closeConn();
      } else if (this.#shutWrite && !this.#wroteFin && !this.closed) {
        this.#wroteFin = true;
        this.conn.closeWrite().catch(() => {});
      }
      return;
    }
    this.#writing = true;
    this.tx.pinned = true;
    this.conn.write(this.tx.view()).then(this.#writeDone, this.#writeFailed);
  }

  #onWrite(n: number): void {
    noteLoopTurn();
    this.#writing = false;
    this.tx.pinned = false;
    const was = this.writable;
    this.tx.consume(n);
    // Idle connections keep no send storage either.
    if (this.tx.length === 0 && this.#readSize === PROBE) this.tx.trim(0);
    if (!this.closed && !was && this.writable) this.#owner.channelRaised(OUT);
    this.#pumpWrite();
  }

  #onWriteError(err: unknown): void {
    this.#writing = false;
    this.tx.pinned = false;
    this.tx.consume(this.tx.length);
    if (this.#lingering) {
      this.#closeConn();
      return;
    }
    if (this.closed) return;
    this.#fail(errnoOf(err, EPIPE));
  }

  #fail(errno: number): void {
    // A broken pipe on our side means the peer reset the connection; after
    // the peer's FIN (CLOSE_WAIT) Linux's tcp_reset reports EPIPE instead.
    this.failed = errno === EPIPE && !this.eof ? ECONNRESET : errno;
    this.#owner.channelRaised(0);
  }
}
