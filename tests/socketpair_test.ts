import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  close,
  EAFNOSUPPORT,
  EAGAIN,
  ECONNRESET,
  EINVAL,
  ENOPROTOOPT,
  EOPNOTSUPP,
  EPIPE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  epollWait,
  EPOLLWRBAND,
  EPOLLWRNORM,
  EPROTONOSUPPORT,
  getsockopt,
  IPPROTO_TCP,
  read,
  setsockopt,
  SHUT_RD,
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
  socketpair,
  SOL_SOCKET,
  TCP_NODELAY,
  write,
} from "../mod.ts";
import { readiness } from "./_helpers.ts";

const IN = EPOLLIN | EPOLLRDNORM;
const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
/** Linux's default SO_SNDBUF for Unix sockets. */
const UNIX_BUFFER = 212_992;

function pair(): [number, number] {
  const sv: number[] = [];
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  return [sv[0], sv[1]];
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function readText(fd: number, max = 256): string | number {
  const buf = new Uint8Array(max);
  const n = read(fd, buf);
  return n < 0 ? n : new TextDecoder().decode(buf.subarray(0, n));
}

Deno.test("socketpair() returns 0 and two consecutive lowest fds", () => {
  const sv = [-1, -1];
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert.equal(sv[1], sv[0] + 1);
  sv.forEach(close);
  const again: number[] = [];
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, again), 0);
  assert.deepEqual(again, sv);
  again.forEach(close);
});

Deno.test("socketpair() refuses other domains, types and protocols", () => {
  const sv = [-1, -1];
  assert.equal(socketpair(AF_INET, SOCK_STREAM, 0, sv), -EOPNOTSUPP);
  assert.equal(socketpair(AF_INET6, SOCK_STREAM, 0, sv), -EOPNOTSUPP);
  assert.equal(socketpair(77, SOCK_STREAM, 0, sv), -EAFNOSUPPORT);
  assert.equal(socketpair(AF_UNIX, 4, 0, sv), -EPROTONOSUPPORT); // SOCK_RDM
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 6, sv), -EPROTONOSUPPORT);
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM | 0x100000, 0, sv), -EINVAL);
  assert.deepEqual(sv, [-1, -1]);
  assert.throws(() => socketpair(AF_UNIX, SOCK_STREAM, 0, {} as number[]), TypeError);
});

Deno.test("socketpair() ends carry bytes both ways, in order", () => {
  const [a, b] = pair();
  assert.equal(write(a, text("hello ")), 6);
  assert.equal(write(a, text("world")), 5);
  assert.equal(write(b, text("pong")), 4);
  assert.equal(readText(b), "hello world");
  assert.equal(readText(a), "pong");
  assert.equal(read(a, new Uint8Array(4)), -EAGAIN);
  assert.equal(read(b, new Uint8Array(4)), -EAGAIN);
  close(a);
  close(b);
});

Deno.test("socketpair() end is EPOLLOUT when idle and EPOLLIN while bytes are buffered", async () => {
  const [a, b] = pair();
  assert.equal(await readiness(a), OUT);
  write(a, text("x"));
  assert.equal(await readiness(b), IN | OUT);
  assert.equal(await readiness(a), OUT);
  readText(b);
  assert.equal(await readiness(b), OUT);
  close(a);
  close(b);
});

Deno.test("socketpair() write accepts up to the send buffer, then -EAGAIN", () => {
  const [a, b] = pair();
  assert.equal(write(a, new Uint8Array(300_000)), UNIX_BUFFER);
  assert.equal(write(a, new Uint8Array(1)), -EAGAIN);
  assert.equal(read(b, new Uint8Array(1000)), 1000);
  assert.equal(write(a, new Uint8Array(5000)), 1000);
  close(a);
  close(b);
});

Deno.test("socketpair() writer loses EPOLLOUT past a quarter of its send buffer unread", async () => {
  const [a, b] = pair();
  assert.equal(write(a, new Uint8Array(UNIX_BUFFER / 4)), UNIX_BUFFER / 4);
  assert.equal(await readiness(a), OUT);
  write(a, new Uint8Array(1));
  assert.equal(await readiness(a), 0);
  read(b, new Uint8Array(1));
  assert.equal(await readiness(a), OUT);
  close(a);
  close(b);
});

Deno.test("socketpair() reader draining the peer raises an EPOLLOUT edge on the writer", async () => {
  const [a, b] = pair();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, a, { events: EPOLLOUT | EPOLLET, data: "a" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  write(a, new Uint8Array(UNIX_BUFFER));
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  const pending = epollWait(epfd, events, 4, 1000);
  read(b, new Uint8Array(UNIX_BUFFER));
  assert.equal(await pending, 1);
  assert.deepEqual(events[0], { events: EPOLLOUT, data: "a" });
  [a, b, epfd].forEach(close);
});

Deno.test("socketpair() raises an EPOLLIN edge on the peer for every write", async () => {
  const [a, b] = pair();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, b, { events: EPOLLIN | EPOLLET, data: "b" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(a, text("1"));
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(a, text("2"));
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.deepEqual(events[0], { events: EPOLLIN, data: "b" });
  assert.equal(readText(b), "12");
  [a, b, epfd].forEach(close);
});

Deno.test("socketpair() survivor reads the rest, then 0, after the peer closes", async () => {
  const [a, b] = pair();
  write(b, text("last words"));
  close(b);
  assert.equal(await readiness(a), IN | EPOLLRDHUP | EPOLLHUP | OUT);
  assert.equal(readText(a), "last words");
  assert.equal(read(a, new Uint8Array(8)), 0);
  assert.equal(read(a, new Uint8Array(8)), 0);
  assert.equal(write(a, text("anyone?")), -EPIPE);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_ERROR), 0);
  close(a);
});

Deno.test("socketpair() peer closing with unread data resets the survivor with ECONNRESET", async () => {
  const [a, b] = pair();
  write(a, text("never read"));
  write(b, text("for a"));
  close(b);
  assert.equal(await readiness(a), EPOLLERR | IN | EPOLLRDHUP | EPOLLHUP | OUT);
  // Buffered bytes come first, then the error, once, then end of stream.
  assert.equal(readText(a), "for a");
  assert.equal(read(a, new Uint8Array(8)), -ECONNRESET);
  assert.equal(await readiness(a), IN | EPOLLRDHUP | EPOLLHUP | OUT);
  assert.equal(read(a, new Uint8Array(8)), 0);
  assert.equal(write(a, text("x")), -EPIPE);
  close(a);
});

Deno.test("socketpair() reset is reported once through SO_ERROR", () => {
  const [a, b] = pair();
  write(a, text("unread"));
  close(b);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_ERROR), ECONNRESET);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_ERROR), 0);
  assert.equal(read(a, new Uint8Array(8)), 0);
  close(a);
});

Deno.test("socketpair() waiter wakes with EPOLLHUP when the peer closes", async () => {
  const [a, b] = pair();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, a, { events: EPOLLIN | EPOLLRDHUP, data: "a" });
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1);
  close(b);
  assert.equal(await pending, 1);
  assert.deepEqual(events[0], { events: EPOLLIN | EPOLLRDHUP | EPOLLHUP, data: "a" });
  [a, epfd].forEach(close);
});

Deno.test("shutdown() SHUT_WR on a socketpair gives the peer EOF and EPOLLRDHUP", async () => {
  const [a, b] = pair();
  write(a, text("bye"));
  assert.equal(shutdown(a, SHUT_WR), 0);
  assert.equal(write(a, text("more")), -EPIPE);
  assert.equal(await readiness(b), IN | EPOLLRDHUP | OUT);
  assert.equal(readText(b), "bye");
  assert.equal(read(b, new Uint8Array(4)), 0);
  // The other direction still works.
  assert.equal(write(b, text("ack")), 3);
  assert.equal(readText(a), "ack");
  assert.equal(await readiness(a), OUT);
  assert.equal(shutdown(b, SHUT_WR), 0);
  assert.equal(await readiness(a), IN | EPOLLRDHUP | EPOLLHUP | OUT);
  assert.equal(await readiness(b), IN | EPOLLRDHUP | EPOLLHUP | OUT);
  close(a);
  close(b);
});

Deno.test("shutdown() SHUT_RD and SHUT_RDWR on a socketpair mirror onto the peer", async () => {
  const [a, b] = pair();
  assert.equal(shutdown(a, SHUT_RD), 0);
  assert.equal(read(a, new Uint8Array(4)), 0);
  assert.equal(write(b, text("x")), -EPIPE);
  assert.equal(await readiness(a), IN | EPOLLRDHUP | OUT);
  assert.equal(shutdown(a, SHUT_RDWR), 0);
  assert.equal(await readiness(a), IN | EPOLLRDHUP | EPOLLHUP | OUT);
  assert.equal(shutdown(a, 7), -EINVAL);
  close(a);
  close(b);
});

Deno.test("getsockopt() on a socketpair reports SO_TYPE and the default buffer sizes", () => {
  const [a, b] = pair();
  assert.equal(getsockopt(a, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_SNDBUF), UNIX_BUFFER);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_RCVBUF), UNIX_BUFFER);
  assert.equal(getsockopt(a, SOL_SOCKET, 12345), -ENOPROTOOPT);
  assert.equal(getsockopt(a, IPPROTO_TCP, TCP_NODELAY), -EOPNOTSUPP);
  close(a);
  close(b);
});

Deno.test("setsockopt() SO_SNDBUF doubles the value, clamped to wmem_max and SOCK_MIN_SNDBUF", () => {
  const [a, b] = pair();
  assert.equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, 8192), 0);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_SNDBUF), 16_384);
  assert.equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, 1), 0);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_SNDBUF), 4608);
  assert.equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, 10_000_000), 0);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_SNDBUF), 2 * UNIX_BUFFER);
  assert.equal(setsockopt(a, SOL_SOCKET, SO_RCVBUF, 1), 0);
  assert.equal(getsockopt(a, SOL_SOCKET, SO_RCVBUF), 2304);
  // The peer's options are its own.
  assert.equal(getsockopt(b, SOL_SOCKET, SO_SNDBUF), UNIX_BUFFER);
  assert.equal(setsockopt(a, SOL_SOCKET, SO_TYPE, 1), -ENOPROTOOPT);
  assert.equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, NaN), -EINVAL);
  close(a);
  close(b);
});

Deno.test("setsockopt() SO_SNDBUF bounds what the peer may hold unread and the EPOLLOUT threshold", async () => {
  const [a, b] = pair();
  assert.equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, 8192), 0);
  assert.equal(write(a, new Uint8Array(4096)), 4096); // a quarter of 16 KiB
  assert.equal(await readiness(a), OUT);
  assert.equal(write(a, new Uint8Array(100_000)), 16_384 - 4096);
  assert.equal(write(a, new Uint8Array(1)), -EAGAIN);
  assert.equal(await readiness(a), 0);
  assert.equal(read(b, new Uint8Array(100_000)), 16_384);
  assert.equal(await readiness(a), OUT);
  // The other direction keeps b's default.
  assert.equal(write(b, new Uint8Array(300_000)), UNIX_BUFFER);
  close(a);
  close(b);
});

Deno.test("socketpair() a zero-length read returns 0, empty or with a reset pending (which stays pending)", () => {
  const [a, b] = pair();
  try {
    // net/socket.c sock_read_iter: "Match SYS5 behaviour", before the protocol.
    assert.equal(read(a, new Uint8Array(0)), 0);
    write(a, text("unread"));
    close(b);
    assert.equal(read(a, new Uint8Array(0)), 0);
    assert.equal(read(a, new Uint8Array(8)), -ECONNRESET);
    assert.equal(read(a, new Uint8Array(0)), 0);
    assert.equal(read(a, new Uint8Array(8)), 0);
  } finally {
    close(a);
  }
});

Deno.test("socketpair() edge-triggered EPOLLOUT rises when a whole written chunk is read, not on a partial read", async () => {
  const [a, b] = pair();
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, a, { events: EPOLLOUT | EPOLLET, data: "a" }), 0);
    const events: EpollEvent[] = [];
    assert.equal(await epollWait(ep, events, 4, 0), 1); // ADD found it writable
    assert.equal(write(a, new Uint8Array(10)), 10);
    assert.equal(write(a, new Uint8Array(10)), 10);
    // The skb is freed (sock_wfree -> unix_write_space) only when read whole.
    assert.equal(read(b, new Uint8Array(4)), 4);
    assert.equal(await epollWait(ep, events, 4, 0), 0);
    assert.equal(read(b, new Uint8Array(6)), 6);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(events[0].events, EPOLLOUT);
    assert.equal(read(b, new Uint8Array(20)), 10);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
  } finally {
    [a, b, ep].forEach(close);
  }
});
