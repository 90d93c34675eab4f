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

/** Linux's `F_DUPFD_CLOEXEC`. */
const F_DUPFD_CLOEXEC = 1030;

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
}

/** This library, through the calls of `mod.ts`. */
export function librarySys(): Sys {
  const out: lib.EpollEvent[] = [];
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
  };
}

/** The Linux kernel, through libc. */
export function kernelSys(libc: Libc, name = "kernel"): Sys {
  const out: NativeEvent[] = [];
  // Every fd is close-on-exec: test files run in parallel in one process, and
  // a child another test spawns must not inherit (and keep open) our pipe
  // ends and sockets. The values are Linux's, equal across the three calls.
  const FLAGS = lib.SOCK_NONBLOCK | lib.SOCK_CLOEXEC;
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
  };
}
