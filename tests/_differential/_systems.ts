/**
 * The two systems a differential program runs on, behind one POSIX-shaped
 * interface: this library (`mod.ts`) and the Linux kernel (through the libc
 * binding of `net/native/libc.ts`). Every call returns `>= 0` or `-errno`;
 * every fd is non-blocking; `wait` is `epoll_wait` with timeout 0.
 *
 * @module
 */

import * as lib from "../../mod.ts";
import type { Libc, NativeEvent } from "../../net/native/libc.ts";
import { NativeSocket } from "../../net/native/socket.ts";
import { descriptors } from "../../runtime/core/fd_table.ts";

/** Linux's `F_DUPFD_CLOEXEC`. */
const F_DUPFD_CLOEXEC = 1030;
/** `getsockopt(IPPROTO_TCP, TCP_INFO)`: `tcpi_state` (offset 0), `tcpi_unacked` (segments in flight). */
const TCP_INFO = 11;
const TCPI_UNACKED = 24;
/** `tcpi_notsent_bytes` and `tcpi_snd_wnd` (the peer's window). */
const TCPI_NOTSENT = 144;
const TCPI_SND_WND = 228;
const TCP_LISTEN = 10;
const info = new Uint8Array(TCPI_SND_WND + 4);
const infoView = new DataView(info.buffer);
/** `setsockopt(IPPROTO_TCP, TCP_QUICKACK, 1)`: leave delayed-ACK mode, send a pending ACK now. */
const TCP_QUICKACK = 12;
/** Longest a settle waits for the acknowledgements in flight. */
const SETTLE_MS = 500;
const LOOPBACK = "127.0.0.1";

/** One event as both systems report it: the mask and the numeric `data` token. */
export interface Event {
  events: number;
  data: number;
}

/** What a differential program may call. */
export interface Sys {
  readonly name: string;
  pipe(fds: number[]): number;
  socketpair(sv: number[]): number;
  /** `socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)`. */
  dgramSocketpair(sv: number[]): number;
  recv(fd: number, buf: Uint8Array, flags: number): number;
  eventfd(initval: number, flags: number): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  /** `epoll_wait(epfd, out, max, 0)`: the events, or `-errno`. */
  epollWait(epfd: number, max: number): Promise<Event[] | number>;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  close(fd: number): number;
  dup(fd: number): number;
  shutdown(fd: number, how: number): number;
  /** A TCP socket listening on 127.0.0.1 (ephemeral port), with `TCP_NODELAY`; fd or `-errno`. */
  listen(): number;
  /**
   * A TCP socket with `TCP_NODELAY` connecting (non-blocking) to the port of
   * the listener `lfd`: `[fd, connect's result]`, or `[-errno, 0]`.
   */
  connect(lfd: number): [number, number];
  /** `accept4(lfd, SOCK_NONBLOCK)`. */
  accept(lfd: number): number;
  /**
   * Waits until no segment sent on the TCP sockets `fds` waits for its
   * acknowledgement (at most {@linkcode SETTLE_MS}): delayed ACKs free send
   * space and raise EPOLLOUT at times of their own, which lockstep runs on
   * two sets of sockets must not see.
   */
  settle(fds: number[]): Promise<void>;
}

/**
 * Waits until no kernel TCP socket of `kfds` has segments in flight
 * unacknowledged (bounded). Each first sends the ACK it was delaying (`TCP_QUICKACK`, which
 * flushes a scheduled ACK at once), so on loopback this rarely waits.
 */
async function settleKernel(libc: Libc, kfds: number[]): Promise<void> {
  for (const k of kfds) libc.setsockoptInt(k, lib.IPPROTO_TCP, TCP_QUICKACK, 1);
  const deadline = performance.now() + SETTLE_MS;
  for (;;) {
    // Busy: segments in flight, or bytes not sent yet while the peer's
    // window is open (they are about to go).
    const busy = kfds.some((k) =>
      libc.getsockopt(k, lib.IPPROTO_TCP, TCP_INFO, info) >= info.length &&
      info[0] !== TCP_LISTEN && (infoView.getUint32(TCPI_UNACKED, true) > 0 ||
        (infoView.getUint32(TCPI_NOTSENT, true) > 0 && infoView.getUint32(TCPI_SND_WND, true) > 0))
    );
    if (!busy || performance.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * This library, through the calls of `mod.ts`; its TCP sockets are the
 * native backend's (kernel sockets in the library's descriptor table and
 * epolls). `libc` settles them; without it there are no TCP ops.
 */
export function librarySys(libc?: Libc): Sys {
  const out: lib.EpollEvent[] = [];
  const kernelFd = (fd: number) => {
    const d = descriptors.get(fd);
    return d instanceof NativeSocket ? d.kernelFd : -1;
  };
  return {
    name: "library",
    pipe: (fds) => lib.pipe(fds),
    socketpair: (sv) => lib.socketpair(lib.AF_UNIX, lib.SOCK_STREAM | lib.SOCK_NONBLOCK, 0, sv),
    dgramSocketpair: (sv) => lib.socketpair(lib.AF_UNIX, lib.SOCK_DGRAM | lib.SOCK_NONBLOCK, 0, sv),
    recv: (fd, buf, flags) => lib.recv(fd, buf, flags),
    eventfd: (initval, flags) => lib.eventfd(initval, flags | lib.EFD_NONBLOCK),
    epollCreate: () => lib.epollCreate1(0),
    epollCtl: (epfd, op, fd, events, data) => lib.epollCtl(epfd, op, fd, { events, data }),
    async epollWait(epfd, max) {
      const n = await lib.epollWait(epfd, out, max, 0);
      if (n < 0) return n;
      const events: Event[] = [];
      for (let i = 0; i < n; i++) {
        events.push({ events: out[i].events, data: out[i].data as number });
      }
      return events;
    },
    read: (fd, buf) => lib.read(fd, buf),
    write: (fd, buf) => lib.write(fd, buf),
    close: (fd) => lib.close(fd),
    dup: (fd) => lib.dup(fd),
    shutdown: (fd, how) => lib.shutdown(fd, how),
    ...tcpSteps({ ...lib, socket: nativeSocket }),
    accept: (lfd) => lib.accept4(lfd, lib.SOCK_NONBLOCK),
    settle: (fds) =>
      libc ? settleKernel(libc, fds.map(kernelFd).filter((k) => k >= 0)) : Promise.resolve(),
  };
}

/** The calls {@linkcode tcpSteps} makes: `socket` makes a non-blocking TCP socket with `TCP_NODELAY`. */
interface TcpCalls {
  socket(): number;
  bind(fd: number, addr: lib.SockAddr): number;
  listen(fd: number, backlog: number): number;
  getsockname(fd: number, out: lib.SockAddr): number;
  connect(fd: number, addr: lib.SockAddr): number;
  close(fd: number): number;
}

/** `listen` and `connect` of {@linkcode Sys}: the same steps on either system's calls. */
function tcpSteps(c: TcpCalls): Pick<Sys, "listen" | "connect"> {
  const addr = {} as lib.SockAddr;
  return {
    listen() {
      const fd = c.socket();
      if (fd < 0) return fd;
      const r = c.bind(fd, { family: lib.AF_INET, address: LOOPBACK, port: 0 });
      const l = r < 0 ? r : c.listen(fd, 16);
      if (l < 0) c.close(fd);
      return l < 0 ? l : fd;
    },
    connect(lfd) {
      const r = c.getsockname(lfd, addr);
      if (r < 0) return [r, 0];
      const fd = c.socket();
      return fd < 0 ? [fd, 0] : [fd, c.connect(fd, addr)];
    },
  };
}

/** A native TCP socket with `TCP_NODELAY`, whatever the current backend. */
function nativeSocket(): number {
  const before = lib.getSocketBackend();
  if (lib.setSocketBackend("native") !== 0) return -lib.ENOSYS;
  try {
    const fd = lib.socket(lib.AF_INET, lib.SOCK_STREAM | lib.SOCK_NONBLOCK, 0);
    if (fd >= 0) lib.setsockopt(fd, lib.IPPROTO_TCP, lib.TCP_NODELAY, 1);
    return fd;
  } finally {
    lib.setSocketBackend(before);
  }
}

/** The Linux kernel, through libc. */
export function kernelSys(libc: Libc, name = "kernel"): Sys {
  const out: NativeEvent[] = [];
  // Every fd is close-on-exec: test files run in parallel in one process, and
  // a child another test spawns must not inherit (and keep open) our pipe
  // ends and sockets. The values are Linux's, equal across the three calls.
  const FLAGS = lib.SOCK_NONBLOCK | lib.SOCK_CLOEXEC;
  const tcpSocket = () => {
    const fd = libc.socket(lib.AF_INET, lib.SOCK_STREAM | FLAGS, 0);
    if (fd >= 0) libc.setsockoptInt(fd, lib.IPPROTO_TCP, lib.TCP_NODELAY, 1);
    return fd;
  };
  return {
    name,
    pipe: (fds) => libc.pipe2(fds, FLAGS),
    socketpair: (sv) => libc.socketpair(lib.AF_UNIX, lib.SOCK_STREAM | FLAGS, 0, sv),
    dgramSocketpair: (sv) => libc.socketpair(lib.AF_UNIX, lib.SOCK_DGRAM | FLAGS, 0, sv),
    recv: (fd, buf, flags) => libc.recv(fd, buf, flags),
    eventfd: (initval, flags) => libc.eventfd(initval, flags | FLAGS),
    epollCreate: () => libc.epoll_create1(lib.EPOLL_CLOEXEC),
    epollCtl: (epfd, op, fd, events, data) => libc.epoll_ctl(epfd, op, fd, events, data),
    epollWait(epfd, max) {
      const n = libc.epoll_wait(epfd, out, max, 0);
      if (n < 0) return Promise.resolve(n);
      const events: Event[] = [];
      for (let i = 0; i < n; i++) events.push({ events: out[i].events, data: out[i].data });
      return Promise.resolve(events);
    },
    read: (fd, buf) => libc.read(fd, buf),
    write: (fd, buf) => libc.write(fd, buf),
    close: (fd) => libc.close(fd),
    // dup(2) with close-on-exec: the lowest free fd for the same description.
    dup: (fd) => libc.fcntl(fd, F_DUPFD_CLOEXEC, 0),
    shutdown: (fd, how) => libc.shutdown(fd, how),
    ...tcpSteps({ ...libc, socket: tcpSocket }),
    accept: (lfd) => libc.accept4(lfd, FLAGS),
    settle: (fds) => settleKernel(libc, fds),
  };
}
