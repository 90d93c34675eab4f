/**
 * # deno-epoll
 *
 * The Linux epoll programming model for Deno, over real networking. What
 * you reach for first:
 *
 * - **Objects** that throw {@linkcode ErrnoError}: {@linkcode Epoll},
 *   {@linkcode KQueue}, {@linkcode Listener}, {@linkcode Socket} and
 *   {@linkcode DatagramSocket} (`using` closes them).
 * - **epoll** with Linux's semantics: {@linkcode epollCreate1},
 *   {@linkcode epollCtl}, {@linkcode epollWait}, {@linkcode epollPwait2}
 *   (level- and edge-triggered, `EPOLLONESHOT`, `EPOLLEXCLUSIVE`,
 *   `EPOLLRDHUP`, nested epolls, round-robin delivery).
 * - **kqueue** the BSD way on the same descriptors: {@linkcode kqueue},
 *   {@linkcode kevent} (`EVFILT_READ`, `EVFILT_WRITE`, `EVFILT_TIMER`,
 *   `EVFILT_USER`); kqueues and epolls watch each other.
 * - **Sockets** (TCP, UDP and Unix): {@linkcode socket}, {@linkcode bind},
 *   {@linkcode listen}, {@linkcode accept4}, {@linkcode connect},
 *   {@linkcode read}, {@linkcode write}, {@linkcode shutdown}, options; for
 *   datagrams {@linkcode sendto}, {@linkcode recvfrom} and the batched
 *   {@linkcode sendmmsg} / {@linkcode recvmmsg}. Two
 *   backends: `deno` (the default; `Deno.listen`/`Deno.connect`, only
 *   `--allow-net`) and `native` (the kernel's own sockets through FFI,
 *   `--allow-ffi`), chosen with {@linkcode setSocketBackend} or
 *   `DENO_EPOLL_BACKEND=native`.
 * - **Timers and in-memory descriptors**: {@linkcode timerfdCreate},
 *   {@linkcode pipe}, {@linkcode socketpair}, {@linkcode eventfd}.
 * - Then the constants (`EPOLLIN`, `AF_INET`, …) and errno values (`EAGAIN`,
 *   {@linkcode errnoName}, {@linkcode strerror}).
 *
 * POSIX-shaped calls return a result `>= 0` or `-errno` and never throw for
 * a condition C reports through errno; the objects are the idiomatic layer
 * over the same descriptors. Import the package by its name
 * (`npx -y deno@2.9.6 add jsr:@deno-epoll/epoll`, then
 * `from "@deno-epoll/epoll"`).
 *
 * @example An echo round trip with the objects
 * ```ts
 * import { AF_INET, Epoll, EPOLLIN, EPOLLOUT, Listener, Socket } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using listener = Listener.listen({ family: AF_INET, address: "127.0.0.1", port: 0 });
 * using client = Socket.connect(listener.addr);
 * using ep = new Epoll();
 * ep.add(listener.fd, EPOLLIN, listener);
 * ep.add(client.fd, EPOLLOUT, "client connected");
 * const served: Socket[] = [];
 * const buf = new Uint8Array(64);
 * let reply = "";
 * while (reply === "") {
 *   for (const { data } of await ep.wait()) {
 *     if (data === listener) { // a new connection: echo what it sends
 *       const conn = listener.accept();
 *       if (conn !== null) {
 *         served.push(conn);
 *         ep.add(conn.fd, EPOLLIN, conn);
 *       }
 *     } else if (data === "client connected") {
 *       client.write(new TextEncoder().encode("hello"));
 *       ep.modify(client.fd, EPOLLIN, "client readable");
 *     } else if (data === "client readable") {
 *       reply = new TextDecoder().decode(buf.subarray(0, client.read(buf) ?? 0));
 *     } else {
 *       const conn = data as Socket;
 *       const n = conn.read(buf); // null: nothing to read after all
 *       if (n) conn.write(buf.subarray(0, n));
 *     }
 *   }
 * }
 * assert.equal(reply, "hello");
 * served.forEach((conn) => conn.close());
 * ```
 *
 * @example Two socketpairs through one epoll, with the calls
 * ```ts
 * import {
 *   AF_UNIX, close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, epollWait,
 *   read, SOCK_STREAM, socketpair, write, type EpollEvent,
 * } from "@deno-epoll/epoll";
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

// The object layer: what most programs use.
export { Epoll } from "./runtime/objects/epoll.ts";
export { KQueue } from "./runtime/objects/kqueue.ts";
export { Listener, type ListenerOptions } from "./net/objects/listener.ts";
export { Socket } from "./net/objects/socket.ts";
export { type Datagram, DatagramSocket } from "./net/objects/datagram_socket.ts";

// epoll and kqueue.
export {
  epollCreate,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  epollPwait2,
  epollWait,
  type Timespec,
} from "./runtime/epoll/epoll.ts";
export { type KEvent, kevent, kqueue } from "./runtime/kqueue/kevent.ts";

// Descriptors and sockets: the POSIX-shaped calls, and the socket backends.
export {
  close,
  dup,
  getDescriptorLimit,
  installDescription,
  read,
  setDescriptorLimit,
  write,
} from "./runtime/core/fd_table.ts";
export { accept, accept4, bind, connect, listen, shutdown, socket } from "./net/socket_calls.ts";
export { getpeername, getsockname, getsockopt, setsockopt } from "./net/socket_option_calls.ts";
export { recv, recvfrom, recvmmsg, send, sendmmsg, sendto } from "./net/datagram_calls.ts";
export type { RecvMessage, SendMessage } from "./net/socket_description.ts";
export type { InetSockAddr, SockAddr, UnixSockAddr, UnspecSockAddr } from "./net/sockaddr.ts";
export { getSocketBackend, setSocketBackend, socketBackendError } from "./net/socket_backend.ts";
export { datagramBackendError } from "./net/deno/datagram.ts";

// Process descriptors: signals and the standard streams.
export { signalfd } from "./runtime/process/signalfd.ts";
export { openStdio } from "./runtime/process/stdio.ts";

// Timers, the clock, and in-memory descriptors.
export {
  type ITimerSpec,
  timerfdCreate,
  timerfdGettime,
  timerfdSettime,
} from "./runtime/timer/timerfd.ts";
export { type Clock, type ClockAlarm, realClock } from "./runtime/core/clock.ts";
export { pipe } from "./runtime/memory/pipe.ts";
export { socketpair } from "./net/pair/socketpair.ts";
export { eventfd } from "./runtime/memory/eventfd.ts";

// Kernels: more than one descriptor table in a process (the simulated network's hosts).
export { currentKernel, Kernel, type KernelOptions } from "./runtime/core/kernel.ts";
export { type KernelCalls, kernelCalls } from "./net/kernel_calls.ts";
export { eventLoopTurns, type LoopTurns } from "./runtime/core/_loop_turn.ts";

// Extending: a new kind of descriptor on the readiness core.
export { Description, type FilterCounts, type Watcher } from "./runtime/core/description.ts";

// Errno values and names, ErrnoError; then the constants.
export * from "./runtime/core/errno.ts";
export * from "./runtime/core/constants.ts";
