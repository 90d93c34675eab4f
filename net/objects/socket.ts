/**
 * `Socket`: the idiomatic object over a connected stream socket. It wraps an
 * fd, so it works with `Epoll` and with the POSIX-shaped calls alike.
 * Would-block results come back as `null`; every other failure throws
 * {@linkcode ErrnoError}.
 *
 * Invariants: once `close()` ran, every method throws `EBADF` and never
 * touches the fd number again (another file may own it by then), as
 * `Epoll` does; the fd belongs to the kernel current at construction, and
 * every method acts on that kernel (`runtime/core/kernel.ts`).
 *
 * @module
 */

import { check, EAGAIN, EINPROGRESS, ErrnoError } from "../../runtime/core/errno.ts";
import { close, read, write } from "../../runtime/core/fd_table.ts";
import { FdGuard } from "../../runtime/objects/_fd_guard.ts";
import type { SockAddr } from "../sockaddr.ts";
import {
  IPPROTO_TCP,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../runtime/core/constants.ts";
import { connect, shutdown, socket } from "../socket_calls.ts";
import { getpeername, getsockname, getsockopt, setsockopt } from "../socket_option_calls.ts";

/** The address `get` (getsockname or getpeername) reports for `fd`; throws {@linkcode ErrnoError}. */
function addressOf(fd: number, get: typeof getsockname, name: string): SockAddr {
  const out = {} as SockAddr;
  check(get(fd, out), name);
  return out;
}

/**
 * A connected (or connecting) stream socket.
 *
 * @example Connecting, then waiting for writability with `Epoll`
 * ```ts
 * import { AF_INET, Epoll, EPOLLOUT, Listener, Socket } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using listener = Listener.listen({ family: AF_INET, address: "127.0.0.1", port: 0 });
 * using client = Socket.connect(listener.addr);
 * using ep = new Epoll();
 * ep.add(client.fd, EPOLLOUT);
 * const [ev] = await ep.wait(1, 5000);
 * assert.ok(ev.events & EPOLLOUT);
 * assert.equal(client.error, 0);
 * assert.equal(client.write(new TextEncoder().encode("hi")), 2);
 * ```
 */
export class Socket implements Disposable {
  /** The socket's fd. */
  readonly fd: number;
  #guard: FdGuard;

  /**
   * Wraps an fd that is a socket (for example one returned by `accept`).
   *
   * @param fd The socket fd; the object now owns it.
   */
  constructor(fd: number) {
    this.fd = fd;
    this.#guard = new FdGuard(fd);
  }

  /**
   * Starts a non-blocking connect. The socket reports `EPOLLOUT` when
   * connected, or `EPOLLERR` when it failed ({@linkcode Socket.error}
   * tells why).
   *
   * @param addr Where to connect.
   * @returns The connecting socket.
   * @throws {ErrnoError} For a bad address, or when out of descriptors.
   */
  static connect(addr: SockAddr): Socket {
    const fd = check(socket(addr.family, SOCK_STREAM, 0), "socket");
    const r = connect(fd, addr);
    if (r !== -EINPROGRESS && r < 0) {
      close(fd);
      throw new ErrnoError(r, "connect");
    }
    return new Socket(fd);
  }

  /**
   * Reads what is buffered.
   *
   * @param buf Where the bytes go.
   * @returns Bytes read, 0 at end of stream, or `null` when nothing is
   * buffered yet.
   * @throws {ErrnoError} `ECONNRESET`, `ENOTCONN`, `EBADF` (also once closed).
   */
  read(buf: Uint8Array): number | null {
    const g = this.#guard;
    const n = g.run(() => read(g.live("read"), buf));
    if (n === -EAGAIN) return null;
    return check(n, "read");
  }

  /**
   * Writes what fits in the send buffer.
   *
   * @param buf The bytes.
   * @returns Bytes accepted, or `null` when the send buffer is full.
   * @throws {ErrnoError} `EPIPE`, `ECONNRESET`, `EBADF` (also once closed).
   */
  write(buf: Uint8Array): number | null {
    const g = this.#guard;
    const n = g.run(() => write(g.live("write"), buf));
    if (n === -EAGAIN) return null;
    return check(n, "write");
  }

  /**
   * Shuts down a direction (default: the write side, sending FIN).
   *
   * @param how `SHUT_RD`, `SHUT_WR` (the default) or `SHUT_RDWR`.
   * @throws {ErrnoError} `ENOTCONN`.
   */
  shutdown(how?: number): void {
    if (how === undefined) how = SHUT_WR;
    const g = this.#guard;
    check(g.run(() => shutdown(g.live("shutdown"), how)), "shutdown");
  }

  /** The pending error (`SO_ERROR`), 0 when none; reading it clears it. */
  get error(): number {
    const g = this.#guard;
    return check(g.run(() => getsockopt(g.live("getsockopt"), SOL_SOCKET, SO_ERROR)), "getsockopt");
  }

  /** The local address. */
  get localAddr(): SockAddr {
    const g = this.#guard;
    return g.run(() => addressOf(g.live("getsockname"), getsockname, "getsockname"));
  }

  /** The peer's address. */
  get remoteAddr(): SockAddr {
    const g = this.#guard;
    return g.run(() => addressOf(g.live("getpeername"), getpeername, "getpeername"));
  }

  /**
   * Turns Nagle's algorithm off (`TCP_NODELAY`) or on.
   *
   * @param on Whether to disable Nagle (default `true`).
   */
  setNoDelay(on?: boolean): void {
    if (on === undefined) on = true;
    const g = this.#guard;
    check(
      g.run(() => setsockopt(g.live("setsockopt"), IPPROTO_TCP, TCP_NODELAY, +on)),
      "setsockopt",
    );
  }

  /**
   * Turns TCP keep-alive on or off.
   *
   * @param on Whether to send keep-alive probes (default `true`).
   */
  setKeepAlive(on?: boolean): void {
    if (on === undefined) on = true;
    const g = this.#guard;
    check(
      g.run(() => setsockopt(g.live("setsockopt"), SOL_SOCKET, SO_KEEPALIVE, +on)),
      "setsockopt",
    );
  }

  /**
   * Closes the socket (unsent bytes are still delivered); later calls fail
   * with `EBADF`. Idempotent.
   */
  close(): void {
    this.#guard.close();
  }

  /** Same as {@linkcode Socket.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
