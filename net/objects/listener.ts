/**
 * `Listener`: the idiomatic object over a listening socket. It wraps an fd,
 * so it works with `Epoll` and with the POSIX-shaped calls alike; `accept`
 * hands out {@linkcode Socket}s, `null` when none is pending, and every
 * other failure throws {@linkcode ErrnoError}.
 *
 * Invariants: once `close()` ran, every method throws `EBADF` and never
 * touches the fd number again (another file may own it by then), as
 * `Epoll` does; the fd belongs to the kernel current at construction, and
 * every method (and the sockets `accept` returns) acts on that kernel.
 *
 * @module
 */

import { check, EAGAIN } from "../../runtime/core/errno.ts";
import { close } from "../../runtime/core/fd_table.ts";
import { FdGuard } from "../../runtime/objects/_fd_guard.ts";
import type { SockAddr } from "../sockaddr.ts";
import {
  IPPROTO_TCP,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../runtime/core/constants.ts";
import { accept, bind, listen, socket } from "../socket_calls.ts";
import { getsockname, setsockopt } from "../socket_option_calls.ts";
import { Socket } from "./socket.ts";

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
 * assert.notEqual(conn.fd, client.fd); // two ends, two descriptors
 * assert.equal(listener.accept(), null); // nothing else pending
 * ```
 */
export class Listener implements Disposable {
  /** The listening socket's fd. */
  readonly fd: number;
  #guard: FdGuard;

  private constructor(fd: number) {
    this.fd = fd;
    this.#guard = new FdGuard(fd);
  }

  /**
   * Creates a socket, binds it to `addr` and listens.
   *
   * @param addr The local address (port 0 picks a free port).
   * @param options Backlog, `reusePort`, `noDelay` (all optional).
   * @returns The listener.
   * @throws {ErrnoError} `EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, `EINVAL`.
   */
  static listen(addr: SockAddr, options?: ListenerOptions): Listener {
    if (options === undefined) options = {};
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
    const out = {} as SockAddr;
    const g = this.#guard;
    check(g.run(() => getsockname(g.live("getsockname"), out)), "getsockname");
    return out;
  }

  /**
   * Takes a pending connection.
   *
   * @returns The connected socket, or `null` when none is pending.
   * @throws {ErrnoError} `EMFILE`, `EBADF` (also once closed).
   */
  accept(): Socket | null {
    const g = this.#guard;
    return g.run(() => {
      const fd = accept(g.live("accept"));
      if (fd === -EAGAIN) return null;
      return new Socket(check(fd, "accept")); // in the listener's kernel, as its fd
    });
  }

  /**
   * Closes the listener and the connections not yet accepted; later calls
   * fail with `EBADF`. Idempotent.
   */
  close(): void {
    this.#guard.close();
  }

  /** Same as {@linkcode Listener.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
