/**
 * `DatagramSocket`: the idiomatic object over a datagram socket (UDP, or
 * an AF_UNIX datagram socket), in the style of `Socket`. It wraps an fd, so
 * it works with `Epoll` and with the POSIX-shaped calls alike. Would-block
 * results come back as `null`; every other failure throws
 * {@linkcode ErrnoError}.
 *
 * Invariants: once `close()` ran, every method throws `EBADF` and never
 * touches the fd number again (another file may own it by then); the fd
 * belongs to the kernel current at construction, and every method acts on
 * that kernel (`runtime/core/kernel.ts`).
 *
 * @module
 */

import { check, EAGAIN, ErrnoError } from "../../runtime/core/errno.ts";
import { FdGuard } from "../../runtime/objects/_fd_guard.ts";
import type { SockAddr } from "../sockaddr.ts";
import type { RecvMessage, SendMessage } from "../socket_description.ts";
import {
  AF_UNIX,
  AF_UNSPEC,
  MSG_TRUNC,
  SO_BROADCAST,
  SO_ERROR,
  SOCK_DGRAM,
  SOL_SOCKET,
} from "../../runtime/core/constants.ts";
import { bind, connect, socket } from "../socket_calls.ts";
import { getpeername, getsockname, getsockopt, setsockopt } from "../socket_option_calls.ts";
import { recvfrom, recvmmsg, sendmmsg, sendto } from "../datagram_calls.ts";
import { socketpair } from "../pair/socketpair.ts";

/** What {@linkcode DatagramSocket.receiveFrom} returns for one datagram. */
export interface Datagram {
  /** Bytes stored in the buffer. */
  length: number;
  /** The sender. */
  from: SockAddr;
  /** The datagram was longer than the buffer: the rest was discarded. */
  truncated: boolean;
}

/** Throws for anything but a result or would-block; `null` for would-block. */
function orNull(r: number, syscall: string): number | null {
  return r === -EAGAIN ? null : check(r, syscall);
}

/**
 * A datagram socket: one `sendTo` is one datagram, one `receiveFrom` takes
 * at most one.
 *
 * @example A UDP round trip
 * ```ts
 * import { AF_INET, DatagramSocket, Epoll, EPOLLIN } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using server = DatagramSocket.bind({ family: AF_INET, address: "127.0.0.1", port: 0 });
 * using client = DatagramSocket.bind({ family: AF_INET, address: "127.0.0.1", port: 0 });
 * client.sendTo(new TextEncoder().encode("ping"), server.localAddr);
 * using ep = new Epoll();
 * ep.add(server.fd, EPOLLIN);
 * await ep.wait(1, 5000);
 * const buf = new Uint8Array(64);
 * const got = server.receiveFrom(buf)!;
 * assert.equal(new TextDecoder().decode(buf.subarray(0, got.length)), "ping");
 * assert.deepEqual(got.from, client.localAddr);
 * ```
 */
export class DatagramSocket implements Disposable {
  /** The socket's fd. */
  readonly fd: number;
  #guard: FdGuard;

  /**
   * Wraps an fd that is a datagram socket.
   *
   * @param fd The socket fd; the object now owns it.
   */
  constructor(fd: number) {
    this.fd = fd;
    this.#guard = new FdGuard(fd);
  }

  /**
   * A new unbound datagram socket (a first send binds it to an ephemeral
   * port, as Linux does).
   *
   * @param family `AF_INET`, `AF_INET6` or `AF_UNIX`.
   * @returns The socket.
   * @throws {ErrnoError} `EPROTONOSUPPORT` on the deno backend without
   * `--unstable-net` (`datagramBackendError()` says why), `EMFILE`.
   */
  static create(family: number): DatagramSocket {
    return new DatagramSocket(check(socket(family, SOCK_DGRAM, 0), "socket"));
  }

  /**
   * A datagram socket bound to `addr` (port 0: an ephemeral port,
   * {@linkcode DatagramSocket.localAddr} tells which).
   *
   * @param addr The local address.
   * @returns The socket.
   * @throws {ErrnoError} `EADDRINUSE`, `EADDRNOTAVAIL`, as for `create`.
   */
  static bind(addr: SockAddr): DatagramSocket {
    const s = DatagramSocket.create(addr.family);
    const r = bind(s.fd, addr);
    if (r < 0) {
      s.close();
      throw new ErrnoError(r, "bind");
    }
    return s;
  }

  /**
   * Two connected in-memory datagram sockets (`socketpair(AF_UNIX, SOCK_DGRAM)`).
   *
   * @returns The two ends.
   * @throws {ErrnoError} `EMFILE`.
   */
  static pair(): [DatagramSocket, DatagramSocket] {
    const sv: number[] = [];
    check(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), "socketpair");
    return [new DatagramSocket(sv[0]), new DatagramSocket(sv[1])];
  }

  /**
   * Sets the default destination; from now on only datagrams from `addr`
   * are received.
   *
   * @param addr The peer.
   * @throws {ErrnoError} `EAFNOSUPPORT`, `EINVAL`.
   */
  connect(addr: SockAddr): void {
    check(this.#guard.run((g) => connect(g.live("connect"), addr)), "connect");
  }

  /** Dissolves the default destination (`connect` with `AF_UNSPEC`). */
  disconnect(): void {
    check(this.#guard.run((g) => connect(g.live("connect"), { family: AF_UNSPEC })), "connect");
  }

  /**
   * Sends one datagram.
   *
   * @param buf The datagram.
   * @param to The destination; omitted on a connected socket.
   * @returns Bytes sent, or `null` when the send buffer is full.
   * @throws {ErrnoError} `EDESTADDRREQ`, `EMSGSIZE`, `ECONNREFUSED` (native:
   * the connected peer's port was found closed), `EBADF` once closed.
   */
  sendTo(buf: Uint8Array, to?: SockAddr): number | null {
    return orNull(this.#guard.run((g) => sendto(g.live("sendto"), buf, 0, to ?? null)), "sendto");
  }

  /**
   * Receives one datagram.
   *
   * @param buf Where it goes (the rest of a longer one is discarded).
   * @returns Its length, sender and whether it was cut, or `null` when none
   * is queued.
   * @throws {ErrnoError} `ECONNREFUSED` (native, connected), `EBADF` once closed.
   */
  receiveFrom(buf: Uint8Array): Datagram | null {
    const from = {} as SockAddr;
    const r = orNull(
      this.#guard.run((g) => recvfrom(g.live("recvfrom"), buf, MSG_TRUNC, from)),
      "recvfrom",
    );
    if (r === null) return null;
    return { length: Math.min(r, buf.length), from, truncated: r > buf.length };
  }

  /**
   * Sends datagrams in order (`sendmmsg`: one system call on the native
   * backend).
   *
   * @param msgs The datagrams, each `{ buf, addr? }`.
   * @returns How many were sent, or `null` when not even the first could be.
   * @throws {ErrnoError} The first datagram's error.
   */
  sendBatch(msgs: readonly SendMessage[]): number | null {
    return orNull(this.#guard.run((g) => sendmmsg(g.live("sendmmsg"), msgs, 0)), "sendmmsg");
  }

  /**
   * Receives into the slots in order (`recvmmsg`: one system call on the
   * native backend). Each filled slot gets `length`, `addr` and `flags`
   * (`MSG_TRUNC` when cut); reuse the slots from call to call.
   *
   * @param slots The slots, each `{ buf }`.
   * @returns How many were filled, or `null` when none was queued.
   * @throws {ErrnoError} A pending error.
   */
  receiveBatch(slots: RecvMessage[]): number | null {
    return orNull(this.#guard.run((g) => recvmmsg(g.live("recvmmsg"), slots, 0)), "recvmmsg");
  }

  /**
   * Allows (or forbids) sending to a broadcast address (`SO_BROADCAST`).
   *
   * @param on Whether to allow it.
   */
  setBroadcast(on = true): void {
    check(
      this.#guard.run((g) => setsockopt(g.live("setsockopt"), SOL_SOCKET, SO_BROADCAST, +on)),
      "setsockopt",
    );
  }

  /** The pending error (`SO_ERROR`), 0 when none; reading it clears it. */
  get error(): number {
    return check(
      this.#guard.run((g) => getsockopt(g.live("getsockopt"), SOL_SOCKET, SO_ERROR)),
      "getsockopt",
    );
  }

  /** The local address. */
  get localAddr(): SockAddr {
    const out = {} as SockAddr;
    check(this.#guard.run((g) => getsockname(g.live("getsockname"), out)), "getsockname");
    return out;
  }

  /** The connected peer's address. */
  get remoteAddr(): SockAddr {
    const out = {} as SockAddr;
    check(this.#guard.run((g) => getpeername(g.live("getpeername"), out)), "getpeername");
    return out;
  }

  /** Closes the socket; later calls fail with `EBADF`. Idempotent. */
  close(): void {
    this.#guard.close();
  }

  /** Same as {@linkcode DatagramSocket.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
