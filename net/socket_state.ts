/**
 * What every stream socket shares, in memory (`socketpair`) or over Deno
 * (TCP and Unix): addresses, shutdown state, the pending error, and the
 * socket options. The socket calls (`bind`, `shutdown`, `getsockopt`, …)
 * dispatch to these methods; a kind of socket overrides what it supports.
 *
 * @module
 */

import { Description } from "../runtime/core/description.ts";
import type { SockAddr, UnspecSockAddr } from "./sockaddr.ts";
import { EINVAL, EISCONN, ENOPROTOOPT, ENOTCONN, EOPNOTSUPP } from "../runtime/core/errno.ts";
import {
  AF_INET6,
  AF_UNIX,
  IPPROTO_TCP,
  SO_ACCEPTCONN,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../runtime/core/constants.ts";
import { MSG_DONTWAIT, MSG_NOSIGNAL } from "../runtime/core/constants.ts";

/** One datagram for `sendmmsg`: the bytes and, on an unconnected socket, where to. */
export interface SendMessage {
  /** The datagram. */
  buf: Uint8Array;
  /** The destination; omitted or `null` sends to the connected peer. */
  addr?: SockAddr | null;
}

/**
 * One slot for `recvmmsg` (and `recvfrom`): the buffer to fill, and what the
 * call reports about the datagram it stored there.
 */
export interface RecvMessage {
  /** Where the datagram goes; the rest of a longer one is discarded. */
  buf: Uint8Array;
  /** Set by the call: bytes stored (the real length with `MSG_TRUNC` in the flags). */
  length?: number;
  /** Set by the call (filled in place when it is an object): the sender. */
  addr?: SockAddr;
  /** Set by the call: `MSG_TRUNC` when the datagram was longer than `buf`, else 0. */
  flags?: number;
}

/** Linux's `sysctl_wmem_max` and `sysctl_rmem_max` defaults. */
const BUF_MAX = 212992;
/** Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF`. */
const MIN_SNDBUF = 4608;
const MIN_RCVBUF = 2304;

/**
 * The base of every stream socket description. Defaults answer as an
 * unconnected socket that supports none of the operation would.
 */
export abstract class SocketDescription extends Description {
  /** The address family: AF_UNIX, AF_INET or AF_INET6. */
  abstract readonly domain: number;
  /** The pending error (`SO_ERROR`), 0 when none. */
  soError = 0;
  /** Send buffer size, as `getsockopt(SO_SNDBUF)` reports it. */
  sndbuf: number;
  /** Receive buffer size, as `getsockopt(SO_RCVBUF)` reports it. */
  rcvbuf: number;
  /** Boolean options kept as given. */
  reuseAddr = false;
  reusePort = false;
  keepAlive = false;
  noDelay = false;
  /** `SO_BROADCAST` (any socket may hold it; UDP sends to a broadcast address need it). */
  broadcast = false;

  constructor(sndbuf: number, rcvbuf: number) {
    super();
    this.sndbuf = sndbuf;
    this.rcvbuf = rcvbuf;
  }

  /** `SOCK_STREAM` or `SOCK_DGRAM` (what `SO_TYPE` reports). */
  get sockType(): number {
    return SOCK_STREAM;
  }

  /** Whether the socket is listening (`SO_ACCEPTCONN`). */
  get listening(): boolean {
    return false;
  }

  bind(_addr: SockAddr): number {
    return -EINVAL;
  }
  listen(_backlog: number): number {
    return -EOPNOTSUPP;
  }
  accept(_flags: number): number {
    return -EINVAL;
  }
  connect(_addr: SockAddr | UnspecSockAddr): number {
    return -EISCONN;
  }

  /**
   * Sends one message (`sendto(2)`). A stream socket takes no address here
   * and no flags beyond `MSG_DONTWAIT`/`MSG_NOSIGNAL`: it writes.
   */
  sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    if ((flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL)) !== 0) return -EOPNOTSUPP;
    return addr === null ? this.write(buf) : -EISCONN;
  }

  /**
   * Receives one message into `msg.buf` (`recvfrom(2)`/`recvmsg(2)`) and
   * sets `msg.length`, `msg.flags` and (in place, when it is an object)
   * `msg.addr`. A stream socket takes no flags beyond `MSG_DONTWAIT`: it
   * reads, and leaves `msg.addr` alone (as Linux leaves a TCP sender's
   * address unset).
   */
  recvmsg(msg: RecvMessage, flags: number): number {
    if ((flags & ~MSG_DONTWAIT) !== 0) return -EOPNOTSUPP;
    const n = this.read(msg.buf);
    if (n >= 0) {
      msg.length = n;
      msg.flags = 0;
    }
    return n;
  }

  /**
   * Sends messages in order until one would block or fails (`sendmmsg(2)`):
   * how many were sent, or the first one's `-errno` when none was.
   */
  sendmmsg(msgs: readonly SendMessage[], flags: number): number {
    let i = 0;
    for (; i < msgs.length; i++) {
      const m = msgs[i];
      const r = this.sendto(m.buf, flags, m.addr ?? null);
      if (r < 0) return i > 0 ? i : r;
    }
    return i;
  }

  /**
   * Receives into the slots in order until none is queued or a receive fails
   * (`recvmmsg(2)`): how many were filled, or the first one's `-errno` when
   * none was.
   */
  recvmmsg(msgs: RecvMessage[], flags: number): number {
    let i = 0;
    for (; i < msgs.length; i++) {
      const r = this.recvmsg(msgs[i], flags);
      if (r < 0) return i > 0 ? i : r;
    }
    return i;
  }
  shutdown(_how: number): number {
    return -ENOTCONN;
  }
  getsockname(_out: SockAddr): number {
    return -ENOTCONN;
  }
  getpeername(_out: SockAddr): number {
    return -ENOTCONN;
  }

  /** Returns and clears the pending error (reading `SO_ERROR` clears it). */
  takeError(): number {
    const e = this.soError;
    this.soError = 0;
    return e;
  }

  getsockopt(level: number, name: number): number {
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_TYPE:
          return this.sockType;
        case SO_ERROR:
          return this.takeError();
        case SO_SNDBUF:
          return this.sndbuf;
        case SO_RCVBUF:
          return this.rcvbuf;
        case SO_REUSEADDR:
          return +this.reuseAddr;
        case SO_REUSEPORT:
          return +this.reusePort;
        case SO_KEEPALIVE:
          return +this.keepAlive;
        case SO_BROADCAST:
          return +this.broadcast;
        case SO_ACCEPTCONN:
          return +this.listening;
      }
      return -ENOPROTOOPT;
    }
    if (level === IPPROTO_TCP && this.domain !== AF_UNIX) {
      if (name === TCP_NODELAY) return +this.noDelay;
      return -ENOPROTOOPT;
    }
    // do_ip_getsockopt answers EOPNOTSUPP for a foreign level; ipv6_getsockopt ENOPROTOOPT.
    return this.domain === AF_INET6 ? -ENOPROTOOPT : -EOPNOTSUPP;
  }

  setsockopt(level: number, name: number, value: number): number {
    if (!Number.isFinite(value)) return -EINVAL;
    const on = value !== 0;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_SNDBUF:
          // Linux: clamp to wmem_max as a u32 (negative is huge), double, floor.
          this.sndbuf = Math.max(Math.min(value < 0 ? BUF_MAX : value, BUF_MAX) * 2, MIN_SNDBUF);
          break;
        case SO_RCVBUF:
          this.rcvbuf = Math.max(Math.min(value < 0 ? BUF_MAX : value, BUF_MAX) * 2, MIN_RCVBUF);
          break;
        case SO_REUSEADDR:
          this.reuseAddr = on;
          break;
        case SO_REUSEPORT:
          this.reusePort = on;
          break;
        case SO_KEEPALIVE:
          this.keepAlive = on;
          break;
        case SO_BROADCAST:
          this.broadcast = on;
          break;
        default:
          return -ENOPROTOOPT; // SO_TYPE, SO_ERROR, SO_ACCEPTCONN are read-only
      }
      this.optionChanged(level, name);
      return 0;
    }
    if (level === IPPROTO_TCP && this.domain !== AF_UNIX) {
      if (name !== TCP_NODELAY) return -ENOPROTOOPT;
      this.noDelay = on;
      this.optionChanged(level, name);
      return 0;
    }
    return this.domain === AF_UNIX ? -EOPNOTSUPP : -ENOPROTOOPT;
  }

  /** Applies an option after it changed (buffer sizes, Nagle, keep-alive). */
  protected optionChanged(_level: number, _name: number): void {}
}
