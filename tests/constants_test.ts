/**
 * Every socket and eventfd constant SPEC.md lists carries its Linux x86-64
 * value (errno numbers are checked in errno_test.ts, epoll flags in
 * epoll_test.ts), and mod.ts exports every call SPEC.md names.
 */

import assert from "node:assert/strict";
import * as lib from "../mod.ts";

const SPEC: Record<string, number> = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_REUSEPORT: 15,
  SO_ACCEPTCONN: 30,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  EFD_SEMAPHORE: 1,
  EFD_NONBLOCK: 0o4000,
};

Deno.test("mod.ts exports every SPEC socket and eventfd constant with its Linux value", () => {
  const exported = lib as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(SPEC)) {
    assert.equal(exported[name], value, name);
  }
});

Deno.test("EPOLLET is a positive unsigned 32-bit number", () => {
  assert.ok(lib.EPOLLET > 0);
  assert.equal(lib.EPOLLET >>> 0, lib.EPOLLET);
});

Deno.test("mod.ts exports every call SPEC.md names", () => {
  const names = [
    "close",
    "dup",
    "read",
    "write",
    "pipe",
    "socketpair",
    "eventfd",
    "getDescriptorLimit",
    "setDescriptorLimit",
    "epollCreate",
    "epollCreate1",
    "epollCtl",
    "epollWait",
    "epollPwait2",
    "socket",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "shutdown",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "errnoName",
    "strerror",
    "ErrnoError",
    "Epoll",
    "Socket",
    "Listener",
  ];
  const exported = lib as unknown as Record<string, unknown>;
  for (const name of names) assert.equal(typeof exported[name], "function", name);
});

Deno.test("mod.ts exports every SPEC-kqueue constant and call with its FreeBSD (timerfd: Linux) value", () => {
  const KQ: Record<string, number> = {
    EVFILT_READ: -1,
    EVFILT_WRITE: -2,
    EVFILT_TIMER: -7,
    EVFILT_USER: -11,
    EV_ADD: 0x1,
    EV_DELETE: 0x2,
    EV_ENABLE: 0x4,
    EV_DISABLE: 0x8,
    EV_ONESHOT: 0x10,
    EV_CLEAR: 0x20,
    EV_RECEIPT: 0x40,
    EV_DISPATCH: 0x80,
    EV_ERROR: 0x4000,
    EV_EOF: 0x8000,
    NOTE_FFNOP: 0,
    NOTE_FFAND: 0x40000000,
    NOTE_FFOR: 0x80000000,
    NOTE_FFCOPY: 0xc0000000,
    NOTE_FFCTRLMASK: 0xc0000000,
    NOTE_FFLAGSMASK: 0xffffff,
    NOTE_TRIGGER: 0x1000000,
    NOTE_SECONDS: 0x1,
    NOTE_MSECONDS: 0x2,
    NOTE_USECONDS: 0x4,
    NOTE_NSECONDS: 0x8,
    NOTE_ABSTIME: 0x10,
    CLOCK_REALTIME: 0,
    CLOCK_MONOTONIC: 1,
    TFD_TIMER_ABSTIME: 1,
    TFD_NONBLOCK: 0o4000,
    TFD_CLOEXEC: 0o2000000,
  };
  const exported = lib as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(KQ)) assert.equal(exported[name], value, name);
  for (const name of ["kqueue", "kevent", "timerfdCreate", "timerfdSettime", "timerfdGettime"]) {
    assert.equal(typeof exported[name], "function", name);
  }
  assert.equal(typeof exported.KQueue, "function");
});

Deno.test("mod.ts exports every SPEC datagram constant with its Linux value, and the datagram calls", () => {
  const exported = lib as unknown as Record<string, unknown>;
  const values: Record<string, number> = {
    SOCK_DGRAM: 2,
    IPPROTO_UDP: 17,
    MSG_PEEK: 0x2,
    MSG_TRUNC: 0x20,
    MSG_DONTWAIT: 0x40,
    MSG_NOSIGNAL: 0x4000,
    SO_BROADCAST: 6,
    AF_UNSPEC: 0,
    EBUSY: 16,
    EDESTADDRREQ: 89,
    EMSGSIZE: 90,
  };
  for (const [name, value] of Object.entries(values)) assert.equal(exported[name], value, name);
  for (const name of ["sendto", "recvfrom", "send", "recv", "sendmmsg", "recvmmsg"]) {
    assert.equal(typeof exported[name], "function", name);
  }
  assert.equal(typeof exported.DatagramSocket, "function");
  assert.equal(lib.errnoName(-lib.EMSGSIZE), "EMSGSIZE");
  assert.equal(lib.strerror(lib.EDESTADDRREQ), "Destination address required");
});
