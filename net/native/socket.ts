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
 * Readiness is the kernel's mask, cached, as `_kernel_readiness.ts` tells;
 * this module makes the calls and says, after each, what its result tells
 * of the mask.
 *
 * The kernel fd is closed exactly once, when the description's last fd is
 * closed; every kernel socket is non-blocking and close-on-exec.
 *
 * @module
 */

import { reserveFdTable } from "./_fd_table.ts";
import type { Libc } from "./libc.ts";
import type { Driver } from "./_driver.ts";
import { IN, KernelReadiness, OUT } from "./_kernel_readiness.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { close as closeFd, installDescription } from "../../runtime/core/fd_table.ts";
import { type SockAddr, type UnspecSockAddr, validateAddr } from "../sockaddr.ts";
import type { RecvMessage, SendMessage } from "../socket_description.ts";
import { DatagramIo } from "./_datagram_io.ts";
import { EAGAIN, EINPROGRESS, EINVAL, ENOTCONN } from "../../runtime/core/errno.ts";
import {
  AF_UNIX,
  AF_UNSPEC,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
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

const KERNEL_FLAGS = SOCK_NONBLOCK | SOCK_CLOEXEC;
const INT_MAX = 0x7fffffff;
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
export class NativeSocket extends KernelReadiness {
  readonly kind: string;
  readonly domain: number;
  /** `SOCK_STREAM` or `SOCK_DGRAM`. */
  readonly #type: number;
  /**
   * The peer's FIN arrived before the error kqueue took (TCP's `SOCK_DONE`):
   * then a read that finds no bytes returns 0 and the held error waits for a
   * write or `SO_ERROR` (tcp_recvmsg checks `SOCK_DONE` before `sk_err`).
   */
  #finSeen = false;
  /** Bytes read from the kernel socket so far (for {@linkcode NativeSocket.#finCame}). */
  #readTotal = 0;
  #listening = false;
  /** Our own SHUT_WR (kqueue's write EOF; the kernel's mask keeps OUT after it). */
  #wrShut = false;
  static readonly #tcpInfo = new Uint8Array(TCPI_BYTES_RECEIVED + 8);
  static #io: DatagramIo | undefined;

  private constructor(libc: Libc, driver: Driver, domain: number, type: number) {
    super(libc, driver);
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
    const r = s.adopt(kfd);
    return r < 0 ? r : s;
  }

  override get listening(): boolean {
    return this.#listening;
  }

  override get sockType(): number {
    return this.#type;
  }

  /**
   * Whether the peer's FIN has arrived: `tcpi_bytes_received` counts the
   * FIN's sequence number with the data, so it exceeds the bytes read plus
   * the bytes queued (`FIONREAD`) exactly when a FIN came.
   */
  #finCame(): boolean {
    const info = NativeSocket.#tcpInfo;
    if (this.libc.getsockopt(this.kfd, IPPROTO_TCP, TCP_INFO, info) < TCPI_BYTES_RECEIVED + 8) {
      return false;
    }
    const v = new DataView(info.buffer);
    const received = v.getUint32(TCPI_BYTES_RECEIVED, true) +
      v.getUint32(TCPI_BYTES_RECEIVED + 4, true) * 0x100000000;
    const queued = this.libc.ioctlInt(this.kfd, FIONREAD);
    return queued >= 0 && received - this.#readTotal > queued;
  }

  override read(buf: Uint8Array): number {
    if (this.kfd < 0) return -EINVAL;
    if (this.#type === SOCK_DGRAM) {
      const r = this.libc.read(this.kfd, buf);
      return this.heldError !== 0 && r < 0 ? -this.takeHeld() : this.received(r, 1, 1);
    }
    const n = this.libc.read(this.kfd, buf);
    if (n > 0) this.#readTotal += n;
    if (this.heldError !== 0 && n <= 0 && buf.length > 0 && !(n === 0 && this.#finSeen)) {
      return -this.takeHeld();
    }
    if (n > 0) {
      // At end of stream IN stays. Otherwise a short read emptied the receive
      // queue (the next arrival is a new edge); a full one may have.
      if ((this.mask & EPOLLRDHUP) === 0) {
        if (n < buf.length) this.clear(IN);
        else this.uncertain |= IN;
      }
    } else if (n === -EAGAIN) {
      this.clear(IN);
    } else if (n !== 0 || buf.length !== 0) {
      this.refresh(); // end of stream or an error: the state moved
    }
    return n;
  }

  override write(buf: Uint8Array): number {
    if (this.kfd < 0) return -EINVAL;
    if (this.heldError !== 0) return -this.takeHeld();
    if (this.#type === SOCK_DGRAM) {
      return this.sent(this.libc.send(this.kfd, buf, MSG_NOSIGNAL), 1, 1);
    }
    const n = this.libc.send(this.kfd, buf, MSG_NOSIGNAL);
    if (n >= 0) {
      // A short write filled the send buffer. A whole one may still have
      // crossed tcp_poll's threshold (free space under half of what is queued).
      if (n < buf.length) this.clear(OUT);
      else if (n > 0) this.uncertain |= OUT;
    } else if (n === -EAGAIN) {
      this.clear(OUT);
    } else {
      this.refresh();
    }
    return n;
  }

  static #datagramIo(libc: Libc): DatagramIo {
    return (NativeSocket.#io ??= new DatagramIo(libc));
  }

  override sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    if (this.kfd < 0) return -EINVAL;
    if (this.heldError !== 0) return -this.takeHeld();
    const io = NativeSocket.#datagramIo(this.libc);
    return this.sent(io.sendto(this.kfd, buf, cint(flags) | MSG_NOSIGNAL, addr), 1, 1);
  }

  override recvmsg(msg: RecvMessage, flags: number): number {
    if (this.kfd < 0) return -EINVAL;
    const io = NativeSocket.#datagramIo(this.libc);
    const r = io.recvmsg(this.kfd, this.domain, msg, cint(flags));
    if (this.heldError !== 0 && r < 0) return -this.takeHeld();
    // A stream's bytes taken (MSG_TRUNC takes without copying) count toward #finCame.
    if (r > 0 && this.#type !== SOCK_DGRAM && (flags & MSG_PEEK) === 0) this.#readTotal += r;
    return this.received(r, 1, 1);
  }

  override sendmmsg(msgs: readonly SendMessage[], flags: number): number {
    if (this.kfd < 0) return -EINVAL;
    if (this.heldError !== 0) return -this.takeHeld();
    const io = NativeSocket.#datagramIo(this.libc);
    const r = io.sendmmsg(this.kfd, msgs, cint(flags) | MSG_NOSIGNAL);
    return this.sent(r, r, msgs.length);
  }

  override recvmmsg(msgs: RecvMessage[], flags: number): number {
    if (this.kfd < 0) return -EINVAL;
    const io = NativeSocket.#datagramIo(this.libc);
    const r = io.recvmmsg(this.kfd, this.domain, msgs, cint(flags));
    if (this.heldError !== 0 && r < 0) return -this.takeHeld();
    if (this.#type !== SOCK_DGRAM && (flags & MSG_PEEK) === 0) {
      for (let i = 0; i < r; i++) this.#readTotal += msgs[i].length!;
    }
    return this.received(r, r, msgs.length);
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
    const libc = this.libc;
    if ((this.mask & EPOLLERR) !== 0 && this.heldError === 0 && this.kfd >= 0) {
      // Was the FIN first? Then reads keep answering 0 (see #finSeen).
      if (this.domain !== AF_UNIX && !this.#listening) this.#finSeen = this.#finCame();
      const e = libc.getsockoptInt(this.kfd, SOL_SOCKET, SO_ERROR);
      if (e > 0) this.heldError = e;
      this.mask = this.pollKernel();
    }
    const mask = this.poll();
    out.error = this.heldError;
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
    if (this.kfd < 0) return;
    if (this.#listening) {
      if (this.domain === AF_UNIX) {
        out.readable = mask & EPOLLIN ? 1 : 0;
      } else {
        const info = NativeSocket.#tcpInfo;
        const n = libc.getsockopt(this.kfd, IPPROTO_TCP, TCP_INFO, info);
        out.readable = n >= TCPI_UNACKED + 4
          ? new DataView(info.buffer).getUint32(TCPI_UNACKED, true)
          : (mask & EPOLLIN ? 1 : 0);
      }
      out.writeReady = false;
      return;
    }
    // FIONREAD: bytes queued on a stream, the next datagram's size on a datagram socket.
    const rx = libc.ioctlInt(this.kfd, FIONREAD);
    out.readable = rx > 0 ? rx : 0;
    if (this.#type === SOCK_DGRAM) out.readReady = (mask & EPOLLIN) !== 0; // an empty datagram too
    if (out.writeReady) {
      const q = libc.ioctlInt(this.kfd, TIOCOUTQ);
      const sndbuf = libc.getsockoptInt(this.kfd, SOL_SOCKET, SO_SNDBUF);
      out.writable = Math.max(sndbuf - (q > 0 ? q : 0), 0);
    }
  }

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    return this.libc.bind(this.kfd, addr);
  }

  override listen(backlog: number): number {
    const b = Number.isFinite(backlog) ? Math.max(Math.min(Math.trunc(backlog), INT_MAX), -1) : 0;
    const r = this.libc.listen(this.kfd, b);
    if (r === 0) {
      // Grow the kernel's fd table now, not inside a burst of accepts.
      reserveFdTable(this.libc, this.kfd);
      this.#listening = true;
      this.refresh();
    }
    return r;
  }

  override accept(_flags: number): number {
    // Reserve the fd first: with no fd free the connection stays queued.
    const sock = new NativeSocket(this.libc, this.driver, this.domain, SOCK_STREAM);
    const fd = installDescription(sock);
    if (fd < 0) return fd;
    const kfd = this.libc.accept4(this.kfd, KERNEL_FLAGS);
    if (kfd < 0) {
      closeFd(fd);
      if (kfd === -EAGAIN) this.clear(IN);
      return kfd;
    }
    // It may have been the last pending connection.
    this.uncertain |= IN;
    const r = sock.adopt(kfd, this.domain === AF_UNIX ? OUT : EPOLLOUT | EPOLLWRNORM);
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
    this.connecting = true;
    const r = this.libc.connect(this.kfd, addr);
    if (r !== -EINPROGRESS) this.connecting = false;
    this.refresh();
    return r;
  }

  override shutdown(how: number): number {
    const r = this.libc.shutdown(this.kfd, cint(how));
    if (r === 0 && how !== SHUT_RD) this.#wrShut = true;
    // inet_shutdown signals a state change to every watcher once `how` is
    // valid, even when it then answers ENOTCONN (a closed or reset socket).
    if (r === 0 || r === -ENOTCONN) this.refresh(true);
    return r;
  }

  override getsockname(out: SockAddr): number {
    return this.libc.getsockname(this.kfd, out);
  }

  override getpeername(out: SockAddr): number {
    return this.libc.getpeername(this.kfd, out);
  }

  override getsockopt(level: number, name: number): number {
    if (level === SOL_SOCKET && name === SO_ERROR && this.heldError !== 0) return this.takeHeld();
    const v = this.libc.getsockoptInt(this.kfd, cint(level), cint(name));
    if (level === SOL_SOCKET && name === SO_ERROR) this.refresh(); // EPOLLERR may fall
    return v;
  }

  override setsockopt(level: number, name: number, value: number): number {
    if (!Number.isFinite(value)) return -EINVAL;
    const v = Math.max(Math.min(Math.trunc(value), INT_MAX), -INT_MAX - 1);
    const r = this.libc.setsockoptInt(this.kfd, cint(level), cint(name), v);
    if (r === 0) this.refresh();
    return r;
  }

  override takeError(): number {
    return this.getsockopt(SOL_SOCKET, SO_ERROR);
  }
}
