/**
 * The POSIX-shaped calls that ask what a socket is bound and connected to
 * (`getsockname`, `getpeername`) and read or set its options
 * (`getsockopt`, `setsockopt`), on sockets of every backend and on
 * `socketpair` ends. Each dispatches to the socket's own description
 * (`socket_description.ts`); none blocks or throws for a condition C
 * reports through errno, and `-ENOTSOCK` answers for descriptors that are
 * not sockets. Making, binding, connecting and shutting sockets are in
 * `socket_calls.ts`.
 *
 * @module
 */

import type { SockAddr } from "./sockaddr.ts";
import { requireNumber } from "../runtime/core/fd_table.ts";
import { requireObject, sock } from "./_socket_lookup.ts";
import { traced, tracing } from "../runtime/core/_call_trace.ts";

/**
 * Fills `out` with the socket's local address (`getsockname(2)`); it tells
 * the ephemeral port chosen for port 0 (after `bind` on `native`, after
 * `listen` on `deno`).
 *
 * @param fd The socket.
 * @param out Overwritten with the address.
 * @returns 0; `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `out` is not an object.
 *
 * @example
 * ```ts
 * import { AF_INET, close, getsockname, socket, SOCK_STREAM, type SockAddr } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * const out = {} as SockAddr;
 * assert.equal(getsockname(fd, out), 0);
 * assert.deepEqual(out, { family: AF_INET, address: "0.0.0.0", port: 0 });
 * close(fd);
 * ```
 */
export function getsockname(fd: number, out: SockAddr): number {
  if (tracing) return traced("getsockname", getsockname, fd, out);
  requireObject(out, "out");
  const s = sock(fd);
  return typeof s === "number" ? s : s.getsockname(out);
}

/**
 * Fills `out` with the peer's address (`getpeername(2)`).
 *
 * @param fd The socket.
 * @param out Overwritten with the address.
 * @returns 0; `-ENOTCONN`, `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `out` is not an object.
 *
 * @example
 * ```ts
 * import { AF_INET, close, ENOTCONN, getpeername, socket, SOCK_STREAM, type SockAddr } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(getpeername(fd, {} as SockAddr), -ENOTCONN);
 * close(fd);
 * ```
 */
export function getpeername(fd: number, out: SockAddr): number {
  if (tracing) return traced("getpeername", getpeername, fd, out);
  requireObject(out, "out");
  const s = sock(fd);
  return typeof s === "number" ? s : s.getpeername(out);
}

/**
 * Reads a socket option (`getsockopt(2)`), as a number. Reading
 * `SO_ERROR` clears the pending error. On `native` any integer option the
 * kernel has; on `deno` and socketpairs the ones named below.
 *
 * @param fd The socket.
 * @param level {@linkcode SOL_SOCKET} or {@linkcode IPPROTO_TCP}.
 * @param name `SO_TYPE`, `SO_ERROR`, `SO_SNDBUF`, `SO_RCVBUF`,
 * `SO_REUSEADDR`, `SO_REUSEPORT`, `SO_KEEPALIVE`, `SO_ACCEPTCONN`,
 * `TCP_NODELAY` (and, on `native`, the kernel's other integer options).
 * @returns The value (`>= 0`); `-ENOPROTOOPT`, `-EOPNOTSUPP` (TCP options
 * on a Unix socket), `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} For arguments that are not numbers.
 *
 * @example
 * ```ts
 * import { AF_INET, close, getsockopt, SO_TYPE, socket, SOCK_STREAM, SOL_SOCKET } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(getsockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
 * close(fd);
 * ```
 */
export function getsockopt(fd: number, level: number, name: number): number {
  if (tracing) return traced("getsockopt", getsockopt, fd, level, name);
  requireNumber(level, "level");
  requireNumber(name, "name");
  const s = sock(fd);
  return typeof s === "number" ? s : s.getsockopt(level, name);
}

/**
 * Sets a socket option (`setsockopt(2)`). On `native` this is the kernel's
 * `setsockopt` for an integer option. On `deno`: `SO_SNDBUF`/`SO_RCVBUF`
 * size the userspace buffers (doubled, as Linux reports them);
 * `TCP_NODELAY` and `SO_KEEPALIVE` map to `setNoDelay`/`setKeepAlive`;
 * `SO_REUSEPORT` takes effect at `listen` (Deno's `reusePort`, which needs
 * `--unstable-net`).
 *
 * @param fd The socket.
 * @param level {@linkcode SOL_SOCKET} or {@linkcode IPPROTO_TCP}.
 * @param name The option.
 * @param value The value; 0 is off, anything else on.
 * @returns 0; `-ENOPROTOOPT`, `-EINVAL` (not a finite number),
 * `-EOPNOTSUPP`, `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} For arguments that are not numbers.
 *
 * @example
 * ```ts
 * import { AF_INET, close, getsockopt, setsockopt, SO_RCVBUF, socket, SOCK_STREAM, SOL_SOCKET } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 8192), 0);
 * assert.equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF), 16384); // doubled, as Linux does
 * close(fd);
 * ```
 */
export function setsockopt(fd: number, level: number, name: number, value: number): number {
  if (tracing) return traced("setsockopt", setsockopt, fd, level, name, value);
  requireNumber(level, "level");
  requireNumber(name, "name");
  requireNumber(value, "value");
  const s = sock(fd);
  return typeof s === "number" ? s : s.setsockopt(level, name, value);
}
