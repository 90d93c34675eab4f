/**
 * Linux conformance of what `epoll_wait` reports: the masks, level- and
 * edge-triggered and one-shot interests, readiness found at ADD and MOD,
 * `maxevents` and the ready list's rotation, and the wait's errors.
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
  EBADF,
  EEXIST,
  EINVAL,
  EPOLL_CTL_ADD,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  read,
  write,
} from "../mod.ts";
import { readU64, u64 } from "./_helpers.ts";
import { add, bytes, count, mod, scoped, W, wait } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// Reporting

Deno.test(
  "epoll_ctl(2): EPOLLERR and EPOLLHUP are reported without being requested",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    const [r2, w2] = s.pipe();
    add(epfd, r, 0, "reader");
    add(epfd, w2, EPOLLIN, "writer");
    assert.deepEqual(await wait(epfd), []);
    s.close(w);
    s.close(r2);
    const got = await wait(epfd);
    got.sort((a, b) => String(a.data).localeCompare(String(b.data)));
    assert.deepEqual(got, [
      { events: EPOLLHUP, data: "reader" },
      { events: EPOLLERR, data: "writer" },
    ]);
  }),
);

Deno.test(
  "epoll(7): a level-triggered interest is reported on every wait while the fd stays ready",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    add(epfd, a, EPOLLIN, "a");
    assert.equal(write(b, bytes(3)), 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "a" }]);
    }
    assert.equal(read(a, new Uint8Array(8)), 3);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "epoll_ctl(2): data comes back as the very value given to the latest ADD or MOD",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(1);
    const first = { name: "first" };
    const second = { name: "second" };
    add(epfd, efd, EPOLLIN, first);
    assert.equal((await wait(epfd))[0].data, first);
    mod(epfd, efd, EPOLLIN, second);
    assert.equal((await wait(epfd))[0].data, second);
  }),
);

Deno.test(
  "epoll(7): an edge-triggered interest reports one event per arrival and none while nothing new arrives",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN | EPOLLET, "r");
    assert.equal(write(w, bytes(10)), 10);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "r" }]);
    assert.deepEqual(await wait(epfd), []);
    // A partial read is not an arrival.
    assert.equal(read(r, new Uint8Array(4)), 4);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "pipe(7)/epoll(7): with EPOLLET every write to a pipe is a new event, even with data still buffered",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN | EPOLLET, "r");
    write(w, bytes(5));
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "r" }]);
    write(w, bytes(5));
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "r" }]);
    assert.deepEqual(await wait(epfd), []);
    assert.equal(read(r, new Uint8Array(64)), 10);
  }),
);

Deno.test(
  "unix(7)/epoll(7): with EPOLLET every send on a socketpair is a new event, even with data still buffered",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    add(epfd, a, EPOLLIN | EPOLLET, "a");
    write(b, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "a" }]);
    write(b, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "a" }]);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "eventfd(2)/epoll(7): with EPOLLET every write to an eventfd is a new event (selftest epoll60)",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    add(epfd, efd, EPOLLIN | EPOLLET, "e");
    assert.equal(write(efd, u64(1n)), 8);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "e" }]);
    assert.deepEqual(await wait(epfd), []);
    assert.equal(write(efd, u64(1n)), 8);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "e" }]);
    assert.deepEqual(readU64(efd), 2n);
  }),
);

Deno.test(
  "epoll_ctl(2): EPOLLONESHOT disables the interest after one event; later writes report nothing",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN | EPOLLONESHOT, "r");
    write(w, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "r" }]);
    assert.deepEqual(await wait(epfd), []);
    write(w, W);
    assert.deepEqual(await wait(epfd), []);
    // Still registered, only disabled.
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: 0 }), -EEXIST);
  }),
);

Deno.test(
  "epoll_ctl(2): MOD re-arms a disabled EPOLLONESHOT interest and reports readiness that already exists",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN | EPOLLONESHOT, "r");
    write(w, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "r" }]);
    mod(epfd, r, EPOLLIN | EPOLLONESHOT, "again");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "again" }]);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "epoll_ctl(2): ADD reports readiness that already exists, with EPOLLET too",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(1);
    const [r, w] = s.pipe();
    write(w, W);
    add(epfd, efd, EPOLLIN | EPOLLET, "efd");
    add(epfd, r, EPOLLIN | EPOLLET, "pipe");
    assert.deepEqual(await wait(epfd), [
      { events: EPOLLIN, data: "efd" },
      { events: EPOLLIN, data: "pipe" },
    ]);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "epoll_ctl(2): MOD reports readiness that already exists, with EPOLLET too, under the new mask",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(1); // readable and writable
    add(epfd, efd, EPOLLIN | EPOLLET, "in");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "in" }]);
    assert.deepEqual(await wait(epfd), []);
    mod(epfd, efd, EPOLLIN | EPOLLET, "in again");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "in again" }]);
    mod(epfd, efd, EPOLLOUT | EPOLLET, "out");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT, data: "out" }]);
    assert.deepEqual(await wait(epfd), []);
  }),
);

Deno.test(
  "epoll_wait(2): at most maxevents entries are filled",
  scoped(async (s) => {
    const epfd = s.ep();
    for (let i = 0; i < 3; i++) add(epfd, s.eventfd(1), EPOLLIN, i);
    assert.equal(await count(epfd, 2, 0), 2);
    assert.equal(await count(epfd, 1, 0), 1);
    assert.equal(await count(epfd, 3, 0), 3);
  }),
);

Deno.test(
  "epoll_wait(2): with more ready fds than maxevents=1, successive waits rotate through them",
  scoped(async (s) => {
    const epfd = s.ep();
    for (const name of ["a", "b", "c"]) add(epfd, s.eventfd(1), EPOLLIN, name);
    const seen: unknown[] = [];
    for (let i = 0; i < 6; i++) seen.push((await wait(epfd, 1))[0].data);
    assert.deepEqual(seen, ["a", "b", "c", "a", "b", "c"]);
  }),
);

Deno.test(
  "epoll_wait(2): with maxevents=2 and three ready fds the leftover one comes first next time",
  scoped(async (s) => {
    const epfd = s.ep();
    for (const name of ["a", "b", "c"]) add(epfd, s.eventfd(1), EPOLLIN, name);
    const names = async () => (await wait(epfd, 2)).map((e) => e.data);
    assert.deepEqual(await names(), ["a", "b"]);
    assert.deepEqual(await names(), ["c", "a"]);
    assert.deepEqual(await names(), ["b", "c"]);
  }),
);

Deno.test(
  "epoll(7): no starvation: an fd that becomes ready joins the rotation behind the always-ready ones",
  scoped(async (s) => {
    const epfd = s.ep();
    add(epfd, s.eventfd(1), EPOLLIN, "A");
    add(epfd, s.eventfd(1), EPOLLIN, "B");
    const late = s.eventfd(0);
    add(epfd, late, EPOLLIN, "C");
    assert.deepEqual((await wait(epfd, 1)).map((e) => e.data), ["A"]);
    write(late, u64(1n));
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) seen.push((await wait(epfd, 1))[0].data);
    assert.deepEqual(seen, ["B", "A", "C"]);
  }),
);

Deno.test(
  "epoll_wait(2): a timeout of 0 returns 0 at once when nothing is ready",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(0);
    add(epfd, efd, EPOLLIN);
    // The eventfd becomes readable on the next timer turn: a wait that slept
    // at all (instead of returning at once) would report it.
    const timer = setTimeout(() => write(efd, u64(1n)), 0);
    try {
      assert.equal(await count(epfd, 4, 0), 0);
    } finally {
      clearTimeout(timer);
    }
  }),
);

Deno.test(
  "epoll_wait(2): a positive timeout waits that many milliseconds and returns 0",
  scoped(async (s) => {
    const epfd = s.ep();
    const t0 = performance.now();
    assert.equal(await count(epfd, 4, 30), 0);
    assert.ok(performance.now() - t0 >= 30, `returned after ${performance.now() - t0} ms`);
  }),
);

Deno.test(
  "epoll_wait(2): maxevents <= 0 or above EP_MAX_EVENTS fails with EINVAL, after EBADF",
  scoped(async (s) => {
    const epfd = s.ep();
    assert.equal(await count(epfd, 0, 0), -EINVAL);
    assert.equal(await count(epfd, -1, 0), -EINVAL);
    // EP_MAX_EVENTS = INT_MAX / sizeof(struct epoll_event) = 178956970 on x86-64.
    assert.equal(await count(epfd, 178956971, 0), -EINVAL);
    assert.equal(await count(epfd, 178956970, 0), 0);
    // Linux 6.18's do_epoll_wait looks the fd up first (tests/_differential
    // probes every order against the kernel): a closed fd is EBADF whatever
    // maxevents is; an open fd that is no epoll is EINVAL either way.
    const [r] = s.pipe();
    const closed = s.ep();
    s.close(closed);
    for (const max of [0, -1, 1, 178956971]) {
      assert.equal(await count(-1, max, 0), -EBADF);
      assert.equal(await count(closed, max, 0), -EBADF);
      assert.equal(await count(r, max, 0), -EINVAL);
    }
  }),
);

Deno.test(
  "epoll_wait(2): a closed epfd fails with EBADF and a non-epoll fd with EINVAL",
  scoped(async (s) => {
    const [r] = s.pipe();
    const closed = s.ep();
    s.close(closed);
    assert.equal(await count(closed, 1, 0), -EBADF);
    assert.equal(await count(r, 1, 0), -EINVAL);
  }),
);

Deno.test(
  "epoll(7): reading or writing an epoll fd fails with EINVAL (it has no read or write method)",
  scoped((s) => {
    const epfd = s.ep();
    assert.equal(read(epfd, new Uint8Array(8)), -EINVAL);
    assert.equal(write(epfd, new Uint8Array(8)), -EINVAL);
  }),
);
