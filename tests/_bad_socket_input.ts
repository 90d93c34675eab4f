/**
 * The table of bad input to the socket calls that bad_input_net_test.ts runs
 * row by row: every call with bad, closed and wrong-kind descriptors,
 * out-of-range and non-integer numbers, unknown flags, levels and options,
 * bad addresses, and wrong JavaScript types. Each row names the call, makes
 * it on the fixtures, and gives the Linux errno (checked against the kernel
 * with Python's socket module where C can express the input) or a TypeError.
 *
 * @module
 */

import {
  accept,
  accept4,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  bind,
  connect,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EINVAL,
  EISCONN,
  ENOTCONN,
  ENOTSOCK,
  EOPNOTSUPP,
  EPIPE,
  EPROTONOSUPPORT,
  getpeername,
  getsockname,
  getsockopt,
  IPPROTO_TCP,
  listen,
  read,
  setsockopt,
  SHUT_RDWR,
  SHUT_WR,
  shutdown,
  SO_ERROR,
  SO_RCVBUF,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  TCP_NODELAY,
  write,
} from "../mod.ts";
import { NATIVE } from "./_helpers.ts";

/** A `net.core` sysctl (the kernel's buffer limits, for the native backend). */
function sysctl(name: string): number {
  return Number(Deno.readTextFileSync(`/proc/sys/net/core/${name}`).trim());
}

const ENOPROTOOPT = 92;
export const LO = "127.0.0.1";

/** Descriptors the rows use; made fresh for the table. */
export interface Fixtures {
  /** An fd that was just closed (the lowest free number). */
  closed(): number;
  pipeR: number;
  efd: number;
  epfd: number;
  /** Unconnected AF_INET / AF_INET6 / AF_UNIX sockets. */
  inet: number;
  inet6: number;
  unix: number;
  /** A listening inet socket (on an ephemeral port) and its port. */
  listening: number;
  /** A connected library socket (to the echo server). */
  connected: number;
  /** One end of a socketpair. */
  pair: number;
  /** The echo server's port (in use). */
  busyPort: number;
}

export type Row = [name: string, call: (f: Fixtures) => unknown, expect: number | typeof TypeError];

export const v4 = (port = 0, address = LO): SockAddr => ({ family: AF_INET, address, port });
const any = (v: unknown) => v as never;

/** fds of every kind that is not a usable socket, with the errno they give. */
function badFds(f: Fixtures): [string, () => number, number][] {
  const c = (fd: number) => () => fd;
  return [
    ["-1", c(-1), -EBADF],
    ["closed fd", () => f.closed(), -EBADF], // taken when the row runs
    ["never opened fd 999999", c(999999), -EBADF],
    ["2**31", c(2 ** 31), -EBADF],
    ["NaN", c(NaN), -EBADF],
    ["1.5", c(1.5), -EBADF],
    ["Infinity", c(Infinity), -EBADF],
    ["-0.5", c(-0.5), -EBADF],
    ["pipe", c(f.pipeR), -ENOTSOCK],
    ["eventfd", c(f.efd), -ENOTSOCK],
    ["epoll", c(f.epfd), -ENOTSOCK],
  ];
}

/** Every socket call with a bad fd. */
export function fdRows(f: Fixtures): Row[] {
  const rows: Row[] = [];
  for (const [what, fdOf, e] of badFds(f)) {
    rows.push(
      [`bind(${what})`, () => bind(fdOf(), v4()), e],
      [`listen(${what})`, () => listen(fdOf(), 16), e],
      [`accept(${what})`, () => accept(fdOf()), e],
      [`accept4(${what})`, () => accept4(fdOf(), SOCK_NONBLOCK), e],
      [`connect(${what})`, () => connect(fdOf(), v4(f.busyPort)), e],
      [`shutdown(${what})`, () => shutdown(fdOf(), SHUT_RDWR), e],
      [`getsockname(${what})`, () => getsockname(fdOf(), {} as SockAddr), e],
      [`getpeername(${what})`, () => getpeername(fdOf(), {} as SockAddr), e],
      [`getsockopt(${what})`, () => getsockopt(fdOf(), SOL_SOCKET, SO_TYPE), e],
      [`setsockopt(${what})`, () => setsockopt(fdOf(), SOL_SOCKET, SO_SNDBUF, 4096), e],
    );
    // read/write have no ENOTSOCK: on a pipe/eventfd they do their own thing.
    if (e === -EBADF) {
      rows.push(
        [`read(${what})`, () => read(fdOf(), new Uint8Array(8)), -EBADF],
        [`write(${what})`, () => write(fdOf(), new Uint8Array(8)), -EBADF],
      );
    }
  }
  return rows;
}

export const ROWS: Row[] = [
  // socket
  ["socket(12345)", () => socket(12345, SOCK_STREAM, 0), -EAFNOSUPPORT],
  ["socket(-1)", () => socket(-1, SOCK_STREAM, 0), -EAFNOSUPPORT],
  ["socket(NaN)", () => socket(NaN, SOCK_STREAM, 0), -EAFNOSUPPORT],
  ["socket(type 12 >= SOCK_MAX)", () => socket(AF_INET, 12, 0), -EINVAL],
  ["socket(unknown type flag)", () => socket(AF_INET, SOCK_STREAM | 0x10000, 0), -EINVAL],
  ["socket(type -1)", () => socket(AF_INET, -1, 0), -EINVAL],
  ["socket(type NaN)", () => socket(AF_INET, NaN, 0), -EINVAL],
  ["socket(type 1.5)", () => socket(AF_INET, 1.5, 0), -EINVAL],
  // Raw sockets are not provided (Linux needs CAP_NET_RAW for one).
  ["socket(SOCK_RAW)", () => socket(AF_INET, 3, 0), -EPROTONOSUPPORT],
  ["socket(SOCK_DGRAM, IPPROTO_TCP)", () => socket(AF_INET, 2, 6), -EPROTONOSUPPORT],
  ["socket(AF_INET, UDP protocol)", () => socket(AF_INET, SOCK_STREAM, 17), -EPROTONOSUPPORT],
  ["socket(AF_INET, protocol 300)", () => socket(AF_INET, SOCK_STREAM, 300), -EINVAL],
  ["socket(AF_INET, protocol -1)", () => socket(AF_INET, SOCK_STREAM, -1), -EINVAL],
  [
    "socket(AF_UNIX, IPPROTO_TCP)",
    () => socket(AF_UNIX, SOCK_STREAM, IPPROTO_TCP),
    -EPROTONOSUPPORT,
  ],
  ["socket('2')", () => socket(any("2"), SOCK_STREAM, 0), TypeError],
  ["socket(type undefined)", () => socket(AF_INET, any(undefined), 0), TypeError],
  ["socket(protocol null)", () => socket(AF_INET, SOCK_STREAM, any(null)), TypeError],
  // bind
  [
    "bind(AF_INET6 addr on AF_INET)",
    (f) => bind(f.inet, { family: AF_INET6, address: "::1", port: 0 }),
    -EAFNOSUPPORT,
  ],
  [
    "bind(AF_UNIX addr on AF_INET)",
    (f) => bind(f.inet, { family: AF_UNIX, path: "/tmp/x" }),
    -EAFNOSUPPORT,
  ],
  [
    "bind(family 12345)",
    (f) => bind(f.inet, any({ family: 12345, address: LO, port: 0 })),
    -EAFNOSUPPORT,
  ],
  ["bind(port 70000)", (f) => bind(f.inet, v4(70000)), -EINVAL],
  ["bind(port -1)", (f) => bind(f.inet, v4(-1)), -EINVAL],
  ["bind(port NaN)", (f) => bind(f.inet, v4(NaN)), -EINVAL],
  ["bind(port 1.5)", (f) => bind(f.inet, v4(1.5)), -EINVAL],
  ["bind(address 300.1.1.1)", (f) => bind(f.inet, v4(0, "300.1.1.1")), -EINVAL],
  ["bind(address 'localhost')", (f) => bind(f.inet, v4(0, "localhost")), -EINVAL],
  [
    "bind(AF_INET6 address 'zz::1')",
    (f) => bind(f.inet6, { family: AF_INET6, address: "zz::1", port: 0 }),
    -EINVAL,
  ],
  [
    "bind(unix path too long)",
    (f) => bind(f.unix, { family: AF_UNIX, path: "/tmp/" + "x".repeat(110) }),
    -EINVAL,
  ],
  ["bind(listening: already bound)", (f) => bind(f.listening, v4()), -EINVAL],
  ["bind(null)", (f) => bind(f.inet, any(null)), TypeError],
  ["bind('127.0.0.1')", (f) => bind(f.inet, any("127.0.0.1")), TypeError],
  [
    "bind(port '80')",
    (f) => bind(f.inet, any({ family: AF_INET, address: LO, port: "80" })),
    TypeError,
  ],
  ["bind(address missing)", (f) => bind(f.inet, any({ family: AF_INET, port: 0 })), TypeError],
  ["bind(fd '3')", () => bind(any("3"), v4()), TypeError],
  // listen
  ["listen(connected)", (f) => listen(f.connected, 16), -EINVAL],
  ["listen(unbound AF_UNIX)", (f) => listen(f.unix, 16), -EINVAL],
  ["listen(socketpair end)", (f) => listen(f.pair, 16), -EINVAL],
  ["listen(backlog '16')", (f) => listen(f.inet, any("16")), TypeError],
  ["listen(fd undefined)", () => listen(any(undefined), 16), TypeError],
  // accept / accept4
  ["accept(unconnected)", (f) => accept(f.inet), -EINVAL],
  ["accept(connected)", (f) => accept(f.connected), -EINVAL],
  ["accept(socketpair end)", (f) => accept(f.pair), -EINVAL],
  ["accept(listening, none pending)", (f) => accept(f.listening), -EAGAIN],
  ["accept4(listening, unknown flag 1)", (f) => accept4(f.listening, 1), -EINVAL],
  ["accept4(listening, flags -1)", (f) => accept4(f.listening, -1), -EINVAL],
  ["accept4(listening, flags NaN)", (f) => accept4(f.listening, NaN), -EINVAL],
  [
    "accept4(listening, NONBLOCK|CLOEXEC)",
    (f) => accept4(f.listening, SOCK_NONBLOCK | SOCK_CLOEXEC),
    -EAGAIN,
  ],
  ["accept4(flags '0')", (f) => accept4(f.listening, any("0")), TypeError],
  ["accept(fd {})", () => accept(any({})), TypeError],
  // connect
  [
    "connect(AF_INET6 addr on AF_INET)",
    (f) => connect(f.inet, { family: AF_INET6, address: "::1", port: 1 }),
    -EAFNOSUPPORT,
  ],
  ["connect(port 65536)", (f) => connect(f.inet, v4(65536)), -EINVAL],
  ["connect(address '')", (f) => connect(f.inet, v4(1, "")), -EINVAL],
  ["connect(listening)", (f) => connect(f.listening, v4(f.busyPort)), -EISCONN],
  // Linux: the first connect after the handshake completed returns 0, the next EISCONN.
  [
    "connect(connected)",
    (f) => (connect(f.connected, v4(f.busyPort)), connect(f.connected, v4(f.busyPort))),
    -EISCONN,
  ],
  [
    "connect(socketpair end)",
    (f) => connect(f.pair, { family: AF_UNIX, path: "/tmp/x" }),
    -EISCONN,
  ],
  ["connect(undefined)", (f) => connect(f.inet, any(undefined)), TypeError],
  ["connect(42)", (f) => connect(f.inet, any(42)), TypeError],
  // shutdown
  ["shutdown(how 3)", (f) => shutdown(f.connected, 3), -EINVAL],
  ["shutdown(how -1)", (f) => shutdown(f.connected, -1), -EINVAL],
  ["shutdown(how NaN)", (f) => shutdown(f.connected, NaN), -EINVAL],
  ["shutdown(how 3, unconnected)", (f) => shutdown(f.inet, 3), -EINVAL],
  ["shutdown(unconnected)", (f) => shutdown(f.inet, SHUT_WR), -ENOTCONN],
  // Linux's unix_shutdown accepts an unconnected socket; the Deno backend says ENOTCONN.
  ["shutdown(AF_UNIX unconnected)", (f) => shutdown(f.unix, SHUT_WR), NATIVE ? 0 : -ENOTCONN],
  ["shutdown(how '1')", (f) => shutdown(f.connected, any("1")), TypeError],
  // getsockname / getpeername
  ["getpeername(unconnected)", (f) => getpeername(f.inet, {} as SockAddr), -ENOTCONN],
  ["getpeername(listening)", (f) => getpeername(f.listening, {} as SockAddr), -ENOTCONN],
  ["getpeername(AF_UNIX unconnected)", (f) => getpeername(f.unix, {} as SockAddr), -ENOTCONN],
  ["getsockname(null)", (f) => getsockname(f.inet, any(null)), TypeError],
  ["getsockname(7)", (f) => getsockname(f.inet, any(7)), TypeError],
  ["getpeername(undefined)", (f) => getpeername(f.connected, any(undefined)), TypeError],
  // getsockopt / setsockopt (values checked against the kernel)
  ["getsockopt(AF_INET, level 999)", (f) => getsockopt(f.inet, 999, 1), -EOPNOTSUPP],
  ["getsockopt(AF_INET6, level 999)", (f) => getsockopt(f.inet6, 999, 1), -ENOPROTOOPT],
  [
    "getsockopt(AF_UNIX, IPPROTO_TCP)",
    (f) => getsockopt(f.unix, IPPROTO_TCP, TCP_NODELAY),
    -EOPNOTSUPP,
  ],
  ["getsockopt(SOL_SOCKET, 9999)", (f) => getsockopt(f.inet, SOL_SOCKET, 9999), -ENOPROTOOPT],
  ["getsockopt(IPPROTO_TCP, 9999)", (f) => getsockopt(f.inet, IPPROTO_TCP, 9999), -ENOPROTOOPT],
  ["getsockopt(level NaN)", (f) => getsockopt(f.inet, NaN, SO_TYPE), -EOPNOTSUPP],
  ["getsockopt(name NaN)", (f) => getsockopt(f.inet, SOL_SOCKET, NaN), -ENOPROTOOPT],
  ["setsockopt(AF_INET, level 999)", (f) => setsockopt(f.inet, 999, 1, 1), -ENOPROTOOPT],
  [
    "setsockopt(AF_UNIX, IPPROTO_TCP)",
    (f) => setsockopt(f.unix, IPPROTO_TCP, TCP_NODELAY, 1),
    -EOPNOTSUPP,
  ],
  [
    "setsockopt(SO_TYPE, read-only)",
    (f) => setsockopt(f.inet, SOL_SOCKET, SO_TYPE, 1),
    -ENOPROTOOPT,
  ],
  [
    "setsockopt(SO_ERROR, read-only)",
    (f) => setsockopt(f.inet, SOL_SOCKET, SO_ERROR, 0),
    -ENOPROTOOPT,
  ],
  ["setsockopt(SOL_SOCKET, 9999)", (f) => setsockopt(f.inet, SOL_SOCKET, 9999, 1), -ENOPROTOOPT],
  ["setsockopt(IPPROTO_TCP, 9999)", (f) => setsockopt(f.inet, IPPROTO_TCP, 9999, 1), -ENOPROTOOPT],
  ["setsockopt(value NaN)", (f) => setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, NaN), -EINVAL],
  [
    "setsockopt(value Infinity)",
    (f) => setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, Infinity),
    -EINVAL,
  ],
  // A negative size is a huge u32 for Linux: clamped to the maximum, doubled.
  [
    "setsockopt(SO_SNDBUF -1)",
    (f) =>
      setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, -1) || getsockopt(f.inet, SOL_SOCKET, SO_SNDBUF),
    2 * (NATIVE ? sysctl("wmem_max") : 212992),
  ],
  [
    "setsockopt(SO_RCVBUF -1)",
    (f) =>
      setsockopt(f.inet, SOL_SOCKET, SO_RCVBUF, -1) || getsockopt(f.inet, SOL_SOCKET, SO_RCVBUF),
    2 * (NATIVE ? sysctl("rmem_max") : 212992),
  ],
  [
    "setsockopt(SO_SNDBUF 0): the floor",
    (f) =>
      setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, 0) || getsockopt(f.inet, SOL_SOCKET, SO_SNDBUF),
    4608,
  ],
  ["getsockopt(level '1')", (f) => getsockopt(f.inet, any("1"), SO_TYPE), TypeError],
  [
    "setsockopt(value true)",
    (f) => setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, any(true)),
    TypeError,
  ],
  ["setsockopt(value 1n)", (f) => setsockopt(f.inet, SOL_SOCKET, SO_SNDBUF, any(1n)), TypeError],
  // read / write on sockets
  ["read(unconnected)", (f) => read(f.inet, new Uint8Array(8)), -ENOTCONN],
  ["read(listening)", (f) => read(f.listening, new Uint8Array(8)), -ENOTCONN],
  // Linux's unix_stream_read_generic answers EINVAL; the Deno backend ENOTCONN.
  [
    "read(AF_UNIX unconnected)",
    (f) => read(f.unix, new Uint8Array(8)),
    NATIVE ? -EINVAL : -ENOTCONN,
  ],
  ["write(unconnected)", (f) => write(f.inet, new Uint8Array(8)), -EPIPE],
  ["write(listening)", (f) => write(f.listening, new Uint8Array(8)), -EPIPE],
  ["write(AF_UNIX unconnected)", (f) => write(f.unix, new Uint8Array(8)), -ENOTCONN],
  ["read(connected, empty buffer)", (f) => read(f.connected, new Uint8Array(0)), 0],
  ["write(connected, empty buffer)", (f) => write(f.connected, new Uint8Array(0)), 0],
  ["read(connected, nothing yet)", (f) => read(f.connected, new Uint8Array(8)), -EAGAIN],
  ["read(buf 'abc')", (f) => read(f.connected, any("abc")), TypeError],
  ["read(buf ArrayBuffer)", (f) => read(f.connected, any(new ArrayBuffer(8))), TypeError],
  ["read(buf number[])", (f) => read(f.connected, any([1, 2])), TypeError],
  ["write(buf null)", (f) => write(f.connected, any(null)), TypeError],
  ["write(buf Uint16Array)", (f) => write(f.connected, any(new Uint16Array(4))), TypeError],
  ["read(fd '0')", () => read(any("0"), new Uint8Array(1)), TypeError],
  ["write(fd 1n)", () => write(any(1n), new Uint8Array(1)), TypeError],
];
