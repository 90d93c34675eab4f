/**
 * What every stream socket shares, in memory (`socketpair`) or over Deno
 * (TCP and Unix): addresses, shutdown state, the pending error, and the
 * socket options. The socket calls (`bind`, `shutdown`, `getsockopt`, …)
 * dispatch to these methods; a kind of socket overrides what it supports.
 *
 * @module
 */

import { Description } from "../runtime/core/description.ts";
import type { SockAddr } from "./sockaddr.ts";
import { EINVAL, EISCONN, ENOPROTOOPT, ENOTCONN, EOPNOTSUPP } from "../runtime/core/errno.ts";
import {
  AF_INET6,
  AF_UNIX,
  IPPROTO_TCP,
  SO_ACCEPTCONN,
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

/** Linux's `sysctl_wmem_max` and `sysctl_rmem_max` defaults. */
const BUF_MAX = 212992;
/** Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF`. */
const MIN_SNDBUF = 4608;
const MIN_RCVBUF = 2304;

/**
 * What a socket backend provides (`socket_backend.ts` chooses one): new
 * unconnected stream sockets. Every later call goes to the description.
 */
export interface SocketBackend {
  /** `"deno"`, `"native"`, or a registered backend's name (`registerSocketBackend`). */
  readonly name: string;
  /**
   * A new unconnected stream socket (arguments already validated).
   *
   * @returns The description, or `-errno`.
   */
  create(domain: number, protocol: number): SocketDescription | number;
}

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

  constructor(sndbuf: number, rcvbuf: number) {
    super();
    this.sndbuf = sndbuf;
    this.rcvbuf = rcvbuf;
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
  connect(_addr: SockAddr): number {
    return -EISCONN;
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
          return SOCK_STREAM;
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
