/**
 * A native socket's readiness ({@linkcode KernelReadiness}), the part of
 * `socket.ts` that the driver and the readiness core talk to, with the one
 * kernel fd it belongs to; the socket's calls tell it what each result says
 * of the mask ({@linkcode KernelReadiness.clear}, `uncertain`,
 * {@linkcode KernelReadiness.refresh}).
 *
 * Readiness is the kernel's mask, cached (mio's model):
 * - every kernel socket sits in the driver epoll edge-triggered; each event
 *   harvested there carries the kernel's mask at harvest time, which
 *   replaces the cached one and wakes the watchers with the bits that rose
 *   (or, for a repeated edge such as new bytes on a readable socket, with
 *   the bits that fired again);
 * - a read or write that would block (or comes back short) clears the
 *   cached `IN` or `OUT` bit, since the kernel signals the next arrival with
 *   a new edge;
 * - a call whose result leaves the level unknown (an `accept` that may have
 *   taken the last connection, a read that filled its buffer and may have
 *   emptied the queue, a write taken whole that may have crossed the
 *   kernel's writability threshold) marks that bit *uncertain*. The cached
 *   bit stays (right for edge-triggered use: the program keeps calling
 *   until `EAGAIN`, which settles it for free), and a `poll` whose interest
 *   includes an uncertain bit (a level-triggered re-check at harvest, an
 *   `EPOLL_CTL_ADD`/`MOD`, kqueue) first re-reads the mask with one
 *   `poll(2)`, so a level-triggered interest sees the kernel's level, as
 *   Linux's `ep_item_poll` calls `tcp_poll` at every harvest;
 * - calls that change the state in other ways (`connect`, `listen`,
 *   `shutdown`, options, errors) re-read the mask with `poll(2)`;
 * - a datagram socket is not a byte stream: a receive that fills less than
 *   its buffer says nothing about the queue (one datagram drained is not
 *   "empty"), and a send that succeeded may have used the last room. So
 *   every successful datagram receive leaves `IN` uncertain and every send
 *   `OUT`, settled as above; a `recvmmsg` that fills fewer slots than it was
 *   given found the queue empty (`IN` is cleared), a `sendmmsg` that sent
 *   fewer found it full (`OUT` is cleared).
 *
 * @module
 */

import { reserveFdTable } from "./_fd_table.ts";
import type { Libc } from "./libc.ts";
import { type Driver, DRIVER_EVENTS } from "./_driver.ts";
import { SocketDescription } from "../socket_description.ts";
import { EAGAIN } from "../../runtime/core/errno.ts";
import {
  EPOLLERR,
  EPOLLET,
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

/** The readable bits a read clears or leaves uncertain. */
export const IN = EPOLLIN | EPOLLRDNORM;
/** The writable bits a write clears or leaves uncertain. */
export const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
/** The key of Linux's wake-up for bytes or a connection (`sock_def_readable`). */
const READ_KEY = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND;
/** The key of Linux's wake-up for room to write (`sk_stream_write_space`). */
const WRITE_KEY = OUT;
/** Every bit the kernel may report for a registered socket. */
const KERNEL_BITS = ((DRIVER_EVENTS & ~EPOLLET) | EPOLLERR | EPOLLHUP) >>> 0;
/**
 * A kernel fd this high means a burst of descriptors has begun: reserve the
 * fd table then ({@linkcode reserveFdTable}). Half the 256 slots a Deno
 * process starts with, so the reservation comes before the first doubling.
 */
const BURST_FD = 128;

/** A socket description over one kernel fd, with the kernel's mask cached (see the module doc). */
export abstract class KernelReadiness extends SocketDescription {
  /** The kernel fd; -1 once closed. */
  protected kfd = -1;
  #token = 0;
  /** The kernel's mask as last seen. */
  protected mask = 0;
  /** Cached `IN`/`OUT` bits that a call of ours may have made stale (see the module doc). */
  protected uncertain = 0;
  /**
   * A pending error kqueue made us take from the kernel (it reports the error
   * without consuming it, and `SO_ERROR` is the only way to read it): held
   * here and given to the next read, write or `SO_ERROR`, as the kernel would.
   */
  protected heldError = 0;
  /** A connect is under way: its outcome is a state change, which wakes every watcher. */
  protected connecting = false;
  protected readonly libc: Libc;
  protected readonly driver: Driver;

  protected constructor(libc: Libc, driver: Driver) {
    super();
    this.libc = libc;
    this.driver = driver;
  }

  /**
   * Takes ownership of `kfd`: registers it with the driver and reads its mask
   * (or takes `mask` as given: an accepted socket is connected and writable,
   * and anything more, such as bytes already received, comes as the edge the
   * driver's `EPOLL_CTL_ADD` reports on the next poll).
   */
  protected adopt(kfd: number, mask?: number): number {
    // Many descriptors open already: a burst (sockets made in bulk, a flood
    // of connects or accepts) is under way. Grow the table once now rather
    // than doubling through it.
    if (kfd >= BURST_FD) reserveFdTable(this.libc, kfd);
    this.kfd = kfd;
    const token = this.driver.add(kfd, this);
    if (token < 0) {
      this.libc.close(kfd);
      this.kfd = -1;
      return token;
    }
    this.#token = token;
    this.mask = mask ?? this.pollKernel();
    return 0;
  }

  /** The kernel fd (for tests and diagnostics); -1 once closed. */
  get kernelFd(): number {
    return this.kfd;
  }

  poll(interest: number = KERNEL_BITS): number {
    // Settle a bit the caller asks about that a call of ours may have made
    // stale (one poll(2)); the edge-triggered path never gets here, since
    // its EAGAIN or the driver's next event settles the bit first.
    if ((this.uncertain & interest) !== 0) {
      this.uncertain = 0;
      if (this.kfd >= 0) this.mask = this.pollKernel();
    }
    return this.heldError === 0 ? this.mask : (this.mask | EPOLLERR) >>> 0;
  }

  /** From the driver: the kernel's mask at harvest time. */
  kernelEvents(events: number): void {
    const old = this.mask;
    const now = (events & KERNEL_BITS) >>> 0;
    this.mask = now;
    this.uncertain = 0;
    // Wake the watchers with the key the kernel woke its own with (what an
    // interest must ask for to be queued, ep_poll_callback): a state change
    // (connected, FIN, reset, error) wakes every one (sock_def_wakeup);
    // room to write, the writers (sk_stream_write_space); otherwise it was
    // bytes or a connection (sock_def_readable's key).
    const rose = now & ~old;
    // (Both directions shut: what still happens, a FIN or the last ACK, is a state change.)
    if (this.connecting || (rose & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) !== 0 || now & EPOLLHUP) {
      this.connecting = false;
      this.notify(0, true);
    } else {
      // What rose, each with its key; a repeated edge (nothing rose) is new
      // bytes when the socket is readable, else room to write. One edge may
      // also carry both wake-ups: bytes that arrived with the ACK that made
      // room (OUT rose while IN stayed up) are new bytes too, and a reader
      // that consumed its edge (EV_CLEAR, EPOLLET) must hear of them, so an
      // edge on a readable socket always wakes the readers (at worst a
      // spurious edge-triggered wake-up, never a lost one).
      let key = 0;
      if ((now & IN) !== 0) key |= READ_KEY;
      if ((rose & OUT) !== 0 || (rose === 0 && (now & (IN | OUT)) === OUT)) key |= WRITE_KEY;
      key |= rose & ~(IN | OUT);
      if (key === 0) key = now;
      if (key !== 0) this.notify(key >>> 0);
    }
  }

  /** The kernel said `bits` are down (a would-block or short result): certain now. */
  protected clear(bits: number): void {
    this.mask &= ~bits;
    this.uncertain &= ~bits;
  }

  /** The kernel's mask now (one `poll(2)`), or the cached one if that fails. */
  protected pollKernel(): number {
    const r = this.libc.poll1(this.kfd, KERNEL_BITS, 0);
    return r < 0 ? this.mask : r >>> 0;
  }

  /**
   * Re-reads the mask after a state change of ours, and wakes watchers for
   * what rose, or every watcher (`all`: a shutdown, whose sk_state_change
   * Linux signals to all whatever changed).
   */
  protected refresh(all = false): void {
    if (this.kfd < 0) return;
    // Wake-ups the kernel made before this change come first (and this
    // socket's own pending edge is taken now, not inside the notify below).
    this.driver.pollNow();
    const old = this.mask;
    this.mask = this.pollKernel();
    this.uncertain = 0;
    const raised = this.mask & ~old;
    if (all) this.notify(0, true);
    else if (raised !== 0) this.notify(raised >>> 0);
  }

  /**
   * Readiness after a receive of `want` datagrams that returned `r` (also a
   * stream socket's `recv` with flags: `MSG_PEEK` leaves the bytes queued).
   */
  protected received(r: number, got: number, want: number): number {
    if (r >= 0) {
      if (got < want) this.clear(IN); // recvmmsg found the queue empty
      else this.uncertain |= IN;
    } else if (r === -EAGAIN) {
      this.clear(IN);
    } else {
      this.refresh(); // an error (ECONNREFUSED from ICMP): EPOLLERR may fall
    }
    return r;
  }

  /** Readiness after a datagram send of `want` datagrams that returned `r`. */
  protected sent(r: number, got: number, want: number): number {
    if (r >= 0) {
      if (got < want) this.clear(OUT);
      else this.uncertain |= OUT;
    } else if (r === -EAGAIN) {
      this.clear(OUT);
    } else {
      this.refresh();
    }
    return r;
  }

  /** Gives up the held error, and re-reads the mask (`EPOLLERR` may fall). */
  protected takeHeld(): number {
    const e = this.heldError;
    this.heldError = 0;
    this.refresh();
    return e;
  }

  protected override onRelease(): void {
    const kfd = this.kfd;
    if (kfd < 0) return;
    this.kfd = -1;
    this.driver.remove(kfd, this.#token);
    this.libc.close(kfd);
    this.mask = 0;
  }
}
