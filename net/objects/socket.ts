/**
 * `Socket` and `Listener`: the idiomatic object layer over the socket calls.
 * Each wraps an fd, so it works with `Epoll` and with the POSIX-shaped
 * calls alike. Would-block results come back as `null`; every other
 * failure throws {@linkcode ErrnoError}.
 *
 * @module
 */

import { check, EAGAIN, EINPROGRESS, ErrnoError } from "../../runtime/core/errno.ts";
import { close, read, write } from "../../runtime/core/fd_table.ts";
import type { SockAddr } from "../sockaddr.ts";
import {
  IPPROTO_TCP,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../runtime/core/constants.ts";
import {
  accept,
  bind,
  connect,
  getpeername,
  getsockname,
  getsockopt,
  listen,
  setsockopt,
  shutdown,
  socket,
} from "../socket_calls.ts";

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
  #closed = false;

  /**
   * Wraps an fd that is a socket (for example one returned by `accept`).
   *
   * @param fd The socket fd; the object now owns it.
   */
  constructor(fd: number) {
    this.fd = fd;
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
   * @throws {ErrnoError} `ECONNRESET`, `ENOTCONN`, `EBADF`.
   */
  read(buf: Uint8Array): number | null {
    const n = read(this.fd, buf);
    if (n === -EAGAIN) return null;
    return check(n, "read");
  }

  /**
   * Writes what fits in the send buffer.
   *
   * @param buf The bytes.
   * @returns Bytes accepted, or `null` when the send buffer is full.
   * @throws {ErrnoError} `EPIPE`, `ECONNRESET`, `EBADF`.
   */
  write(buf: Uint8Array): number | null {
    const n = write(this.fd, buf);
    if (n === -EAGAIN) return null;
    return check(n, "write");
  }

  /**
   * Shuts down a direction (default: the write side, sending FIN).
   *
   * @param how `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
   * @throws {ErrnoError} `ENOTCONN`.
   */
  shutdown(how: number = SHUT_WR): void {
    check(shutdown(this.fd, how), "shutdown");
  }

  /** The pending error (`SO_ERROR`), 0 when none; reading it clears it. */
  get error(): number {
    return check(getsockopt(this.fd, SOL_SOCKET, SO_ERROR), "getsockopt");
  }

  /** The local address. */
  get localAddr(): SockAddr {
    return addressOf(this.fd, getsockname, "getsockname");
  }

  /** The peer's address. */
  get remoteAddr(): SockAddr {
    return addressOf(this.fd, getpeername, "getpeername");
  }

  /**
   * Turns Nagle's algorithm off (`TCP_NODELAY`) or on.
   *
   * @param on Whether to disable Nagle.
   */
  setNoDelay(on = true): void {
    check(setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, +on), "setsockopt");
  }

  /**
   * Turns TCP keep-alive on or off.
   *
   * @param on Whether to send keep-alive probes.
   */
  setKeepAlive(on = true): void {
    check(setsockopt(this.fd, SOL_SOCKET, SO_KEEPALIVE, +on), "setsockopt");
  }

  /** Closes the socket (unsent bytes are still delivered). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd);
  }

  /** Same as {@linkcode Socket.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@linkcode Listener.listen}. */
export interface ListenerOptions {
  /** Connections held for `accept`. @default {4096} */
  backlog?: number;
  /** Share the port with other listeners (`SO_REUSEPORT`; needs `--unstable-net`). @default {false} */
  reusePort?: boolean;
  /** Disable Nagle on accepted sockets (`TCP_NODELAY`, inherited). @default {false} */
  noDelay?: boolean;
}

/**
 * A listening socket.
 *
 * @example Accepting with `Epoll`
 * ```ts
 * import { AF_INET, Epoll, EPOLLIN, Listener, Socket } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using listener = Listener.listen({ family: AF_INET, address: "127.0.0.1", port: 0 });
 * using ep = new Epoll();
 * ep.add(listener.fd, EPOLLIN);
 * using client = Socket.connect(listener.addr);
 * await ep.wait(1, 5000);
 * using conn = listener.accept();
 * assert.ok(conn instanceof Socket);
 * assert.equal(listener.accept(), null); // nothing else pending
 * ```
 */
export class Listener implements Disposable {
  /** The listening socket's fd. */
  readonly fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Creates a socket, binds it to `addr` and listens.
   *
   * @param addr The local address (port 0 picks a free port).
   * @param options Backlog, `reusePort`, `noDelay`.
   * @returns The listener.
   * @throws {ErrnoError} `EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, `EINVAL`.
   */
  static listen(addr: SockAddr, options: ListenerOptions = {}): Listener {
    const fd = check(socket(addr.family, SOCK_STREAM, 0), "socket");
    try {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
      if (options.noDelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
      check(bind(fd, addr), "bind");
      check(listen(fd, options.backlog ?? 4096), "listen");
    } catch (err) {
      close(fd);
      throw err;
    }
    return new Listener(fd);
  }

  /** The bound address, with the real port. */
  get addr(): SockAddr {
    return addressOf(this.fd, getsockname, "getsockname");
  }

  /**
   * Takes a pending connection.
   *
   * @returns The connected socket, or `null` when none is pending.
   * @throws {ErrnoError} `EMFILE`, `EBADF`.
   */
  accept(): Socket | null {
    const fd = accept(this.fd);
    if (fd === -EAGAIN) return null;
    return new Socket(check(fd, "accept"));
  }

  /** Closes the listener and the connections not yet accepted. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd);
  }

  /** Same as {@linkcode Listener.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
