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
  EAGAIN,
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
import { type Libc, openLibc } from "../net/native/libc.ts";

const libc = openLibc();
/** Linux's `O_NONBLOCK` and `O_CLOEXEC` for `pipe2`. */
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

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
  "EVFILT_WRITE on a pipe: data is the room one write can use; silent when full; EV_EOF when readers are gone",
  async () => {
    const kq = kqueue();
    const fds: number[] = [];
    pipe(fds);
    try {
      await change(kq, kev(fds[1], EVFILT_WRITE, EV_ADD));
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PIPE_CAPACITY]);
      write(fds[1], new Uint8Array(100)); // one page slot, its page's rest still mergeable
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PIPE_CAPACITY - 100]);
      write(fds[1], new Uint8Array(900));
      assert.deepEqual((await poll(kq)).map((e) => e.data), [PIPE_CAPACITY - 1000]);
      // A whole page does not merge: it takes a slot of its own.
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

Deno.test({
  name: "EVFILT_WRITE on a pipe: data is exactly what one write to a kernel pipe takes whole " +
    "after the same writes and reads" + (typeof libc === "string" ? ` (skipped: ${libc})` : ""),
  ignore: typeof libc === "string",
  async fn() {
    const k = libc as Libc;
    const SIZES = [1, 7, 100, 1000, 3996, 4095, 4096, 4097, 5000, 8192, 10000, 40000];
    /** Applies `ops` (positive: write so many bytes; negative: read) to a pipe's ends. */
    const replay = (ops: number[], w: (b: Uint8Array) => number, r: (b: Uint8Array) => number) =>
      ops.map((n) => (n > 0 ? w(new Uint8Array(n)) : r(new Uint8Array(-n))));
    const kernelPipe = () => {
      const f: number[] = [];
      assert.equal(k.pipe2(f, O_NONBLOCK | O_CLOEXEC), 0);
      return f;
    };
    const kq = kqueue();
    try {
      for (let seed = 1; seed <= 300; seed++) {
        let x = seed;
        const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
        const ops = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => {
          const n = SIZES[Math.floor(rnd() * SIZES.length)];
          return rnd() < 0.7 ? n : -n;
        });
        const fds: number[] = [];
        assert.equal(pipe(fds), 0);
        const a = kernelPipe(), b = kernelPipe();
        try {
          const lib = replay(ops, (buf) => write(fds[1], buf), (buf) => read(fds[0], buf));
          const ka = replay(ops, (buf) => k.write(a[1], buf), (buf) => k.read(a[0], buf));
          replay(ops, (buf) => k.write(b[1], buf), (buf) => k.read(b[0], buf));
          assert.deepEqual(lib, ka, `seed ${seed}: the same results`);
          await change(kq, kev(fds[1], EVFILT_WRITE, EV_ADD | EV_CLEAR));
          // A full pipe does not fire; its data is still what a write can use.
          const fired = (await poll(kq)).map((e) => e.data);
          const data = fired.length > 0 ? fired[0] : null;
          if (data === null) {
            assert.equal(k.write(a[1], new Uint8Array(PAGE)), -EAGAIN, `seed ${seed}: full`);
            continue;
          }
          const what = `seed ${seed} (${ops}): data ${data}`;
          assert.equal(k.write(a[1], new Uint8Array(data)), data, `${what}: all of it goes in`);
          assert.equal(k.write(a[1], new Uint8Array(1)), -EAGAIN, `${what}: and then nothing`);
          assert.ok(k.write(b[1], new Uint8Array(data + 1)) < data + 1, `${what}: not one more`);
        } finally {
          for (const fd of [...a, ...b]) k.close(fd);
          close(fds[0]);
          close(fds[1]);
        }
      }
    } finally {
      close(kq);
    }
  },
});
