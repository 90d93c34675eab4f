/**
 * Linux conformance of each kind of file's readiness: pipes, socketpairs,
 * TCP over loopback (on the current socket backend) and eventfd.
 *
 * Every test asserts the exact result the Linux kernel gives, with its
 * source (a man page, fs/eventpoll.c, fs/pipe.c, fs/eventfd.c,
 * net/unix/af_unix.c, or a scenario of the kernel selftest
 * tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c, where
 * threads become concurrent async tasks); the other conformance files are
 * `conformance_*_test.ts`.
 */

import assert from "node:assert/strict";
import {
  accept,
  EAGAIN,
  EBADF,
  ECONNRESET,
  EFD_SEMAPHORE,
  EINVAL,
  EPIPE,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  read,
  SHUT_WR,
  shutdown,
  write,
} from "../mod.ts";
import { readU64, u64 } from "./_helpers.ts";
import { acceptOne, connectLoopback, listenLoopback, NATIVE, waitFor } from "./_helpers.ts";
import { add, bytes, listenerPort, mod, type Scope, scoped, W, wait } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// Pipes

Deno.test(
  "pipe(7): a pipe holds 64 KiB; then writes fail with EAGAIN and EPOLLOUT is off until it drains",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    assert.equal(write(w, bytes(70000)), 65536);
    assert.equal(write(w, bytes(1)), -EAGAIN);
    add(epfd, w, EPOLLOUT, "w");
    assert.deepEqual(await wait(epfd), []);
    assert.equal(read(r, new Uint8Array(100000)), 65536);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT, data: "w" }]);
  }),
);

Deno.test(
  "pipe(7): a non-blocking write of at most PIPE_BUF bytes is all or nothing (EAGAIN)",
  scoped((s) => {
    const [r, w] = s.pipe();
    assert.equal(write(w, bytes(65526)), 65526);
    assert.equal(write(w, bytes(11, 0x62)), -EAGAIN);
    assert.equal(write(w, bytes(10, 0x63)), 10);
    const buf = new Uint8Array(70000);
    assert.equal(read(r, buf), 65536);
    assert.deepEqual(buf.subarray(65526, 65536), bytes(10, 0x63));
  }),
);

Deno.test(
  "pipe(7): reading an empty pipe whose writer is open fails with EAGAIN",
  scoped((s) => {
    const [r] = s.pipe();
    assert.equal(read(r, new Uint8Array(8)), -EAGAIN);
  }),
);

Deno.test(
  "pipe(7): the read end reports EPOLLHUP once the writer is closed, and reads 0 after the data",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    write(w, bytes(3));
    s.close(w);
    add(epfd, r, EPOLLIN | EPOLLRDHUP, "r");
    // A pipe has no EPOLLRDHUP.
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN | EPOLLHUP, data: "r" }]);
    assert.equal(read(r, new Uint8Array(8)), 3);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLHUP, data: "r" }]);
    assert.equal(read(r, new Uint8Array(8)), 0);
  }),
);

Deno.test(
  "pipe(7): the write end reports EPOLLERR once the reader is closed, and write fails with EPIPE",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, w, EPOLLOUT, "w");
    s.close(r);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT | EPOLLERR, data: "w" }]);
    assert.equal(write(w, W), -EPIPE);
  }),
);

Deno.test(
  "fs/pipe.c pipe_write: a zero-length write succeeds with 0, even when no reader is left",
  scoped((s) => {
    const [r, w] = s.pipe();
    assert.equal(write(w, new Uint8Array(0)), 0);
    s.close(r);
    assert.equal(write(w, new Uint8Array(0)), 0);
    assert.equal(write(w, W), -EPIPE);
  }),
);

Deno.test(
  "pipe(2): fds[0] is only for reading and fds[1] only for writing; the wrong way fails with EBADF",
  scoped((s) => {
    const [r, w] = s.pipe();
    assert.equal(w, r + 1);
    assert.equal(write(r, W), -EBADF);
    assert.equal(read(w, new Uint8Array(1)), -EBADF);
  }),
);

// ---------------------------------------------------------------------------
// Socketpairs

Deno.test(
  "unix(7): a fresh socketpair end is writable and not readable",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a] = s.pair();
    add(epfd, a, EPOLLIN | EPOLLOUT | EPOLLRDHUP, "a");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT, data: "a" }]);
  }),
);

Deno.test(
  "epoll_ctl(2): after the peer's SHUT_WR the socket reports EPOLLIN, plus EPOLLRDHUP only when asked",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    add(epfd, a, EPOLLIN, "a");
    assert.equal(shutdown(b, SHUT_WR), 0);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "a" }]);
    mod(epfd, a, EPOLLIN | EPOLLRDHUP, "a");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN | EPOLLRDHUP, data: "a" }]);
    assert.equal(read(a, new Uint8Array(8)), 0);
  }),
);

Deno.test(
  "unix(7)/shutdown(2): data sent before SHUT_WR is read, then 0 (EOF); writing after SHUT_WR fails with EPIPE",
  scoped((s) => {
    const [a, b] = s.pair();
    assert.equal(write(a, bytes(2)), 2);
    assert.equal(shutdown(a, SHUT_WR), 0);
    assert.equal(write(a, W), -EPIPE);
    const buf = new Uint8Array(8);
    assert.equal(read(b, buf), 2);
    assert.equal(read(b, buf), 0);
    assert.equal(read(b, buf), 0);
    // The other direction still works.
    assert.equal(write(b, W), 1);
    assert.equal(read(a, buf), 1);
  }),
);

Deno.test(
  "af_unix.c unix_poll: after the peer closes, the socket reports EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLHUP",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    s.close(b);
    add(epfd, a, EPOLLIN | EPOLLOUT | EPOLLRDHUP, "a");
    assert.deepEqual(await wait(epfd), [{
      events: EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP,
      data: "a",
    }]);
    assert.equal(read(a, new Uint8Array(8)), 0);
    assert.equal(write(a, W), -EPIPE);
  }),
);

Deno.test(
  "af_unix.c unix_release_sock: closing with unread data resets the peer (EPOLLERR, then read ECONNRESET, then 0)",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    assert.equal(write(a, W), 1);
    s.close(b);
    add(epfd, a, EPOLLIN, "a");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN | EPOLLERR | EPOLLHUP, data: "a" }]);
    assert.equal(read(a, new Uint8Array(8)), -ECONNRESET);
    assert.equal(read(a, new Uint8Array(8)), 0);
  }),
);

// ---------------------------------------------------------------------------
// TCP over loopback (tcp_poll, tcp_reset), on the current socket backend:
// with DENO_EPOLL_BACKEND=native both ends are kernel sockets.

/** A library listener, a client connected to it and the accepted socket; all closed after. */
function tcpScoped(
  fn: (t: { s: Scope; listener: number; client: number; server: number }) => Promise<void>,
): () => Promise<void> {
  return scoped(async (s) => {
    const { fd: listener, port } = listenLoopback();
    s.track(listener);
    const client = s.track(await connectLoopback(port));
    const server = s.track(await acceptOne(listener));
    await fn({ s, listener, client, server });
  });
}

Deno.test(
  "tcp_poll: a listener is EPOLLIN while a connection is pending, and not once the last one is accepted (LT)",
  tcpScoped(async ({ s, listener, client }) => {
    const epfd = s.ep();
    add(epfd, listener, EPOLLIN, "l");
    assert.deepEqual(await wait(epfd), []);
    const { port } = listenerPort(listener);
    const second = s.track(await connectLoopback(port));
    assert.equal(await waitFor(listener, EPOLLIN), EPOLLIN);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "l" }]);
    s.track(accept(listener));
    assert.deepEqual(await wait(epfd), [], "the accept took the last one");
    assert.ok(second >= 0 && client >= 0);
  }),
);

Deno.test(
  "tcp_poll: a read that takes every queued byte leaves the socket unreadable (LT)",
  tcpScoped(async ({ s, client, server }) => {
    const epfd = s.ep();
    add(epfd, server, EPOLLIN, "s");
    assert.equal(write(client, bytes(5)), 5);
    assert.equal(await waitFor(server, EPOLLIN), EPOLLIN);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "s" }]);
    assert.equal(read(server, new Uint8Array(5)), 5);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "tcp_poll: the peer's FIN is EPOLLIN | EPOLLRDHUP with EPOLLOUT kept, and a read returns 0",
  tcpScoped(async ({ s, client, server }) => {
    const epfd = s.ep();
    assert.equal(shutdown(client, SHUT_WR), 0);
    assert.equal(await waitFor(server, EPOLLRDHUP), EPOLLRDHUP);
    add(epfd, server, EPOLLIN | EPOLLOUT | EPOLLRDHUP, "s");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN | EPOLLOUT | EPOLLRDHUP, data: "s" }]);
    assert.equal(read(server, new Uint8Array(8)), 0);
  }),
);

Deno.test({
  name:
    "tcp_reset: a peer that closes with unread data sends RST: EPOLLERR | EPOLLHUP with IN, OUT and RDHUP, then read ECONNRESET, then 0" +
    (NATIVE ? "" : " (native backend only: Deno reports a reset to a pending read as EOF)"),
  ignore: !NATIVE,
  fn: tcpScoped(async ({ s, client, server }) => {
    const epfd = s.ep();
    assert.equal(write(server, bytes(10)), 10);
    // The client has the bytes unread when it closes: tcp_close sends RST.
    assert.equal(await waitFor(client, EPOLLIN), EPOLLIN);
    s.close(client);
    assert.equal(await waitFor(server, 0) & EPOLLERR, EPOLLERR);
    add(epfd, server, EPOLLIN | EPOLLOUT | EPOLLRDHUP, "s");
    const all = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
    assert.deepEqual(await wait(epfd), [{ events: all, data: "s" }]);
    assert.equal(read(server, new Uint8Array(8)), -ECONNRESET);
    assert.equal(read(server, new Uint8Array(8)), 0);
    assert.equal(write(server, W), -EPIPE);
  }),
});

Deno.test(
  "ep_poll_callback over TCP: an edge-triggered listener reports each new connection once",
  tcpScoped(async ({ s, listener }) => {
    const epfd = s.ep();
    add(epfd, listener, EPOLLIN | EPOLLET, "l");
    assert.deepEqual(await wait(epfd), []);
    const { port } = listenerPort(listener);
    s.track(await connectLoopback(port));
    assert.equal(await waitFor(listener, EPOLLIN), EPOLLIN);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "l" }]);
    assert.deepEqual(await wait(epfd), [], "one edge");
    s.track(accept(listener));
  }),
);

// ---------------------------------------------------------------------------
// eventfd

Deno.test(
  "eventfd(2): writes add to the counter and a read returns the whole counter and zeroes it",
  scoped((s) => {
    const efd = s.eventfd(3);
    assert.equal(write(efd, u64(2n)), 8);
    assert.equal(write(efd, u64(0n)), 8);
    assert.deepEqual(readU64(efd), 5n);
    assert.deepEqual(readU64(efd), -EAGAIN);
  }),
);

Deno.test(
  "eventfd(2): with EFD_SEMAPHORE each read returns 1 and decrements the counter",
  scoped((s) => {
    const efd = s.eventfd(2, EFD_SEMAPHORE);
    assert.equal(write(efd, u64(1n)), 8);
    assert.deepEqual(readU64(efd), 1n);
    assert.deepEqual(readU64(efd), 1n);
    assert.deepEqual(readU64(efd), 1n);
    assert.deepEqual(readU64(efd), -EAGAIN);
  }),
);

Deno.test(
  "eventfd(2): a read of a zero counter fails with EAGAIN (non-blocking)",
  scoped((s) => {
    const efd = s.eventfd(0);
    assert.deepEqual(readU64(efd), -EAGAIN);
  }),
);

Deno.test(
  "eventfd(2): a write that would pass 0xfffffffffffffffe fails with EAGAIN and EPOLLOUT goes off",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(0);
    add(epfd, efd, EPOLLIN | EPOLLOUT, "e");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT, data: "e" }]);
    assert.equal(write(efd, u64(0xffff_ffff_ffff_fffdn)), 8);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN | EPOLLOUT, data: "e" }]);
    assert.equal(write(efd, u64(1n)), 8);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "e" }]);
    assert.equal(write(efd, u64(1n)), -EAGAIN);
    assert.deepEqual(readU64(efd), 0xffff_ffff_ffff_fffen);
  }),
);

Deno.test(
  "eventfd(2): buffers shorter than 8 bytes and the value 0xffffffffffffffff fail with EINVAL",
  scoped((s) => {
    const efd = s.eventfd(1);
    assert.equal(read(efd, new Uint8Array(7)), -EINVAL);
    assert.equal(read(efd, new Uint8Array(0)), -EINVAL);
    assert.equal(write(efd, new Uint8Array(4)), -EINVAL);
    assert.equal(write(efd, u64(0xffff_ffff_ffff_ffffn)), -EINVAL);
    assert.deepEqual(readU64(efd), 1n);
  }),
);
