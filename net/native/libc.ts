/**
 * The C library through Deno FFI (`Deno.dlopen("libc.so.6")`): a thin,
 * policy-free OS layer in the style of mio's `sys` module. Every call is
 * POSIX-shaped and returns `>= 0` or `-errno`, with `errno` read through
 * `__errno_location()` (mapped once: errno is thread-local and every
 * synchronous FFI call runs on the JS thread).
 *
 * Used by the native socket backend and by tests that compare this library
 * with the kernel. {@linkcode openLibc} returns the process-wide binding, or
 * a sentence saying why it is unavailable (not Linux, no FFI permission, no
 * libc). The binding is loaded once, when this module is imported, and
 * never unloaded (so the resource sanitizer never sees it opened inside a
 * test).
 *
 * How the calls are marshalled (the layouts, the BigInt and errno facts)
 * is `_libc_ffi.ts`.
 *
 * @module
 */

import type { SockAddr, UnspecSockAddr } from "../sockaddr.ts";
import { bindLibc, SYMBOLS } from "./_libc_ffi.ts";

/** One event of `epoll_wait`: the mask and the 64-bit `data` token as a number. */
export interface NativeEvent {
  /** The event mask, unsigned (`>>> 0`). */
  events: number;
  /** The `data` given to `epoll_ctl` (an integer below 2^53). */
  data: number;
}

/** POSIX-shaped libc calls. Each returns `>= 0` or `-errno`. */
export interface Libc {
  /** `"x86_64"` or `"aarch64"`. */
  readonly arch: string;
  /** Size of `struct epoll_event` here (12 on x86-64, 16 on aarch64). */
  readonly epollEventSize: number;
  /** `pipe2(2)`: fills `fds[0]` (read end) and `fds[1]` (write end). */
  pipe2(fds: number[], flags: number): number;
  /** `socketpair(2)`: fills `sv[0]` and `sv[1]`. */
  socketpair(domain: number, type: number, protocol: number, sv: number[]): number;
  /** `eventfd(2)`. */
  eventfd(initval: number, flags: number): number;
  /** `epoll_create1(2)`. */
  epoll_create1(flags: number): number;
  /** `epoll_ctl(2)` with `{events, data}` (data: an integer token below 2^53). */
  epoll_ctl(epfd: number, op: number, fd: number, events: number, data: number): number;
  /** `epoll_wait(2)`, synchronous (use timeout 0 on the JS thread); fills `out[0..n-1]`. */
  epoll_wait(epfd: number, out: NativeEvent[], maxevents: number, timeoutMs: number): number;
  /**
   * `epoll_wait(2)` on a Deno worker thread (`nonblocking` FFI): resolves to
   * the count (events in `out[0..n-1]`), or -EINTR for any failure (the
   * worker thread's errno cannot be read). One at a time: a second call
   * while one is pending returns -EINVAL. The event buffer is held until the
   * call returns.
   */
  epoll_wait_parked(
    epfd: number,
    out: NativeEvent[],
    maxevents: number,
    timeoutMs: number,
  ): Promise<number>;
  /** `read(2)`. */
  read(fd: number, buf: Uint8Array): number;
  /** `write(2)`. */
  write(fd: number, buf: Uint8Array): number;
  /** `send(2)` (e.g. with `MSG_NOSIGNAL`, so a reset peer gives -EPIPE and no SIGPIPE). */
  send(fd: number, buf: Uint8Array, flags: number): number;
  /** `recv(2)`. */
  recv(fd: number, buf: Uint8Array, flags: number): number;
  /** `sendto(2)` with an encoded `struct sockaddr` of `addrLen` bytes. */
  sendto(fd: number, buf: Uint8Array, flags: number, addr: Uint8Array, addrLen: number): number;
  /**
   * `recvfrom(2)`: the sender's `struct sockaddr` goes to `addr`; `addrLen`
   * holds a native-endian `socklen_t` (4 bytes), `addr.length` before the
   * call and the address's length after it.
   */
  recvfrom(
    fd: number,
    buf: Uint8Array,
    flags: number,
    addr: Uint8Array,
    addrLen: Uint8Array,
  ): number;
  /** `sendmmsg(2)` over a packed `struct mmsghdr` array (pointers already filled in). */
  sendmmsg(fd: number, vec: Uint8Array, vlen: number, flags: number): number;
  /** `recvmmsg(2)` over a packed `struct mmsghdr` array, without a timeout. */
  recvmmsg(fd: number, vec: Uint8Array, vlen: number, flags: number): number;
  /** `poll(2)` of one fd: its `revents` (same bits as `EPOLL*`), 0 on timeout, or `-errno`. */
  poll1(fd: number, events: number, timeoutMs: number): number;
  /** `close(2)`. */
  close(fd: number): number;
  /** `dup(2)`. */
  dup(fd: number): number;
  /** `shutdown(2)`. */
  shutdown(fd: number, how: number): number;
  /** `socket(2)`. */
  socket(domain: number, type: number, protocol: number): number;
  /** `bind(2)`; -EINVAL for an address that cannot be encoded. */
  bind(fd: number, addr: SockAddr): number;
  /** `listen(2)`. */
  listen(fd: number, backlog: number): number;
  /** `accept4(2)`; fills `addr` with the peer's address when given. */
  accept4(fd: number, flags: number, addr?: SockAddr): number;
  /** `connect(2)`; -EINVAL for an address that cannot be encoded. */
  connect(fd: number, addr: SockAddr | UnspecSockAddr): number;
  /** `getsockopt(2)` into `optval`; returns the option's length. */
  getsockopt(fd: number, level: number, name: number, optval: Uint8Array): number;
  /** `setsockopt(2)` from `optval`. */
  setsockopt(fd: number, level: number, name: number, optval: Uint8Array): number;
  /** `getsockopt(2)` of an `int` option; returns its value (options read here are >= 0). */
  getsockoptInt(fd: number, level: number, name: number): number;
  /** `setsockopt(2)` of an `int` option. */
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  /** `getsockname(2)`; fills `out`. */
  getsockname(fd: number, out: SockAddr): number;
  /** `getpeername(2)`; fills `out`. */
  getpeername(fd: number, out: SockAddr): number;
  /** `ioctl(2)` with an `int` out-parameter (`FIONREAD`, `TIOCOUTQ`): its value, or `-errno`. */
  ioctlInt(fd: number, request: number): number;
  /** `fcntl(2)` with an integer argument. */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** `sched_yield(2)`. */
  sched_yield(): number;
}

/**
 * The process-wide libc binding, or a sentence saying why it is unavailable
 * (not Linux, not x86-64/aarch64, no `--allow-ffi`, or no `libc.so.6`).
 * Loaded once, at import; every call returns the same value.
 *
 * @example Create a pipe and move a byte through it
 * ```ts
 * import { openLibc } from "./libc.ts";
 * const libc = openLibc();
 * if (typeof libc !== "string") {
 *   const fds: number[] = [];
 *   libc.pipe2(fds, 0);
 *   libc.write(fds[1], new Uint8Array([7]));
 *   const buf = new Uint8Array(1);
 *   console.log(libc.read(fds[0], buf), buf[0]); // 1 7
 *   libc.close(fds[0]);
 *   libc.close(fds[1]);
 * }
 * ```
 */
export function openLibc(): Libc | string {
  return loaded;
}

function load(): Libc | string {
  if (Deno.build.os !== "linux") return `the native backend needs Linux (this is ${Deno.build.os})`;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `the native backend needs x86-64 or aarch64 (this is ${Deno.build.arch})`;
  }
  let state: string;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch (e) {
    return `the FFI permission cannot be queried: ${(e as Error).message}`;
  }
  if (state !== "granted") return "the native backend needs the FFI permission (--allow-ffi)";
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    return `libc.so.6 cannot be loaded: ${(e as Error).message}`;
  }
  return bindLibc(lib.symbols, Deno.build.arch);
}

const loaded: Libc | string = load();
