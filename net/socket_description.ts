/**
 * The socket interface: what the socket calls (`bind`, `listen`, `accept4`,
 * `connect`, `shutdown`, `getsockname`, `getpeername`, `getsockopt`,
 * `setsockopt`) and the datagram calls (`sendto`, `recvfrom`, `sendmmsg`,
 * `recvmmsg`) ask of a socket description. Each kind of socket
 * implements it: the kernel's (`native/socket.ts`) directly, the emulated
 * ones (in-memory socketpairs, the Deno backend) through the state they
 * share (`socket_state.ts`). The calls dispatch here and hold no socket
 * state themselves.
 *
 * @module
 */

import { Description } from "../runtime/core/description.ts";
import type { SockAddr, UnspecSockAddr } from "./sockaddr.ts";
import { EINVAL, EISCONN, ENOTCONN, EOPNOTSUPP } from "../runtime/core/errno.ts";
import { MSG_DONTWAIT, MSG_NOSIGNAL, SOCK_STREAM } from "../runtime/core/constants.ts";

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

/**
 * A stream or datagram socket as an open description. Every method returns
 * `>= 0` or `-errno`. The defaults answer as an unconnected stream socket
 * that supports none of the operation would; a kind overrides what it
 * supports.
 */
export abstract class SocketDescription extends Description {
  /** The address family: AF_UNIX, AF_INET or AF_INET6. */
  abstract readonly domain: number;

  /** `SOCK_STREAM` or `SOCK_DGRAM` (what `SO_TYPE` reports). */
  get sockType(): number {
    return SOCK_STREAM;
  }

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
  /** `connect(2)`: starts (or completes) a connection; `AF_UNSPEC` dissolves a datagram peer. */
  connect(_addr: SockAddr | UnspecSockAddr): number {
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

  /** Returns and clears the pending error (`SO_ERROR`), 0 when none. */
  abstract takeError(): number;
  /** `getsockopt(2)` for an integer option: its value, or `-errno`. */
  abstract getsockopt(level: number, name: number): number;
  /** `setsockopt(2)` for an integer option: 0, or `-errno`. */
  abstract setsockopt(level: number, name: number, value: number): number;
}

/**
 * What a socket backend provides (`socket_backend.ts` chooses one): new
 * unconnected stream and datagram sockets. Every later call goes to the
 * description.
 */
export interface SocketBackend {
  /** `"deno"`, `"native"`, or a registered backend's name (`registerSocketBackend`). */
  readonly name: string;
  /**
   * A new unconnected socket (arguments already validated).
   *
   * @param type `SOCK_STREAM` or `SOCK_DGRAM` (no flags).
   * @returns The description, or `-errno`.
   */
  create(domain: number, type: number, protocol: number): SocketDescription | number;
}
