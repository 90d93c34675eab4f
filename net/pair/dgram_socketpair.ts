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
import {
  AF_UNIX,
  AF_UNSPEC,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
  MSG_PEEK,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_DGRAM,
} from "../../runtime/core/constants.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import type { RecvMessage } from "../socket_description.ts";
import { EmulatedSocket } from "../socket_state.ts";
import { copyAddr, type SockAddr, type UnspecSockAddr } from "../sockaddr.ts";
import { DatagramQueue, deliver, MSG_OOB, READABLE_KEY } from "../_datagram_queue.ts";

/** Linux's default `SO_SNDBUF` for Unix sockets (`wmem_default`). */
const UNIX_BUFFER = 212992;
const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
const IN = EPOLLIN | EPOLLRDNORM;
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
export class DgramPairEnd extends EmulatedSocket {
  readonly kind = "socketpair-dgram";
  readonly domain = AF_UNIX;
  /** The connected peer (`unix_peer`); `null` once forgotten. */
  peer: DgramPairEnd | null = null;
  /** Datagrams sent to us, oldest first. */
  readonly #queue = new DatagramQueue<Datagram>();
  /** What our queued datagrams (in either end) charge us (`sk_wmem_alloc` - 1). */
  wmem = 0;
  rdShut = false;
  wrShut = false;
  open = true;

  constructor() {
    super(UNIX_BUFFER, UNIX_BUFFER);
  }

  override get sockType(): number {
    return SOCK_DGRAM;
  }

  poll(): number {
    let mask = 0;
    if (this.soError) mask |= EPOLLERR;
    if (this.rdShut) mask |= EPOLLRDHUP | IN;
    if (this.rdShut && this.wrShut) mask |= EPOLLHUP;
    if (this.#queue.length > 0) mask |= IN;
    if ((this.wmem + 1) * 4 <= this.sndbuf) mask |= OUT;
    return mask;
  }

  /** kqueue: the next datagram's size (BSD's and `FIONREAD`'s answer), send-buffer room. */
  override counts(out: FilterCounts): void {
    const mask = this.poll();
    out.readable = this.#queue.first?.bytes.length ?? 0;
    out.readEof = this.rdShut;
    out.writable = Math.max(this.sndbuf - this.wmem, 0);
    out.writeReady = (mask & EPOLLOUT) !== 0;
    out.writeEof = this.wrShut;
    out.error = this.soError;
    out.readReady = this.#queue.length > 0; // an empty datagram is still one to read
  }

  override read(buf: Uint8Array): number {
    // sock_read_iter: a read of nothing is 0, before any state is looked at.
    return buf.length === 0 ? 0 : this.#receive(buf, 0, null);
  }

  override write(buf: Uint8Array): number {
    return this.sendto(buf, 0, null);
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
    other.#queue.push({ bytes: buf.slice(), charge, writer: this });
    other.notify(READABLE_KEY);
    return buf.length;
  }

  /** A datagram charged and freed at once (an error after `sock_alloc_send_pskb`). */
  #charged(charge: number, r = 0): number {
    this.wmem += charge;
    this.#free(this, charge);
    return r;
  }

  override recvmsg(msg: RecvMessage, flags: number): number {
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    return this.#receive(msg.buf, flags, msg);
  }

  override recvmmsg(msgs: RecvMessage[], flags: number): number {
    for (const m of msgs) m.addr ??= {} as SockAddr;
    return super.recvmmsg(msgs, flags);
  }

  #receive(buf: Uint8Array, flags: number, msg: RecvMessage | null): number {
    if (this.soError) return -this.takeError();
    const d = this.#queue.first;
    if (d === undefined) return -EAGAIN;
    const n = deliver(d.bytes, buf, flags, msg);
    if (msg?.addr !== undefined) copyAddr({ family: AF_UNIX, path: "" }, msg.addr);
    if ((flags & MSG_PEEK) === 0) {
      this.#queue.shift();
      this.#free(d.writer, d.charge);
    }
    return n;
  }

  /** `sock_wfree`: the writer's charge falls; it hears `EPOLLOUT` if it is then writable. */
  #free(writer: DgramPairEnd, charge: number): void {
    writer.wmem -= charge;
    if (writer.open && (writer.wmem + 2) * 4 <= writer.sndbuf) writer.notify(OUT);
  }

  /** Drops every queued datagram, freeing each for its writer. */
  #purge(): void {
    for (let d = this.#queue.shift(); d !== undefined; d = this.#queue.shift()) {
      this.#free(d.writer, d.charge);
    }
  }

  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    if (how !== SHUT_WR) this.rdShut = true;
    if (how !== SHUT_RD) this.wrShut = true;
    this.notify(0, true);
    return 0;
  }

  override connect(addr: SockAddr | UnspecSockAddr): number {
    if (addr.family !== AF_UNSPEC) return addr.family === AF_UNIX ? nobody(addr) : -EINVAL;
    const old = this.peer;
    this.peer = null;
    if (old !== null && this.#queue.length > 0) {
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
    copyAddr({ family: AF_UNIX, path: "" }, out);
    return 0;
  }

  override getpeername(out: SockAddr): number {
    if (this.peer === null) return -ENOTCONN;
    copyAddr({ family: AF_UNIX, path: "" }, out);
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
