/**
 * # deno-epoll
 *
 * The Linux epoll programming model for Deno: a userspace descriptor table,
 * an epoll reactor with Linux's semantics (level- and edge-triggered,
 * `EPOLLONESHOT`, `EPOLLEXCLUSIVE`, `EPOLLRDHUP`, nested epolls, round-robin
 * delivery), a non-blocking socket shim over `Deno.listen` / `Deno.connect`
 * (TCP and Unix), and in-memory pipes, socketpairs and eventfds.
 *
 * POSIX-shaped calls return a result `>= 0` or `-errno`, and never throw for
 * a condition C reports through errno; the `Epoll` class is the idiomatic
 * layer over the same core and throws {@linkcode ErrnoError}.
 *
 * @example Two socketpairs through one epoll
 * ```ts
 * import {
 *   AF_UNIX, close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, epollWait,
 *   read, SOCK_STREAM, socketpair, write, type EpollEvent,
 * } from "jsr:@deno-epoll/epoll@^0.1.0";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate1(0);
 * const a: number[] = [], b: number[] = [];
 * socketpair(AF_UNIX, SOCK_STREAM, 0, a);
 * socketpair(AF_UNIX, SOCK_STREAM, 0, b);
 * epollCtl(epfd, EPOLL_CTL_ADD, a[1], { events: EPOLLIN, data: "a" });
 * epollCtl(epfd, EPOLL_CTL_ADD, b[1], { events: EPOLLIN, data: "b" });
 * write(b[0], new TextEncoder().encode("hello"));
 *
 * const events: EpollEvent[] = [];
 * const n = await epollWait(epfd, events, 16, 1000);
 * assert.equal(n, 1);
 * assert.equal(events[0].data, "b");
 * const buf = new Uint8Array(64);
 * assert.equal(new TextDecoder().decode(buf.subarray(0, read(b[1], buf))), "hello");
 * [...a, ...b, epfd].forEach(close);
 * ```
 *
 * @module
 */

export * from "./runtime/core/errno.ts";
export * from "./runtime/core/constants.ts";
export * from "./runtime/core/constants.ts";
export { Description, type FilterCounts, type Watcher } from "./runtime/core/description.ts";
export {
  close,
  dup,
  getDescriptorLimit,
  installDescription,
  read,
  setDescriptorLimit,
  write,
} from "./runtime/core/fd_table.ts";
export {
  epollCreate,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  epollPwait2,
  epollWait,
  type Timespec,
} from "./runtime/epoll/epoll.ts";
export { type Clock, type ClockAlarm, realClock } from "./runtime/core/clock.ts";
export { currentKernel, Kernel, type KernelOptions } from "./runtime/core/kernel.ts";
export { eventLoopTurns, type LoopTurns } from "./runtime/core/_loop_turn.ts";
export { type KernelCalls, kernelCalls } from "./net/kernel_calls.ts";
export { pipe } from "./runtime/memory/pipe.ts";
export { socketpair } from "./net/pair/socketpair.ts";
export { eventfd } from "./runtime/memory/eventfd.ts";
export type { InetSockAddr, SockAddr, UnixSockAddr, UnspecSockAddr } from "./net/sockaddr.ts";
export { Epoll } from "./runtime/objects/epoll.ts";
export { type KEvent, kevent, kqueue } from "./runtime/kqueue/kevent.ts";
export { KQueue } from "./runtime/objects/kqueue.ts";
export {
  type ITimerSpec,
  timerfdCreate,
  timerfdGettime,
  timerfdSettime,
} from "./runtime/timer/timerfd.ts";
export {
  accept,
  accept4,
  bind,
  connect,
  getpeername,
  getsockname,
  getsockopt,
  listen,
  setsockopt,
  shutdown,
  socket,
} from "./net/socket_calls.ts";
export { Listener, type ListenerOptions } from "./net/objects/listener.ts";
export { Socket } from "./net/objects/socket.ts";
export { type Datagram, DatagramSocket } from "./net/objects/datagram_socket.ts";
export { getSocketBackend, setSocketBackend, socketBackendError } from "./net/socket_backend.ts";
export { datagramBackendError } from "./net/deno/datagram.ts";
export { recv, recvfrom, recvmmsg, send, sendmmsg, sendto } from "./net/datagram_calls.ts";
export type { RecvMessage, SendMessage } from "./net/socket_description.ts";
