/**
 * In-memory connected datagram sockets (`socketpair(AF_UNIX, SOCK_DGRAM)`)
 * with the semantics of Linux's `af_unix.c` (`unix_dgram_sendmsg`,
 * `unix_dgram_recvmsg`, `unix_dgram_poll`), checked against the kernel by
 * the differential test:
 *
 * - One send is one datagram; one receive takes at most one, and the rest
 *   of a longer one is discarded (`MSG_TRUNC` returns its real length,
 *   `MSG_PEEK` leaves it queued). Empty datagrams are datagrams.
 * - The limit is the writer's send buffer, not the receiver's queue: every
 *   queued datagram is charged to its writer as the kernel's skb `truesize`
 *   ({@linkcode truesize}), a send fails with `-EAGAIN` while the charge is
 *   at least `SO_SNDBUF`, and `-EMSGSIZE` beyond `SO_SNDBUF - 32` bytes.
 *   (`max_dgram_qlen` bounds the receiver's queue only for senders that are
 *   not its peer: `unix_dgram_sendmsg` and `unix_dgram_poll` skip the check
 *   between the two ends of a pair.)
 * - `EPOLLOUT` while `(charge + 1) * 4 <= SO_SNDBUF` (`unix_writable` over
 *   the refcount, which starts at 1). Freeing a datagram (a receive, or the
 *   peer's close purging its queue) wakes its writer with `EPOLLOUT` when
 *   the writer is then writable; `sock_wfree` still holds one unit while it
 *   asks, hence `charge + 2` there. An error after the datagram was charged
 *   (`-EPIPE` from a peer that shut reading, `-ECONNREFUSED`) frees it too,
 *   with the same wake-up.
 * - A send raises `EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND` on the
 *   receiver (`sock_def_readable`).
 * - Peer close: nothing is reported to the survivor; what the peer sent is
 *   still readable, then reads say `-EAGAIN` (never 0: a datagram socket
 *   has no end of stream); the first send says `-ECONNREFUSED`, forgets the
 *   peer and drops the survivor's own queue, later sends `-ENOTCONN`. Linux
 *   6.18 looks the peer up after charging the datagram, so `-EMSGSIZE`, a
 *   pending error, `-EPIPE` (our `SHUT_WR`) and `-EAGAIN` come before
 *   `-ENOTCONN`, and the charge freed on the way wakes `EPOLLOUT` watchers.
 * - `shutdown` marks only this end (`unix_shutdown` mirrors it onto the peer
 *   for stream sockets only) and wakes its watchers: `SHUT_WR` makes sends
 *   `-EPIPE`; `SHUT_RD` gives `EPOLLIN | EPOLLRDHUP` (and the peer's sends
 *   `-EPIPE`), while a receive of nothing still says `-EAGAIN`; both give
 *   `EPOLLHUP`.
 * - `connect(AF_UNSPEC)` forgets the peer; with datagrams queued it drops
 *   them and, when the peer still points here, gives the peer `ECONNRESET`
 *   (`unix_dgram_disconnected`). A pair end has no name, so an address in
 *   `sendto` or `connect` names nothing here: `-ENOENT` (a path) or
 *   `-ECONNREFUSED` (an abstract name), as Linux says for a name nobody
 *   bound.
 *
 * @module
 */

import {
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EINVAL,
  EMSGSIZE,
  ENOENT,
  ENOTCONN,
  EOPNOTSUPP,
  EPERM,
  EPIPE,
} from "../../runtime/core/errno.ts";
import { AF_UNIX, AF_UNSPEC, EPOLLERR } from "../../runtime/core/constants.ts";
import { copyAddr, type SockAddr, type UnspecSockAddr } from "../sockaddr.ts";
import { MSG_OOB, READABLE_KEY } from "../_datagram_queue.ts";
import { EmulatedDatagram, OUT } from "../_emulated_datagram.ts";

/** Linux's default `SO_SNDBUF` for Unix sockets (`wmem_default`). */
const UNIX_BUFFER = 212992;
/** The name of a pair end: an unnamed Unix socket. */
const UNNAMED: SockAddr = { family: AF_UNIX, path: "" };
/** `SKB_MAX_ALLOC` on x86-64: a larger datagram puts its tail in page fragments. */
const SKB_MAX_ALLOC = 16384 - 320;
/** `MAX_SKB_FRAGS * PAGE_SIZE`. */
const MAX_FRAG_BYTES = 17 * 4096;

/**
 * What a datagram of `len` bytes is charged to its writer: the kernel's
 * `skb->truesize` for `unix_dgram_sendmsg` on x86-64 (measured with
 * `SIOCOUTQ` on Linux 6.18 for every length up to the default send buffer):
 * the head is a power-of-two `kmalloc` (at least 512) holding the
 * cache-aligned bytes and 320 of `skb_shared_info`, plus 256 of `sk_buff`;
 * past `SKB_MAX_ALLOC` the tail goes to whole pages (at most 17).
 */
export function truesize(len: number): number {
  let frag = 0;
  if (len > SKB_MAX_ALLOC) {
    frag = Math.min(len - SKB_MAX_ALLOC, MAX_FRAG_BYTES);
    frag = Math.ceil(frag / 4096) * 4096;
  }
  const head = ((len - frag + 63) & ~63) + 320;
  let bucket = 512;
  while (bucket < head) bucket *= 2;
  return bucket + 256 + frag;
}

interface Datagram {
  bytes: Uint8Array;
  charge: number;
  writer: DgramPairEnd;
}

/** One end of a datagram socketpair. */
export class DgramPairEnd extends EmulatedDatagram<Datagram> {
  readonly kind = "socketpair-dgram";
  readonly domain = AF_UNIX;
  /** The connected peer (`unix_peer`); `null` once forgotten. */
  peer: DgramPairEnd | null = null;
  /** What our queued datagrams (in either end) charge us (`sk_wmem_alloc` - 1). */
  wmem = 0;
  open = true;

  constructor() {
    super(UNIX_BUFFER, UNIX_BUFFER);
  }

  protected override get sendCharge(): number {
    return this.wmem;
  }

  protected override get writable(): boolean {
    return (this.wmem + 1) * 4 <= this.sndbuf;
  }

  override sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    if (addr !== null) return nobody(addr);
    if (buf.length > this.sndbuf - 32) return -EMSGSIZE;
    // sock_alloc_send_pskb: a pending error, then SEND_SHUTDOWN, then room.
    if (this.soError) return -this.takeError();
    if (this.wrShut) return -EPIPE;
    if (this.wmem >= this.sndbuf) return -EAGAIN;
    const charge = truesize(buf.length);
    // Linux 6.18 looks the peer up after allocating the datagram.
    const other = this.peer;
    if (other === null) return this.#charged(charge, -ENOTCONN);
    if (!other.open) {
      // The peer died: forget it, drop our queue, and free the datagram.
      this.peer = null;
      this.#purge();
      this.#charged(charge);
      return -ECONNREFUSED;
    }
    if (other.peer !== null && other.peer !== this) return this.#charged(charge, -EPERM);
    if (other.rdShut) return this.#charged(charge, -EPIPE);
    this.wmem += charge;
    other.queue.push({ bytes: buf.slice(), charge, writer: this });
    other.notify(READABLE_KEY);
    return buf.length;
  }

  /** A datagram charged and freed at once (an error after `sock_alloc_send_pskb`). */
  #charged(charge: number, r = 0): number {
    this.wmem += charge;
    this.#free(this, charge);
    return r;
  }

  protected override sourceOf(_d: Datagram, out: SockAddr): void {
    copyAddr(UNNAMED, out);
  }

  protected override taken(d: Datagram): void {
    this.#free(d.writer, d.charge);
  }

  /** `sock_wfree`: the writer's charge falls; it hears `EPOLLOUT` if it is then writable. */
  #free(writer: DgramPairEnd, charge: number): void {
    writer.wmem -= charge;
    if (writer.open && (writer.wmem + 2) * 4 <= writer.sndbuf) writer.notify(OUT);
  }

  /** Drops every queued datagram, freeing each for its writer. */
  #purge(): void {
    for (let d = this.queue.shift(); d !== undefined; d = this.queue.shift()) {
      this.#free(d.writer, d.charge);
    }
  }

  override connect(addr: SockAddr | UnspecSockAddr): number {
    if (addr.family !== AF_UNSPEC) return addr.family === AF_UNIX ? nobody(addr) : -EINVAL;
    const old = this.peer;
    this.peer = null;
    if (old !== null && this.queue.length > 0) {
      this.#purge();
      if (old.open && old.peer === this) {
        old.soError = ECONNRESET;
        old.notify(EPOLLERR);
      }
    }
    return 0;
  }

  override listen(_backlog: number): number {
    return -EOPNOTSUPP;
  }

  override accept(_flags: number): number {
    return -EOPNOTSUPP;
  }

  override getsockname(out: SockAddr): number {
    copyAddr(UNNAMED, out);
    return 0;
  }

  override getpeername(out: SockAddr): number {
    if (this.peer === null) return -ENOTCONN;
    copyAddr(UNNAMED, out);
    return 0;
  }

  protected override onRelease(): void {
    this.open = false;
    // unix_release_sock: what we never read is freed; its writers hear of the room.
    this.#purge();
    this.peer = null;
  }
}

/** A Unix address no pair end answers to. */
function nobody(addr: SockAddr): number {
  if (addr.family !== AF_UNIX) return -EINVAL;
  return addr.path.length > 0 && addr.path[0] === "\0" ? -ECONNREFUSED : -ENOENT;
}

/** Two connected in-memory datagram sockets. */
export function makeDgramPair(): [DgramPairEnd, DgramPairEnd] {
  const a = new DgramPairEnd();
  const b = new DgramPairEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
