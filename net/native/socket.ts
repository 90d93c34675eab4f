/**
 * A stream or datagram socket that is a real kernel socket, reached through
 * FFI (`socket`, `bind`, `listen`, `accept4`, `connect`, `read`, `send`,
 * `sendto`, `recvmmsg`, …):
 * one {@linkcode NativeSocket} description per kernel fd, in the same
 * readiness core as every other description, so LT/ET/ONESHOT/EXCLUSIVE,
 * nesting and the object layer work with it unchanged.
 *
 * Semantics are the kernel's: `bind` reserves the port, a close with unread
 * data sends RST, the socket options and buffer sizes are the kernel's,
 * `SHUT_RD` is real, writability is the kernel's.
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
 * The kernel fd is closed exactly once, when the description's last fd is
 * closed; every kernel socket is non-blocking and close-on-exec.
 *
 * @module
 */

import { reserveFdTable } from "./_fd_table.ts";
import type { Libc } from "./libc.ts";
import { type Driver, DRIVER_EVENTS } from "./_driver.ts";
import { SocketDescription } from "../socket_description.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { installDescription } from "../../runtime/core/fd_table.ts";
import { close as closeFd } from "../../runtime/core/fd_table.ts";
import { type SockAddr, type UnspecSockAddr, validateAddr } from "../sockaddr.ts";
import type { RecvMessage, SendMessage } from "../socket_description.ts";
import { DatagramIo } from "./_datagram_io.ts";
import { EAGAIN, EINPROGRESS, EINVAL, ENOTCONN } from "../../runtime/core/errno.ts";
import {
  AF_UNIX,
  AF_UNSPEC,
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
  IPPROTO_TCP,
  MSG_NOSIGNAL,
  MSG_PEEK,
  SHUT_RD,
  SO_ERROR,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../../runtime/core/constants.ts";

const IN = EPOLLIN | EPOLLRDNORM;
const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
/** The key of Linux's wake-up for bytes or a connection (`sock_def_readable`). */
const READ_KEY = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND;
/** The key of Linux's wake-up for room to write (`sk_stream_write_space`). */
const WRITE_KEY = OUT;
/** Every bit the kernel may report for a registered socket. */
const KERNEL_BITS = ((DRIVER_EVENTS & ~EPOLLET) | EPOLLERR | EPOLLHUP) >>> 0;
const KERNEL_FLAGS = SOCK_NONBLOCK | SOCK_CLOEXEC;
const INT_MAX = 0x7fffffff;
/**
 * A kernel fd this high means a burst of descriptors has begun: reserve the
 * fd table then ({@linkcode reserveFdTable}). Half the 256 slots a Deno
 * process starts with, so the reservation comes before the first doubling.
 */
const BURST_FD = 128;
/** `ioctl` requests: bytes in the receive queue, bytes not yet acknowledged. */
const FIONREAD = 0x541b;
const TIOCOUTQ = 0x5411;
/** `getsockopt(IPPROTO_TCP, TCP_INFO)`; `tcpi_unacked` (offset 24) is the accept backlog of a listener. */
const TCP_INFO = 11;
const TCPI_UNACKED = 24;
/** `tcpi_bytes_received` (u64): bytes by which `rcv_nxt` advanced, a FIN counting one. */
const TCPI_BYTES_RECEIVED = 128;

/**
 * A JS number as a C `int` argument: integers in range pass unchanged;
 * anything else (NaN, fractions, out of range) becomes -1, a value every
 * call here rejects as C would reject a bad level, name or `how`.
 */
function cint(v: number): number {
  return Number.isInteger(v) && v >= -INT_MAX - 1 && v <= INT_MAX ? v : -1;
}

/** A kernel stream or datagram socket as an open description. */
export class NativeSocket extends SocketDescription {
  readonly kind: string;
  readonly domain: number;
  /** `SOCK_STREAM` or `SOCK_DGRAM`. */
  readonly #type: number;
  /** The kernel fd; -1 once closed. */
  #kfd = -1;
  #token = 0;
  #mask = 0;
  /** Cached `IN`/`OUT` bits that a call of ours may have made stale (see the module doc). */
  #uncertain = 0;
  /**
   * A pending error kqueue made us take from the kernel (it reports the error
   * without consuming it, and `SO_ERROR` is the only way to read it): held
   * here and given to the next read, write or `SO_ERROR`, as the kernel would.
   */
  #heldError = 0;
  /**
   * The peer's FIN arrived before the error kqueue took (TCP's `SOCK_DONE`):
   * then a read that finds no bytes returns 0 and the held error waits for a
   * write or `SO_ERROR` (tcp_recvmsg checks `SOCK_DONE` before `sk_err`).
   */
  #finSeen = false;
  /** Bytes read from the kernel socket so far (for {@linkcode NativeSocket.#finCame}). */
  #readTotal = 0;
  #listening = false;
  /** A connect is under way: its outcome is a state change, which wakes every watcher. */
  #connecting = false;
  /** Our own SHUT_WR (kqueue's write EOF; the kernel's mask keeps OUT after it). */
  #wrShut = false;
  static readonly #tcpInfo = new Uint8Array(TCPI_BYTES_RECEIVED + 8);
  static #io: DatagramIo | undefined;
  readonly #libc: Libc;
  readonly #driver: Driver;

  private constructor(libc: Libc, driver: Driver, domain: number, type: number) {
    super();
    this.#libc = libc;
    this.#driver = driver;
    this.domain = domain;
    this.#type = type;
    const dgram = type === SOCK_DGRAM;
    this.kind = domain === AF_UNIX ? (dgram ? "unix-dgram" : "unix") : (dgram ? "udp" : "tcp");
  }

  /** A new unconnected kernel socket, or `-errno` (EMFILE, ENFILE, ENOBUFS, …). */
  static create(
    libc: Libc,
    driver: Driver,
    domain: number,
    type: number,
    protocol: number,
  ): NativeSocket | number {
    const kfd = libc.socket(domain, type | KERNEL_FLAGS, protocol);
    if (kfd < 0) return kfd;
    const s = new NativeSocket(libc, driver, domain, type);
    const r = s.#adopt(kfd);
    return r < 0 ? r : s;
  }

  /**
   * Takes ownership of `kfd`: registers it with the driver and reads its mask
   * (or takes `mask` as given: an accepted socket is connected and writable,
   * and anything more, such as bytes already received, comes as the edge the
   * driver's `EPOLL_CTL_ADD` reports on the next poll).
   */
  #adopt(kfd: number, mask?: number): number {
    // Many descriptors open already: a burst (sockets made in bulk, a flood
    // of connects or accepts) is under way. Grow the table once now rather
    // than doubling through it.
    if (kfd >= BURST_FD) reserveFdTable(this.#libc, kfd);
    this.#kfd = kfd;
    const token = this.#driver.add(kfd, this);
    if (token < 0) {
      this.#libc.close(kfd);
      this.#kfd = -1;
      return token;
    }
    this.#token = token;
    this.#mask = mask ?? this.#pollKernel();
    return 0;
  }

  /** The kernel fd (for tests and diagnostics); -1 once closed. */
  get kernelFd(): number {
    return this.#kfd;
  }

  override get listening(): boolean {
    return this.#listening;
  }

  override get sockType(): number {
    return this.#type;
  }

  poll(interest: number = KERNEL_BITS): number {
    // Settle a bit the caller asks about that a call of ours may have made
    // stale (one poll(2)); the edge-triggered path never gets here, since
    // its EAGAIN or the driver's next event settles the bit first.
    if ((this.#uncertain & interest) !== 0) {
      this.#uncertain = 0;
      if (this.#kfd >= 0) this.#mask = this.#pollKernel();
    }
    return this.#heldError === 0 ? this.#mask : (this.#mask | EPOLLERR) >>> 0;
  }

  /** From the driver: the kernel's mask at harvest time. */
  kernelEvents(events: number): void {
    const old = this.#mask;
    const now = (events & KERNEL_BITS) >>> 0;
    this.#mask = now;
    this.#uncertain = 0;
    // Wake the watchers with the key the kernel woke its own with (what an
    // interest must ask for to be queued, ep_poll_callback): a state change
    // (connected, FIN, reset, error) wakes every one (sock_def_wakeup);
    // room to write, the writers (sk_stream_write_space); otherwise it was
    // bytes or a connection (sock_def_readable's key).
    const rose = now & ~old;
    // (Both directions shut: what still happens, a FIN or the last ACK, is a state change.)
    if (this.#connecting || (rose & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) !== 0 || now & EPOLLHUP) {
      this.#connecting = false;
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
  #clear(bits: number): void {
    this.#mask &= ~bits;
    this.#uncertain &= ~bits;
  }

  #pollKernel(): number {
    const r = this.#libc.poll1(this.#kfd, KERNEL_BITS, 0);
    return r < 0 ? this.#mask : r >>> 0;
  }

  /**
   * Whether the peer's FIN has arrived: `tcpi_bytes_received` counts the
   * FIN's sequence number with the data, so it exceeds the bytes read plus
   * the bytes queued (`FIONREAD`) exactly when a FIN came.
   */
  #finCame(): boolean {
    const info = NativeSocket.#tcpInfo;
    if (this.#libc.getsockopt(this.#kfd, IPPROTO_TCP, TCP_INFO, info) < TCPI_BYTES_RECEIVED + 8) {
      return false;
    }
    const v = new DataView(info.buffer);
    const received = v.getUint32(TCPI_BYTES_RECEIVED, true) +
      v.getUint32(TCPI_BYTES_RECEIVED + 4, true) * 0x100000000;
    const queued = this.#libc.ioctlInt(this.#kfd, FIONREAD);
    return queued >= 0 && received - this.#readTotal > queued;
  }

  /**
   * Re-reads the mask after a state change of ours, and wakes watchers for
   * what rose, or every watcher (`all`: a shutdown, whose sk_state_change
   * Linux signals to all whatever changed).
   */
  #refresh(all = false): void {
    if (this.#kfd < 0) return;
    // Wake-ups the kernel made before this change come first (and this
    // socket's own pending edge is taken now, not inside the notify below).
    this.#driver.pollNow();
    const old = this.#mask;
    this.#mask = this.#pollKernel();
    this.#uncertain = 0;
    const raised = this.#mask & ~old;
    if (all) this.notify(0, true);
    else if (raised !== 0) this.notify(raised >>> 0);
  }

  override read(buf: Uint8Array): number {
    if (this.#kfd < 0) return -EINVAL;
    if (this.#type === SOCK_DGRAM) {
      const r = this.#libc.read(this.#kfd, buf);
      return this.#heldError !== 0 && r < 0 ? -this.#takeHeld() : this.#received(r, 1, 1);
    }
    const n = this.#libc.read(this.#kfd, buf);
    if (n > 0) this.#readTotal += n;
    if (this.#heldError !== 0 && n <= 0 && buf.length > 0 && !(n === 0 && this.#finSeen)) {
      return -this.#takeHeld();
    }
    if (n > 0) {
      // At end of stream IN stays. Otherwise a short read emptied the receive
      // queue (the next arrival is a new edge); a full one may have.
      if ((this.#mask & EPOLLRDHUP) === 0) {
        if (n < buf.length) this.#clear(IN);
        else this.#uncertain |= IN;
      }
    } else if (n === -EAGAIN) {
      this.#clear(IN);
    } else if (n !== 0 || buf.length !== 0) {
      this.#refresh(); // end of stream or an error: the state moved
    }
    return n;
  }

  override write(buf: Uint8Array): number {
    if (this.#kfd < 0) return -EINVAL;
    if (this.#heldError !== 0) return -this.#takeHeld();
    if (this.#type === SOCK_DGRAM) {
      return this.#sent(this.#libc.send(this.#kfd, buf, MSG_NOSIGNAL), 1, 1);
    }
    const n = this.#libc.send(this.#kfd, buf, MSG_NOSIGNAL);
    if (n >= 0) {
      // A short write filled the send buffer. A whole one may still have
      // crossed tcp_poll's threshold (free space under half of what is queued).
      if (n < buf.length) this.#clear(OUT);
      else if (n > 0) this.#uncertain |= OUT;
    } else if (n === -EAGAIN) {
      this.#clear(OUT);
    } else {
      this.#refresh();
    }
    return n;
  }

  static #datagramIo(libc: Libc): DatagramIo {
    return (NativeSocket.#io ??= new DatagramIo(libc));
  }

  /**
   * Readiness after a receive of `want` datagrams that returned `r` (also a
   * stream socket's `recv` with flags: `MSG_PEEK` leaves the bytes queued).
   */
  #received(r: number, got: number, want: number): number {
    if (r >= 0) {
      if (got < want) this.#clear(IN); // recvmmsg found the queue empty
      else this.#uncertain |= IN;
    } else if (r === -EAGAIN) {
      this.#clear(IN);
    } else {
      this.#refresh(); // an error (ECONNREFUSED from ICMP): EPOLLERR may fall
    }
    return r;
  }

  /** Readiness after a datagram send of `want` datagrams that returned `r`. */
  #sent(r: number, got: number, want: number): number {
    if (r >= 0) {
      if (got < want) this.#clear(OUT);
      else this.#uncertain |= OUT;
    } else if (r === -EAGAIN) {
      this.#clear(OUT);
    } else {
      this.#refresh();
    }
    return r;
  }

  override sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    if (this.#kfd < 0) return -EINVAL;
    if (this.#heldError !== 0) return -this.#takeHeld();
    const io = NativeSocket.#datagramIo(this.#libc);
    return this.#sent(io.sendto(this.#kfd, buf, cint(flags) | MSG_NOSIGNAL, addr), 1, 1);
  }

  override recvmsg(msg: RecvMessage, flags: number): number {
    if (this.#kfd < 0) return -EINVAL;
    const io = NativeSocket.#datagramIo(this.#libc);
    const r = io.recvmsg(this.#kfd, this.domain, msg, cint(flags));
    if (this.#heldError !== 0 && r < 0) return -this.#takeHeld();
    // A stream's bytes taken (MSG_TRUNC takes without copying) count toward #finCame.
    if (r > 0 && this.#type !== SOCK_DGRAM && (flags & MSG_PEEK) === 0) this.#readTotal += r;
    return this.#received(r, 1, 1);
  }

  override sendmmsg(msgs: readonly SendMessage[], flags: number): number {
    if (this.#kfd < 0) return -EINVAL;
    if (this.#heldError !== 0) return -this.#takeHeld();
    const io = NativeSocket.#datagramIo(this.#libc);
    const r = io.sendmmsg(this.#kfd, msgs, cint(flags) | MSG_NOSIGNAL);
    return this.#sent(r, r, msgs.length);
  }

  override recvmmsg(msgs: RecvMessage[], flags: number): number {
    if (this.#kfd < 0) return -EINVAL;
    const io = NativeSocket.#datagramIo(this.#libc);
    const r = io.recvmmsg(this.#kfd, this.domain, msgs, cint(flags));
    if (this.#heldError !== 0 && r < 0) return -this.#takeHeld();
    if (this.#type !== SOCK_DGRAM && (flags & MSG_PEEK) === 0) {
      for (let i = 0; i < r; i++) this.#readTotal += msgs[i].length!;
    }
    return this.#received(r, r, msgs.length);
  }

  /**
   * kqueue's view, from the kernel: pending connections (a TCP listener's
   * backlog through `TCP_INFO`), bytes to read (`FIONREAD`), send-buffer room
   * (`SO_SNDBUF` less `TIOCOUTQ`), EOF from the mask, and the pending error
   * (taken from the kernel and held until a read, write or `SO_ERROR` takes
   * it; a read after the peer's FIN returns 0 and leaves it held, as Linux's
   * does).
   */
  override counts(out: FilterCounts): void {
    const libc = this.#libc;
    if ((this.#mask & EPOLLERR) !== 0 && this.#heldError === 0 && this.#kfd >= 0) {
      // Was the FIN first? Then reads keep answering 0 (see #finSeen).
      if (this.domain !== AF_UNIX && !this.#listening) this.#finSeen = this.#finCame();
      const e = libc.getsockoptInt(this.#kfd, SOL_SOCKET, SO_ERROR);
      if (e > 0) this.#heldError = e;
      this.#mask = this.#pollKernel();
    }
    const mask = this.poll();
    out.error = this.#heldError;
    if (!this.#listening && (mask & (EPOLLHUP | EPOLLRDHUP)) === EPOLLHUP) {
      // Never connected (tcp_poll: HUP without RDHUP): both filters silent.
      out.readable = out.writable = 0;
      out.readEof = out.writeEof = out.writeReady = false;
      return;
    }
    out.readEof = (mask & EPOLLRDHUP) !== 0 || (mask & EPOLLERR) !== 0;
    out.writeEof = this.#wrShut || (mask & (EPOLLHUP | EPOLLERR)) !== 0;
    out.writeReady = (mask & EPOLLOUT) !== 0 && !out.writeEof;
    out.readable = 0;
    out.writable = 0;
    if (this.#kfd < 0) return;
    if (this.#listening) {
      if (this.domain === AF_UNIX) {
        out.readable = mask & EPOLLIN ? 1 : 0;
      } else {
        const info = NativeSocket.#tcpInfo;
        const n = libc.getsockopt(this.#kfd, IPPROTO_TCP, TCP_INFO, info);
        out.readable = n >= TCPI_UNACKED + 4
          ? new DataView(info.buffer).getUint32(TCPI_UNACKED, true)
          : (mask & EPOLLIN ? 1 : 0);
      }
      out.writeReady = false;
      return;
    }
    // FIONREAD: bytes queued on a stream, the next datagram's size on a datagram socket.
    const rx = libc.ioctlInt(this.#kfd, FIONREAD);
    out.readable = rx > 0 ? rx : 0;
    if (this.#type === SOCK_DGRAM) out.readReady = (mask & EPOLLIN) !== 0; // an empty datagram too
    if (out.writeReady) {
      const q = libc.ioctlInt(this.#kfd, TIOCOUTQ);
      const sndbuf = libc.getsockoptInt(this.#kfd, SOL_SOCKET, SO_SNDBUF);
      out.writable = Math.max(sndbuf - (q > 0 ? q : 0), 0);
    }
  }

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    return this.#libc.bind(this.#kfd, addr);
  }

  override listen(backlog: number): number {
    const b = Number.isFinite(backlog) ? Math.max(Math.min(Math.trunc(backlog), INT_MAX), -1) : 0;
    const r = this.#libc.listen(this.#kfd, b);
    if (r === 0) {
      // Grow the kernel's fd table now, not inside a burst of accepts.
      reserveFdTable(this.#libc, this.#kfd);
      this.#listening = true;
      this.#refresh();
    }
    return r;
  }

  override accept(_flags: number): number {
    // Reserve the fd first: with no fd free the connection stays queued.
    const sock = new NativeSocket(this.#libc, this.#driver, this.domain, SOCK_STREAM);
    const fd = installDescription(sock);
    if (fd < 0) return fd;
    const kfd = this.#libc.accept4(this.#kfd, KERNEL_FLAGS);
    if (kfd < 0) {
      closeFd(fd);
      if (kfd === -EAGAIN) this.#clear(IN);
      return kfd;
    }
    // It may have been the last pending connection.
    this.#uncertain |= IN;
    const r = sock.#adopt(kfd, this.domain === AF_UNIX ? OUT : EPOLLOUT | EPOLLWRNORM);
    if (r < 0) {
      closeFd(fd);
      return r;
    }
    return fd;
  }

  override connect(addr: SockAddr | UnspecSockAddr): number {
    // AF_UNSPEC dissolves a datagram socket's peer (and disconnects TCP): the kernel's call.
    const bad = addr.family === AF_UNSPEC ? 0 : validateAddr(this.domain, addr);
    if (bad) return bad;
    this.#connecting = true;
    const r = this.#libc.connect(this.#kfd, addr);
    if (r !== -EINPROGRESS) this.#connecting = false;
    this.#refresh();
    return r;
  }

  override shutdown(how: number): number {
    const r = this.#libc.shutdown(this.#kfd, cint(how));
    if (r === 0 && how !== SHUT_RD) this.#wrShut = true;
    // inet_shutdown signals a state change to every watcher once `how` is
    // valid, even when it then answers ENOTCONN (a closed or reset socket).
    if (r === 0 || r === -ENOTCONN) this.#refresh(true);
    return r;
  }

  override getsockname(out: SockAddr): number {
    return this.#libc.getsockname(this.#kfd, out);
  }

  override getpeername(out: SockAddr): number {
    return this.#libc.getpeername(this.#kfd, out);
  }

  #takeHeld(): number {
    const e = this.#heldError;
    this.#heldError = 0;
    this.#refresh();
    return e;
  }

  override getsockopt(level: number, name: number): number {
    if (level === SOL_SOCKET && name === SO_ERROR && this.#heldError !== 0) return this.#takeHeld();
    const v = this.#libc.getsockoptInt(this.#kfd, cint(level), cint(name));
    if (level === SOL_SOCKET && name === SO_ERROR) this.#refresh(); // EPOLLERR may fall
    return v;
  }

  override setsockopt(level: number, name: number, value: number): number {
    if (!Number.isFinite(value)) return -EINVAL;
    const v = Math.max(Math.min(Math.trunc(value), INT_MAX), -INT_MAX - 1);
    const r = this.#libc.setsockoptInt(this.#kfd, cint(level), cint(name), v);
    if (r === 0) this.#refresh();
    return r;
  }

  override takeError(): number {
    return this.getsockopt(SOL_SOCKET, SO_ERROR);
  }

  protected override onRelease(): void {
    const kfd = this.#kfd;
    if (kfd < 0) return;
    this.#kfd = -1;
    this.#driver.remove(kfd, this.#token);
    this.#libc.close(kfd);
    this.#mask = 0;
  }
}
