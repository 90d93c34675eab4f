/**
 * The state the emulated stream sockets share, in memory (`socketpair`) or
 * over Deno (TCP and Unix): the pending error (`SO_ERROR`) and the socket
 * options, answered and validated as Linux does (buffer sizes doubled and
 * clamped, booleans kept as given, `SO_TYPE`, `SO_ACCEPTCONN`). Addresses,
 * connection and shutdown state belong to each kind. The kernel's sockets
 * (`native/`) hold none of this: the kernel keeps it.
 *
 * @module
 */

import { SocketDescription } from "./socket_description.ts";
import { EINVAL, ENOPROTOOPT, EOPNOTSUPP } from "../runtime/core/errno.ts";
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
  SOL_SOCKET,
  TCP_NODELAY,
} from "../runtime/core/constants.ts";

/** Linux's `sysctl_wmem_max` and `sysctl_rmem_max` defaults. */
const BUF_MAX = 212992;
/** Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF`. */
const MIN_SNDBUF = 4608;
const MIN_RCVBUF = 2304;

/**
 * An emulated stream socket: a {@linkcode SocketDescription} that keeps its
 * own pending error and socket options. A kind applies an option that
 * matters to it in {@linkcode EmulatedSocket.optionChanged}.
 */
export abstract class EmulatedSocket extends SocketDescription {
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

  /** Returns and clears the pending error (reading `SO_ERROR` clears it). */
  takeError(): number {
    const e = this.soError;
    this.soError = 0;
    return e;
  }

  /** Linux's answers for the options kept here. */
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

  /** Linux's validation for the options kept here; {@linkcode optionChanged} applies them. */
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
