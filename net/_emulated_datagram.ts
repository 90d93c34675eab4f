/**
 * What the emulated datagram sockets (the in-memory pair,
 * `pair/dgram_socketpair.ts`, and the Deno backend's UDP,
 * `deno/datagram.ts`) do alike, over their queue of received datagrams
 * (`_datagram_queue.ts`):
 *
 * - readiness: `EPOLLIN` while a datagram is queued (an empty one too),
 *   `EPOLLOUT` while the kind's own rule says a send has room, `SHUT_RD`
 *   giving `EPOLLIN | EPOLLRDHUP` and both directions `EPOLLHUP`;
 * - kqueue's counts: the next datagram's size, the room left in `SO_SNDBUF`;
 * - a receive: a pending error first, then one datagram with `recv(2)`'s
 *   rules (`MSG_PEEK` leaves it queued, `MSG_OOB` is `-EOPNOTSUPP`), and
 *   `read` of nothing is 0 before anything is looked at (`sock_read_iter`);
 * - `shutdown`, which marks only this end and wakes its watchers.
 *
 * How a datagram is sent, what it is charged, and what taking one frees are
 * each kind's own.
 *
 * @module
 */

import { EAGAIN, EINVAL, EOPNOTSUPP } from "../runtime/core/errno.ts";
import {
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
} from "../runtime/core/constants.ts";
import type { FilterCounts } from "../runtime/core/description.ts";
import type { RecvMessage } from "./socket_description.ts";
import { EmulatedSocket } from "./socket_state.ts";
import type { SockAddr } from "./sockaddr.ts";
import { DatagramQueue, deliver, MSG_OOB } from "./_datagram_queue.ts";

const IN = EPOLLIN | EPOLLRDNORM;
/** The bits a datagram socket with room to send reports. */
export const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

/** An emulated datagram socket: a queue of received datagrams of type `T`. */
export abstract class EmulatedDatagram<T extends { bytes: Uint8Array }> extends EmulatedSocket {
  /** Datagrams received, oldest first. */
  protected readonly queue: DatagramQueue<T> = new DatagramQueue<T>();
  /** `SHUT_RD` on this end. */
  rdShut = false;
  /** `SHUT_WR` on this end. */
  wrShut = false;

  /** What this socket's datagrams not yet freed charge against `SO_SNDBUF`. */
  protected abstract get sendCharge(): number;
  /** Whether a send has room now (`EPOLLOUT`). */
  protected abstract get writable(): boolean;
  /** Fills `out` with the address `d` came from. */
  protected abstract sourceOf(d: T, out: SockAddr): void;
  /** `d` was taken from the queue (not peeked): free what it held. */
  protected abstract taken(d: T): void;

  override get sockType(): number {
    return SOCK_DGRAM;
  }

  poll(): number {
    let mask = 0;
    if (this.soError) mask |= EPOLLERR;
    if (this.rdShut) mask |= EPOLLRDHUP | IN;
    if (this.rdShut && this.wrShut) mask |= EPOLLHUP;
    if (this.queue.length > 0) mask |= IN;
    if (this.writable) mask |= OUT;
    return mask;
  }

  /** kqueue: the next datagram's size (BSD's and `FIONREAD`'s answer), send-buffer room. */
  override counts(out: FilterCounts): void {
    out.readable = this.queue.first?.bytes.length ?? 0;
    out.readReady = this.queue.length > 0; // an empty datagram is still one to read
    out.readEof = this.rdShut;
    out.writable = Math.max(this.sndbuf - this.sendCharge, 0);
    out.writeReady = this.writable;
    out.writeEof = this.wrShut;
    out.error = this.soError;
  }

  override read(buf: Uint8Array): number {
    // sock_read_iter: a read of nothing is 0, before any state is looked at.
    return buf.length === 0 ? 0 : this.#receive(buf, 0, null);
  }

  override write(buf: Uint8Array): number {
    return this.sendto(buf, 0, null);
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
    const d = this.queue.first;
    if (d === undefined) return -EAGAIN;
    const n = deliver(d.bytes, buf, flags, msg);
    if (msg?.addr !== undefined) this.sourceOf(d, msg.addr);
    if ((flags & MSG_PEEK) === 0) {
      this.queue.shift();
      this.taken(d);
    }
    return n;
  }

  /** Marks this end only (`unix_shutdown` mirrors onto the peer for streams only). */
  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    if (how !== SHUT_WR) this.rdShut = true;
    if (how !== SHUT_RD) this.wrShut = true;
    this.notify(0, true);
    return 0;
  }
}
