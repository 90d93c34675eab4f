/**
 * The POSIX-shaped calls that make a socket and move it through its life:
 * `socket`, `bind`, `listen`, `accept`, `accept4`, `connect`, `shutdown`
 * (its names and options: `socket_option_calls.ts`; datagrams:
 * `datagram_calls.ts`). They work on sockets made by `socket`, on
 * the backend chosen when it was made ({@linkcode setSocketBackend}: Deno
 * TCP and Unix sockets, or the kernel's through FFI), and, where it makes
 * sense, on `socketpair` ends. Each call dispatches to the socket's own
 * description (`socket_description.ts`). None of them blocks or throws for
 * a condition C reports through errno; `-ENOTSOCK` answers for descriptors
 * that are not sockets.
 *
 * Where the backends differ, each call's doc says so: on `native` every
 * answer is the kernel's; on `deno` the answers are Linux's where Deno lets
 * us, and the README's "Where it differs from Linux" lists the rest.
 *
 * @module
 */

import { EAFNOSUPPORT, EINVAL, EPROTONOSUPPORT } from "../runtime/core/errno.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "../runtime/core/constants.ts";
import type { SockAddr, UnspecSockAddr } from "./sockaddr.ts";
import { installDescription, requireNumber } from "../runtime/core/fd_table.ts";
import { requireObject, sock } from "./_socket_lookup.ts";
import { currentBackend } from "./socket_backend.ts";
import { traced, tracing } from "../runtime/core/_call_trace.ts";

/**
 * Creates an unconnected socket (`socket(2)`). A stream socket becomes a
 * connection with {@linkcode connect} or a listener with {@linkcode bind}
 * and {@linkcode listen}, over `Deno.connect` / `Deno.listen` (the `deno`
 * backend, the default) or, with the `native` backend
 * ({@linkcode setSocketBackend}), a kernel socket. Unix sockets on the
 * `deno` backend also need `--allow-read --allow-write` (Deno checks the
 * path); without them `listen` and `connect` give `-EACCES`. A datagram
 * socket ({@linkcode SOCK_DGRAM}) sends and receives with
 * {@linkcode sendto} and {@linkcode recvfrom}: over the kernel's own
 * sockets on the `native` backend, over `Deno.listenDatagram` (UDP only)
 * on the `deno` backend, which Deno provides only with `--unstable-net`.
 *
 * @param domain {@linkcode AF_INET}, {@linkcode AF_INET6} or {@linkcode AF_UNIX}.
 * @param type {@linkcode SOCK_STREAM} or {@linkcode SOCK_DGRAM}, optionally
 * with `SOCK_NONBLOCK` / `SOCK_CLOEXEC` (accepted; every socket here is
 * non-blocking).
 * @param protocol 0, `IPPROTO_TCP` (streams) or `IPPROTO_UDP` (datagrams)
 * for the inet families.
 * @returns The fd; `-EAFNOSUPPORT`, `-EPROTONOSUPPORT` (another type, or a
 * datagram socket on the `deno` backend without `Deno.listenDatagram`:
 * {@linkcode datagramBackendError} says why), `-EINVAL` (unknown type
 * flags), `-EMFILE`.
 * @throws {TypeError} For arguments that are not numbers.
 *
 * @example
 * ```ts
 * import { AF_INET, close, socket, SOCK_NONBLOCK, SOCK_STREAM } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
 * assert.ok(fd >= 0);
 * close(fd);
 * ```
 */
export function socket(domain: number, type: number, protocol: number): number {
  if (tracing) return traced("socket", socket, domain, type, protocol);
  requireNumber(domain, "domain");
  requireNumber(type, "type");
  requireNumber(protocol, "protocol");
  if (domain !== AF_INET && domain !== AF_INET6 && domain !== AF_UNIX) return -EAFNOSUPPORT;
  const base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  // Linux: type flags beyond NONBLOCK|CLOEXEC, or a type >= SOCK_MAX (11), give EINVAL.
  if (!Number.isInteger(type) || base < 0 || base > 10) return -EINVAL;
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM) return -EPROTONOSUPPORT;
  // inet_create: a protocol outside 0..IPPROTO_MAX-1 is EINVAL; unix_create takes 0 or PF_UNIX.
  if (domain !== AF_UNIX && !(Number.isInteger(protocol) && protocol >= 0 && protocol < 263)) {
    return -EINVAL;
  }
  const ok = domain === AF_UNIX
    ? protocol === AF_UNIX
    : protocol === (base === SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
  if (protocol !== 0 && !ok) return -EPROTONOSUPPORT;
  const desc = currentBackend().create(domain, base, protocol);
  return typeof desc === "number" ? desc : installDescription(desc);
}

/**
 * Gives a socket its local address (`bind(2)`).
 *
 * On the `native` backend this is the kernel's `bind`: it takes the port
 * (0 picks an ephemeral one, which {@linkcode getsockname} then tells) and
 * reports an address in use here, with `-EADDRINUSE`. On the `deno`
 * backend `bind` only records the address: `Deno.listen` binds and listens
 * in one call, so the port is taken, and an address in use reported, by
 * {@linkcode listen}; and `Deno.connect` takes no local address, so a
 * `bind` before `connect` does not choose the local port. A datagram
 * socket binds at once on both backends (`Deno.listenDatagram` on `deno`).
 *
 * @param fd The socket.
 * @param addr The address; its family must match the socket's.
 * @returns 0; `-EINVAL` (already bound, or a malformed address),
 * `-EAFNOSUPPORT` (family mismatch), `-EADDRINUSE` and `-EACCES` (`native`
 * only; `deno` reports them at `listen`), `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `addr` is not an object.
 *
 * @example
 * ```ts
 * import { AF_INET, bind, close, socket, SOCK_STREAM } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 }), 0);
 * assert.equal(bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 }), -22);
 * close(fd);
 * ```
 */
export function bind(fd: number, addr: SockAddr): number {
  if (tracing) return traced("bind", bind, fd, addr);
  requireObject(addr, "addr");
  const s = sock(fd);
  return typeof s === "number" ? s : s.bind(addr);
}

/**
 * Starts listening (`listen(2)`). A socket that is already in an epoll set
 * is watched for connections from now on. Listening again changes the
 * backlog.
 *
 * On the `native` backend this is the kernel's `listen` (an unbound inet
 * socket gets an ephemeral port; the kernel caps the backlog at
 * `net.core.somaxconn`). On the `deno` backend it opens the `Deno.listen`
 * listener on the address given to {@linkcode bind} (so the port is taken
 * here), with an accept always in flight into a queue of `backlog`
 * connections, clamped to 1..4096.
 *
 * @param fd The socket.
 * @param backlog Connections held for `accept`.
 * @returns 0; `-EADDRINUSE`, `-EADDRNOTAVAIL`, `-EACCES` (`deno`: the
 * address is taken here), `-EINVAL` (connected; on `deno`, an unbound Unix
 * socket), `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `backlog` is not a number.
 *
 * @example
 * ```ts
 * import { AF_INET, bind, close, getsockname, listen, socket, SOCK_STREAM, type SockAddr } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 });
 * assert.equal(listen(fd, 128), 0);
 * const addr = {} as SockAddr;
 * getsockname(fd, addr);
 * assert.ok(addr.family === AF_INET && addr.port > 0);
 * close(fd);
 * ```
 */
export function listen(fd: number, backlog: number): number {
  if (tracing) return traced("listen", listen, fd, backlog);
  requireNumber(backlog, "backlog");
  const s = sock(fd);
  return typeof s === "number" ? s : s.listen(backlog);
}

/**
 * Takes a pending connection (`accept4(2)`).
 *
 * @param fd The listening socket.
 * @param flags 0, `SOCK_NONBLOCK`, `SOCK_CLOEXEC`.
 * @returns The new connected socket's fd; `-EAGAIN` when none is pending;
 * `-EINVAL` when not listening or for unknown flags; `-EMFILE` (the
 * connection stays queued); `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `flags` is not a number.
 *
 * @example
 * ```ts
 * import { AF_INET, accept4, close, socket, SOCK_STREAM } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(accept4(fd, 0), -22); // not listening
 * close(fd);
 * ```
 */
export function accept4(fd: number, flags: number): number {
  if (tracing) return traced("accept4", accept4, fd, flags);
  requireNumber(flags, "flags");
  const s = sock(fd);
  if (typeof s === "number") return s;
  if (!Number.isInteger(flags) || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  return s.accept(flags);
}

/**
 * Takes a pending connection (`accept(2)`): `accept4(fd, 0)`.
 *
 * @param fd The listening socket.
 * @returns As {@linkcode accept4}.
 *
 * @example
 * ```ts
 * import { accept, AF_INET, bind, close, EAGAIN, listen, socket, SOCK_STREAM } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fd = socket(AF_INET, SOCK_STREAM, 0);
 * bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 });
 * listen(fd, 16);
 * assert.equal(accept(fd), -EAGAIN); // nobody has connected yet
 * close(fd);
 * ```
 */
export function accept(fd: number): number {
  if (tracing) return traced("accept", accept, fd);
  return accept4(fd, 0);
}

/**
 * Starts connecting (`connect(2)` on a non-blocking socket). A TCP connect
 * returns `-EINPROGRESS`; the socket then reports `EPOLLOUT` on success, or
 * `EPOLLERR | EPOLLHUP` on failure, and
 * `getsockopt(fd, SOL_SOCKET, SO_ERROR)` tells 0 or the errno (for example
 * `ECONNREFUSED`). Until then a `write` gives `-EAGAIN`.
 *
 * A Unix connect differs by backend: on `native` it is the kernel's, which
 * completes at once (0, or `-ECONNREFUSED`, `-ENOENT`, `-EAGAIN` when the
 * listener's backlog is full); on `deno` it is `-EINPROGRESS` like TCP,
 * since `Deno.connect` is asynchronous for both.
 *
 * A datagram socket's connect returns 0 at once: it sets the default
 * destination, and only that peer's datagrams are received from then on;
 * `{ family: AF_UNSPEC }` dissolves it.
 *
 * @param fd The socket.
 * @param addr Where to connect.
 * @returns `-EINPROGRESS` (0 for a `native` Unix socket); `-EALREADY` while
 * a connect is pending; `-EISCONN` once connected; `-EAFNOSUPPORT`,
 * `-EINVAL` (bad address), `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `addr` is not an object.
 *
 * @example Waiting for a connect with epoll
 * ```ts
 * import {
 *   AF_INET, bind, close, connect, EINPROGRESS, EPOLL_CTL_ADD, epollCreate1, epollCtl,
 *   EPOLLOUT, epollWait, getsockname, getsockopt, listen, SO_ERROR, socket, SOCK_STREAM,
 *   SOL_SOCKET, type EpollEvent, type SockAddr,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const server = socket(AF_INET, SOCK_STREAM, 0);
 * bind(server, { family: AF_INET, address: "127.0.0.1", port: 0 });
 * listen(server, 16);
 * const addr = {} as SockAddr;
 * getsockname(server, addr);
 *
 * const client = socket(AF_INET, SOCK_STREAM, 0);
 * assert.equal(connect(client, addr), -EINPROGRESS);
 * const epfd = epollCreate1(0);
 * epollCtl(epfd, EPOLL_CTL_ADD, client, { events: EPOLLOUT, data: null });
 * const events: EpollEvent[] = [];
 * assert.equal(await epollWait(epfd, events, 1, 5000), 1);
 * assert.equal(getsockopt(client, SOL_SOCKET, SO_ERROR), 0);
 * [client, server, epfd].forEach(close);
 * ```
 */
export function connect(fd: number, addr: SockAddr | UnspecSockAddr): number {
  if (tracing) return traced("connect", connect, fd, addr);
  requireObject(addr, "addr");
  const s = sock(fd);
  return typeof s === "number" ? s : s.connect(addr);
}

/**
 * Shuts down one or both directions (`shutdown(2)`). `SHUT_WR` sends FIN
 * once the send buffer has drained (the peer sees `EPOLLRDHUP`, then reads
 * 0); `SHUT_RD` makes reads return 0 after buffered bytes are gone (on
 * `native` the kernel's `SHUT_RD`; on `deno` the peer is not told).
 *
 * @param fd The socket.
 * @param how {@linkcode SHUT_RD}, {@linkcode SHUT_WR} or {@linkcode SHUT_RDWR}.
 * @returns 0; `-ENOTCONN`, `-EINVAL`, `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} When `how` is not a number.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, read, SHUT_WR, shutdown, SOCK_STREAM, socketpair } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
 * assert.equal(shutdown(sv[0], SHUT_WR), 0);
 * assert.equal(read(sv[1], new Uint8Array(4)), 0); // end of stream
 * sv.forEach(close);
 * ```
 */
export function shutdown(fd: number, how: number): number {
  if (tracing) return traced("shutdown", shutdown, fd, how);
  requireNumber(how, "how");
  const s = sock(fd);
  return typeof s === "number" ? s : s.shutdown(how);
}
