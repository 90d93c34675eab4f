/**
 * The libc calls of {@linkcode Libc} as FFI symbols, and the marshalling
 * between them and the POSIX-shaped calls: `errno` through
 * `__errno_location()`, structures packed into reused buffers, lengths as
 * BigInt.
 *
 * Facts this layer encodes:
 * - `struct epoll_event` is packed (12 bytes, data at offset 4) on x86-64
 *   and 16 bytes (data at offset 8) on aarch64; masks are `>>> 0`.
 * - `usize` parameters take the fast path only as BigInt: lengths are
 *   converted through a cache.
 * - `ssize_t` results are declared `i32` (the low half of the return
 *   register): every buffer passed here is shorter than 2 GiB, and a 32-bit
 *   result is a plain number, so no BigInt is allocated (and no GC can run
 *   and clobber `errno`) between the call and the `errno` read.
 * - A `nonblocking` FFI call runs on another thread, whose `errno` cannot be
 *   read: {@linkcode Libc.epoll_wait_parked} reports any failure as -EINTR.
 *
 * @module
 */

import { EAFNOSUPPORT, EINTR, EINVAL } from "../../runtime/core/errno.ts";
import { copyAddr, type SockAddr } from "../sockaddr.ts";
import { decodeSockaddr, encodeSockaddr } from "./sockaddr_codec.ts";
import type { Libc, NativeEvent } from "./libc.ts";

/** The symbols `Deno.dlopen("libc.so.6")` binds. */
export const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_nb: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  accept4_anon: {
    name: "accept4",
    parameters: ["i32", "pointer", "pointer", "i32"],
    result: "i32",
  },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
} as const;

// Lengths as BigInt (`usize` takes the fast path only as BigInt); buffer
// sizes repeat, so the conversions are cached.
const bigLengths = new Map<number, bigint>();
function usize(n: number): bigint {
  let b = bigLengths.get(n);
  if (b === undefined) {
    b = BigInt(n);
    if (bigLengths.size < 4096) bigLengths.set(n, b);
  }
  return b;
}

/** Largest length handed to `read`/`write` (results are 32-bit). */
const MAX_IO = 0x40000000;

// deno-lint-ignore no-explicit-any
type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] & Record<string, any>;

/** The {@linkcode Libc} calls over the bound `symbols` of `libc.so.6` on `arch`. */
export function bindLibc(s: Symbols, arch: string): Libc {
  const errnoPtr = s.__errno_location();
  if (errnoPtr === null) throw new Error("__errno_location returned NULL");
  const errno = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(errnoPtr, 4));
  const ret = (r: number): number => (r < 0 ? -errno[0] : r);

  const evSize = arch === "x86_64" ? 12 : 16;
  const dataOff = arch === "x86_64" ? 4 : 8;
  const ctlBuf = new Uint8Array(16);
  const ctlView = new DataView(ctlBuf.buffer);
  let waitBuf = new Uint8Array(evSize * 64);
  let waitView = new DataView(waitBuf.buffer);
  let parkBuf: Uint8Array | null = new Uint8Array(evSize * 64);
  const pair = new Int32Array(2);
  const pairBytes = new Uint8Array(pair.buffer);
  const addrBuf = new Uint8Array(128);
  const addrView = new DataView(addrBuf.buffer);
  const lenBuf = new Uint32Array(1);
  const lenBytes = new Uint8Array(lenBuf.buffer);
  const optBuf = new Int32Array(1);
  const optBytes = new Uint8Array(optBuf.buffer);
  const pollFd = new Int32Array(2);
  const pollBytes = new Uint8Array(pollFd.buffer);
  const pollView = new DataView(pollFd.buffer);
  const one = usize(1);

  function decodeEvents(view: DataView, out: NativeEvent[], n: number): void {
    for (let i = 0; i < n; i++) {
      const off = i * evSize;
      const events = view.getUint32(off, true) >>> 0;
      const lo = view.getUint32(off + dataOff, true);
      const hi = view.getUint32(off + dataOff + 4, true);
      const data = hi * 0x100000000 + lo;
      const e = out[i];
      if (e === undefined) out[i] = { events, data };
      else {
        e.events = events;
        e.data = data;
      }
    }
  }

  function nameCall(
    fn: (fd: number, a: Uint8Array, l: Uint8Array) => number,
    fd: number,
    out: SockAddr,
  ): number {
    lenBuf[0] = addrBuf.length;
    const r = ret(fn(fd, addrBuf, lenBytes));
    if (r < 0) return r;
    const a = decodeSockaddr(addrView, lenBuf[0]);
    if (a === null) return -EAFNOSUPPORT;
    copyAddr(a, out);
    return 0;
  }

  return {
    arch,
    epollEventSize: evSize,
    pipe2(fds, flags) {
      const r = ret(s.pipe2(pairBytes, flags));
      if (r === 0) {
        fds[0] = pair[0];
        fds[1] = pair[1];
      }
      return r;
    },
    socketpair(domain, type, protocol, sv) {
      const r = ret(s.socketpair(domain, type, protocol, pairBytes));
      if (r === 0) {
        sv[0] = pair[0];
        sv[1] = pair[1];
      }
      return r;
    },
    eventfd: (initval, flags) => ret(s.eventfd(initval >>> 0, flags)),
    epoll_create1: (flags) => ret(s.epoll_create1(flags)),
    epoll_ctl(epfd, op, fd, events, data) {
      ctlView.setUint32(0, events >>> 0, true);
      ctlView.setUint32(dataOff, data >>> 0, true);
      ctlView.setUint32(dataOff + 4, Math.floor(data / 0x100000000) >>> 0, true);
      return ret(s.epoll_ctl(epfd, op, fd, ctlBuf));
    },
    epoll_wait(epfd, out, maxevents, timeoutMs) {
      if (maxevents > 0 && maxevents * evSize > waitBuf.length) {
        waitBuf = new Uint8Array(maxevents * evSize);
        waitView = new DataView(waitBuf.buffer);
      }
      const n = ret(s.epoll_wait(epfd, waitBuf, maxevents, timeoutMs));
      if (n > 0) decodeEvents(waitView, out, n);
      return n;
    },
    async epoll_wait_parked(epfd, out, maxevents, timeoutMs) {
      if (parkBuf === null) return -EINVAL;
      let buf = parkBuf;
      if (maxevents > 0 && maxevents * evSize > buf.length) {
        buf = new Uint8Array(maxevents * evSize);
      }
      parkBuf = null; // held by the pending call until it returns
      let n: number;
      try {
        n = await s.epoll_wait_nb(epfd, buf, maxevents, timeoutMs);
      } finally {
        parkBuf = buf;
      }
      if (n < 0) return -EINTR;
      if (n > 0) decodeEvents(new DataView(buf.buffer), out, n);
      return n;
    },
    read: (fd, buf) => ret(s.read(fd, buf, usize(Math.min(buf.length, MAX_IO)))),
    write: (fd, buf) => ret(s.write(fd, buf, usize(Math.min(buf.length, MAX_IO)))),
    send: (fd, buf, flags) => ret(s.send(fd, buf, usize(Math.min(buf.length, MAX_IO)), flags)),
    recv: (fd, buf, flags) => ret(s.recv(fd, buf, usize(Math.min(buf.length, MAX_IO)), flags)),
    sendto: (fd, buf, flags, addr, addrLen) =>
      ret(s.sendto(fd, buf, usize(Math.min(buf.length, MAX_IO)), flags, addr, addrLen)),
    recvfrom: (fd, buf, flags, addr, addrLen) =>
      ret(s.recvfrom(fd, buf, usize(Math.min(buf.length, MAX_IO)), flags, addr, addrLen)),
    sendmmsg: (fd, vec, vlen, flags) => ret(s.sendmmsg(fd, vec, vlen, flags)),
    recvmmsg: (fd, vec, vlen, flags) => ret(s.recvmmsg(fd, vec, vlen, flags, null)),
    poll1(fd, events, timeoutMs) {
      pollFd[0] = fd;
      pollView.setUint16(4, events & 0xffff, true);
      pollView.setUint16(6, 0, true);
      const r = ret(s.poll(pollBytes, one, timeoutMs));
      return r <= 0 ? r : pollView.getUint16(6, true);
    },
    close: (fd) => ret(s.close(fd)),
    dup: (fd) => ret(s.dup(fd)),
    shutdown: (fd, how) => ret(s.shutdown(fd, how)),
    socket: (domain, type, protocol) => ret(s.socket(domain, type, protocol)),
    bind(fd, addr) {
      const len = encodeSockaddr(addr, addrView);
      return len < 0 ? len : ret(s.bind(fd, addrBuf, len));
    },
    listen: (fd, backlog) => ret(s.listen(fd, backlog)),
    accept4(fd, flags, addr) {
      if (addr === undefined) return ret(s.accept4_anon(fd, null, null, flags));
      lenBuf[0] = addrBuf.length;
      const r = ret(s.accept4(fd, addrBuf, lenBytes, flags));
      if (r >= 0 && addr !== undefined) {
        const a = decodeSockaddr(addrView, lenBuf[0]);
        if (a !== null) copyAddr(a, addr);
      }
      return r;
    },
    connect(fd, addr) {
      const len = encodeSockaddr(addr, addrView);
      return len < 0 ? len : ret(s.connect(fd, addrBuf, len));
    },
    getsockopt(fd, level, name, optval) {
      lenBuf[0] = optval.length;
      const r = ret(s.getsockopt(fd, level, name, optval, lenBytes));
      return r < 0 ? r : lenBuf[0];
    },
    setsockopt: (fd, level, name, optval) =>
      ret(s.setsockopt(fd, level, name, optval, optval.length)),
    getsockoptInt(fd, level, name) {
      lenBuf[0] = 4;
      optBuf[0] = 0;
      const r = ret(s.getsockopt(fd, level, name, optBytes, lenBytes));
      return r < 0 ? r : optBuf[0];
    },
    setsockoptInt(fd, level, name, value) {
      optBuf[0] = value;
      return ret(s.setsockopt(fd, level, name, optBytes, 4));
    },
    getsockname: (fd, out) => nameCall(s.getsockname, fd, out),
    getpeername: (fd, out) => nameCall(s.getpeername, fd, out),
    fcntl: (fd, cmd, arg) => ret(s.fcntl(fd, cmd, BigInt(arg))),
    ioctlInt(fd, request) {
      optBuf[0] = 0;
      const r = ret(s.ioctl(fd, usize(request), optBytes));
      return r < 0 ? r : optBuf[0];
    },
    sched_yield: () => ret(s.sched_yield()),
  };
}
