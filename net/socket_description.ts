/**
 * The socket interface: what the socket calls (`bind`, `listen`, `accept4`,
 * `connect`, `shutdown`, `getsockname`, `getpeername`, `getsockopt`,
 * `setsockopt`) ask of a stream socket description. Each kind of socket
 * implements it: the kernel's (`native/socket.ts`) directly, the emulated
 * ones (in-memory socketpairs, the Deno backend) through the state they
 * share (`socket_state.ts`). The calls dispatch here and hold no socket
 * state themselves.
 *
 * @module
 */

import { Description } from "../runtime/core/description.ts";
import type { SockAddr } from "./sockaddr.ts";
import { EINVAL, EISCONN, ENOTCONN, EOPNOTSUPP } from "../runtime/core/errno.ts";

/**
 * A stream socket as an open description. Every method returns `>= 0` or
 * `-errno`. The defaults answer as an unconnected socket that supports none
 * of the operation would; a kind overrides what it supports.
 */
export abstract class SocketDescription extends Description {
  /** The address family: AF_UNIX, AF_INET or AF_INET6. */
  abstract readonly domain: number;

  /** Whether the socket is listening (`SO_ACCEPTCONN`). */
  get listening(): boolean {
    return false;
  }

  /** `bind(2)`: gives the socket a local address. */
  bind(_addr: SockAddr): number {
    return -EINVAL;
  }
  /** `listen(2)`: makes a bound (or unbound) socket accept connections. */
  listen(_backlog: number): number {
    return -EOPNOTSUPP;
  }
  /** `accept4(2)`: the next connection as a new fd, or `-EAGAIN`. */
  accept(_flags: number): number {
    return -EINVAL;
  }
  /** `connect(2)`: starts (or completes) a connection. */
  connect(_addr: SockAddr): number {
    return -EISCONN;
  }
  /** `shutdown(2)`. */
  shutdown(_how: number): number {
    return -ENOTCONN;
  }
  /** Fills `out` with the local address. */
  getsockname(_out: SockAddr): number {
    return -ENOTCONN;
  }
  /** Fills `out` with the peer's address. */
  getpeername(_out: SockAddr): number {
    return -ENOTCONN;
  }

  /** Returns and clears the pending error (`SO_ERROR`), 0 when none. */
  abstract takeError(): number;
  /** `getsockopt(2)` for an integer option: its value, or `-errno`. */
  abstract getsockopt(level: number, name: number): number;
  /** `setsockopt(2)` for an integer option: 0, or `-errno`. */
  abstract setsockopt(level: number, name: number, value: number): number;
}

/**
 * What a socket backend provides (`socket_backend.ts` chooses one): new
 * unconnected stream sockets. Every later call goes to the description.
 */
export interface SocketBackend {
  /** `"deno"` or `"native"`. */
  readonly name: "deno" | "native";
  /**
   * A new unconnected stream socket (arguments already validated).
   *
   * @returns The description, or `-errno`.
   */
  create(domain: number, protocol: number): SocketDescription | number;
}
