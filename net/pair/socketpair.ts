/**
 * In-memory connected stream sockets (`socketpair(2)` with `AF_UNIX`,
 * `SOCK_STREAM`), with the readiness of Linux's `unix_poll`:
 *
 * - `EPOLLIN` while bytes are buffered, or once the receive side is shut
 *   (by the peer's `SHUT_WR`, its close, or our own `SHUT_RD`), with
 *   `EPOLLRDHUP` in that case.
 * - `EPOLLOUT` while what we sent and the peer has not read is at most a
 *   quarter of our send buffer (`unix_writable`); a write accepts bytes
 *   while it is below the whole send buffer.
 * - `EPOLLHUP` once both directions are shut (always after the peer
 *   closes).
 * - `EPOLLERR` while an error is pending: closing a socket with unread bytes
 *   resets the peer (`ECONNRESET`), as Linux does.
 * - A write is queued as chunks (Linux's skbs, at most
 *   {@linkcode MAX_CHUNK} bytes and half the send buffer each) and raises
 *   `EPOLLIN` on the peer. A read raises `EPOLLOUT` on the writer each time
 *   it consumes a whole chunk and the writer is then writable
 *   (`sock_wfree` -> `unix_write_space`): reading part of a chunk raises
 *   nothing.
 * - A read of 0 bytes returns 0 at once and leaves a pending error pending
 *   (`sock_read_iter`).
 * - `shutdown` wakes the shutting end, then its peer; both wake every
 *   watcher (`sk_state_change`).
 *
 * @module
 */

import {
  EAFNOSUPPORT,
  EAGAIN,
  ECONNRESET,
  EINVAL,
  EISCONN,
  ENOTCONN,
  EOPNOTSUPP,
  EPIPE,
  EPROTONOSUPPORT,
} from "../../runtime/core/errno.ts";
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
} from "../../runtime/core/constants.ts";
import { ByteQueue } from "../../runtime/core/_byte_queue.ts";
import { EmulatedSocket } from "../socket_state.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { copyAddr, type SockAddr } from "../sockaddr.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../../runtime/core/constants.ts";
import { makeDgramPair } from "./dgram_socketpair.ts";
import { installPair, requireNumber } from "../../runtime/core/fd_table.ts";
import { traced, tracing } from "../../runtime/core/_call_trace.ts";

/** Linux's default `SO_SNDBUF`/`SO_RCVBUF` for Unix sockets (`wmem_default`). */
const UNIX_BUFFER = 212992;
/**
 * Largest skb `unix_stream_sendmsg` builds on x86-64:
 * `SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ` = (4096 - 320) + 32768.
 */
export const MAX_CHUNK = 3776 + 32768;

/** One end of a socketpair. */
export class PairEnd extends EmulatedSocket {
  readonly kind = "socketpair";
  readonly domain = AF_UNIX;
  peer!: PairEnd;
  /** Bytes the peer sent to us; its limit is the peer's send buffer. */
  readonly rx = new ByteQueue(UNIX_BUFFER);
  /** The sizes of the chunks (skbs) in `rx` still unread, oldest first. */
  readonly rxChunks: number[] = [];
  /** We will receive nothing more (`RCV_SHUTDOWN`). */
  rdShut = false;
  /** We send nothing more (`SEND_SHUTDOWN`). */
  wrShut = false;
  open = true;

  constructor() {
    super(UNIX_BUFFER, UNIX_BUFFER);
  }

  #writable(): boolean {
    // unix_writable: sent-but-unread bytes at most a quarter of the send buffer.
    return this.peer.rx.length * 4 <= this.sndbuf;
  }

  poll(): number {
    let mask = 0;
    if (this.soError) mask |= EPOLLERR;
    if (this.rdShut && this.wrShut) mask |= EPOLLHUP;
    if (this.rdShut) mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
    if (this.rx.length > 0) mask |= EPOLLIN | EPOLLRDNORM;
    if (!this.peer.open) mask |= EPOLLHUP;
    if (this.#writable()) mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
    return mask;
  }

  /** kqueue: bytes buffered, send-buffer room, EOF on a shut side, the pending error. */
  override counts(out: FilterCounts): void {
    const peer = this.peer;
    out.readable = this.rx.length;
    out.readEof = this.rdShut;
    out.writable = peer.open && !this.wrShut ? peer.rx.room : 0;
    out.writeReady = this.#writable();
    out.writeEof = this.wrShut || peer.rdShut || !peer.open;
    out.error = this.soError;
  }

  override read(buf: Uint8Array): number {
    // sock_read_iter: a read of nothing is 0, before any state is looked at.
    if (buf.length === 0) return 0;
    if (this.rx.length === 0) {
      if (this.soError) return -this.takeError();
      return this.rdShut ? 0 : -EAGAIN;
    }
    const n = this.rx.shift(buf);
    const peer = this.peer;
    const chunks = this.rxChunks;
    for (let left = n; left > 0;) {
      const take = Math.min(left, chunks[0]);
      left -= take;
      chunks[0] -= take;
      if (chunks[0] > 0) break;
      chunks.shift();
      // The chunk is freed: its writer hears of the room if it is writable.
      if (peer.open && peer.#writable()) peer.notify(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
    }
    return n;
  }

  override write(buf: Uint8Array): number {
    const peer = this.peer;
    if (this.wrShut || peer.rdShut) return -EPIPE;
    if (buf.length === 0) return 0;
    const n = peer.rx.push(buf);
    if (n === 0) return -EAGAIN;
    const chunk = Math.min(MAX_CHUNK, (this.sndbuf >> 1) - 64);
    for (let left = n; left > 0; left -= chunk) peer.rxChunks.push(Math.min(left, chunk));
    // sock_def_readable's key: an edge for interests in any of these bits.
    peer.notify(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND);
    return n;
  }

  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    const rd = how !== SHUT_WR;
    const wr = how !== SHUT_RD;
    // unix_shutdown mirrors each half onto the peer.
    if (rd) this.rdShut = true;
    if (wr) this.wrShut = true;
    const peer = this.peer;
    if (peer.open) {
      if (rd) peer.wrShut = true;
      if (wr) peer.rdShut = true;
    }
    // unix_shutdown: sk_state_change on this end, then on the peer.
    this.notify(0, true);
    if (peer.open) peer.notify(0, true);
    return 0;
  }

  override connect(_addr: SockAddr): number {
    return this.peer.open ? -EISCONN : -ENOTCONN;
  }

  override listen(_backlog: number): number {
    return -EINVAL;
  }

  override getsockname(out: SockAddr): number {
    copyAddr({ family: AF_UNIX, path: "" }, out);
    return 0;
  }

  override getpeername(out: SockAddr): number {
    copyAddr({ family: AF_UNIX, path: "" }, out);
    return 0;
  }

  protected override optionChanged(level: number, name: number): void {
    // Our send buffer bounds what the peer may hold of ours.
    if (level === SOL_SOCKET && name === SO_SNDBUF) this.peer.rx.limit = this.sndbuf;
  }

  protected override onRelease(): void {
    this.open = false;
    const peer = this.peer;
    if (!peer.open) return;
    // unix_release_sock: the peer is shut both ways; unread data resets it.
    peer.rdShut = true;
    peer.wrShut = true;
    if (this.rx.length > 0) peer.soError = ECONNRESET;
    this.rx.consume(this.rx.length);
    this.rx.trim(0);
    this.rxChunks.length = 0;
    peer.notify(0, true);
  }
}

/**
 * Creates a pair of connected in-memory sockets (`socketpair(2)`): stream
 * sockets, or datagram sockets ({@linkcode SOCK_DGRAM}, with Linux's
 * `af_unix` semantics: message boundaries, the writer's send-buffer limit,
 * `-ECONNREFUSED` after the peer closed).
 *
 * @param domain {@linkcode AF_UNIX}.
 * @param type {@linkcode SOCK_STREAM} or {@linkcode SOCK_DGRAM}, optionally
 * with `SOCK_NONBLOCK` / `SOCK_CLOEXEC` (accepted; every socket here is
 * non-blocking).
 * @param protocol 0.
 * @param sv Receives the two fds.
 * @returns 0; `-EAFNOSUPPORT` for another domain (Linux: `-EOPNOTSUPP` for
 * AF_INET), `-EPROTONOSUPPORT` for another type or protocol, `-EMFILE`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, read, SOCK_STREAM, socketpair, write } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
 * write(sv[0], new Uint8Array([1, 2, 3]));
 * assert.equal(read(sv[1], new Uint8Array(8)), 3);
 * sv.forEach(close);
 * ```
 */
export function socketpair(domain: number, type: number, protocol: number, sv: number[]): number {
  if (tracing) return traced("socketpair", socketpair, domain, type, protocol, sv);
  requireNumber(domain, "domain");
  requireNumber(type, "type");
  requireNumber(protocol, "protocol");
  if (!Array.isArray(sv)) throw new TypeError("sv must be an array");
  // __sys_socketpair: flag bits beyond SOCK_TYPE_MASK other than NONBLOCK/CLOEXEC.
  if ((type & ~0xf & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  if (domain !== AF_UNIX) {
    return domain === AF_INET || domain === AF_INET6 ? -EOPNOTSUPP : -EAFNOSUPPORT;
  }
  const base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM) return -EPROTONOSUPPORT;
  if (protocol !== 0) return -EPROTONOSUPPORT;
  if (base === SOCK_DGRAM) {
    const [da, db] = makeDgramPair();
    return installPair(da, db, sv);
  }
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  return installPair(a, b, sv);
}
