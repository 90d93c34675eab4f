/**
 * EVFILT_READ and EVFILT_WRITE over the in-memory descriptions: data as
 * the byte count, the free space, the counter, the expirations; EV_EOF and
 * fflags; WRITE refused on kqueues and epolls.
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  CLOCK_MONOTONIC,
  close,
  ECONNRESET,
  EINVAL,
  epollCreate1,
  EV_ADD,
  EV_CLEAR,
  EV_EOF,
  eventfd,
  EVFILT_READ,
  EVFILT_WRITE,
  kqueue,
  pipe,
  read,
  SHUT_WR,
  shutdown,
  SOCK_STREAM,
  socketpair,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { change, kev, next, poll } from "./_helpers.ts";

const PIPE_CAPACITY = 65536;
const PAGE = 4096;

Deno.test("EVFILT_READ on a pipe: data is the bytes buffered; EV_EOF once writers are gone", async () => {
  const kq = kqueue();
  const fds: number[] = [];
  pipe(fds);
  try {
    await change(kq, kev(fds[0], EVFILT_READ, EV_ADD));
    write(fds[1], new Uint8Array(10));
    write(fds[1], new Uint8Array(5));
    assert.deepEqual((await poll(kq)).map((e) => [e.data, e.flags]), [[15, 0]]);
    close(fds[1]);
    assert.deepEqual((await poll(kq)).map((e) => [e.data, e.flags]), [[15, EV_EOF]]);
    read(fds[0], new Uint8Array(15));
    assert.deepEqual((await poll(kq)).map((e) => [e.data, e.flags, e.fflags]), [[0, EV_EOF, 0]]);
  } finally {
    close(fds[0]);
    close(kq);
  }
});

Deno.test(
  "EVFILT_WRITE on a pipe: data is the free slots' bytes; silent when full; EV_EOF when readers are gone",
  async () => {
    const kq = kqueue();
    const fds: number[] = [];
    pipe(fds);
    try {
      await change(kq, kev(fds[1], EVFILT_WRITE, EV_ADD));
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PIPE_CAPACITY]);
      write(fds[1], new Uint8Array(1000)); // takes one page slot
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PIPE_CAPACITY - PAGE]);
      assert.equal(write(fds[1], new Uint8Array(PIPE_CAPACITY - PAGE)), PIPE_CAPACITY - PAGE);
      assert.deepEqual(await poll(kq), [], "every slot used");
      read(fds[0], new Uint8Array(1000)); // frees the first slot
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PAGE]);
      close(fds[0]);
      assert.deepEqual((await poll(kq)).map((e) => e.flags), [EV_EOF]);
    } finally {
      close(fds[1]);
      close(kq);
    }
  },
);

Deno.test("an EV_CLEAR read knote wakes a waiting kevent on each write", async () => {
  const kq = kqueue();
  const fds: number[] = [];
  pipe(fds);
  try {
    await change(kq, kev(fds[0], EVFILT_READ, EV_ADD | EV_CLEAR));
    const waiting = next(kq);
    write(fds[1], new Uint8Array(4));
    assert.deepEqual((await waiting).map((e) => e.data), [4]);
    const again = next(kq);
    write(fds[1], new Uint8Array(4));
    assert.deepEqual((await again).map((e) => e.data), [8]);
  } finally {
    fds.forEach(close);
    close(kq);
  }
});

Deno.test("socketpair: READ data is the bytes buffered, WRITE data the room; EV_EOF after the peer's SHUT_WR", async () => {
  const kq = kqueue();
  const sv: number[] = [];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  try {
    await change(
      kq,
      kev(sv[1], EVFILT_READ, EV_ADD, 0, 0, "r"),
      kev(sv[0], EVFILT_WRITE, EV_ADD, 0, 0, "w"),
    );
    const [w0] = await poll(kq);
    assert.equal(w0.udata, "w");
    const room = w0.data;
    assert.ok(room > 0);
    write(sv[0], new Uint8Array(100));
    const events = await poll(kq);
    const byName = Object.fromEntries(events.map((e) => [e.udata, e]));
    assert.equal(byName.r.data, 100);
    assert.equal(byName.w.data, room - 100);
    shutdown(sv[0], SHUT_WR);
    const after = Object.fromEntries((await poll(kq)).map((e) => [e.udata, e]));
    assert.equal(after.r.flags, EV_EOF);
    assert.equal(after.r.data, 100);
    assert.equal(after.w.flags, EV_EOF, "our own SHUT_WR ends the write side");
  } finally {
    sv.forEach(close);
    close(kq);
  }
});

Deno.test("socketpair: closing with unread bytes resets the peer, reported in fflags with EV_EOF", async () => {
  const kq = kqueue();
  const sv: number[] = [];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  try {
    write(sv[1], new Uint8Array(3)); // unread by sv[0]
    await change(kq, kev(sv[1], EVFILT_READ, EV_ADD));
    close(sv[0]);
    const [ev] = await poll(kq);
    assert.equal(ev.flags, EV_EOF);
    assert.equal(ev.fflags, ECONNRESET);
  } finally {
    close(sv[1]);
    close(kq);
  }
});

Deno.test("eventfd: READ data is the counter", async () => {
  const kq = kqueue();
  const efd = eventfd(7, 0);
  try {
    await change(kq, kev(efd, EVFILT_READ, EV_ADD));
    assert.deepEqual((await poll(kq)).map((e) => e.data), [7]);
  } finally {
    close(efd);
    close(kq);
  }
});

Deno.test("timerfd: READ data is the expirations count", async () => {
  const kq = kqueue();
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    await change(kq, kev(tfd, EVFILT_READ, EV_ADD | EV_CLEAR));
    timerfdSettime(tfd, 0, {
      value: { sec: 0, nsec: 1_000_000 },
      interval: { sec: 0, nsec: 1_000_000 },
    });
    const end = performance.now() + 20;
    while (performance.now() < end) { /* let 20 periods pass unseen */ }
    const [ev] = await next(kq);
    assert.ok(ev.data >= 19, `got ${ev.data}`);
  } finally {
    close(tfd);
    close(kq);
  }
});

Deno.test("EVFILT_WRITE on a kqueue or an epoll fails with EINVAL", async () => {
  const kq = kqueue();
  const other = kqueue();
  const ep = epollCreate1(0);
  try {
    assert.equal(await change(kq, kev(other, EVFILT_WRITE, EV_ADD)), -EINVAL);
    assert.equal(await change(kq, kev(ep, EVFILT_WRITE, EV_ADD)), -EINVAL);
  } finally {
    close(ep);
    close(other);
    close(kq);
  }
});
