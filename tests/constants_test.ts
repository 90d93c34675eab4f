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
