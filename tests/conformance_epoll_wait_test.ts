/**
 * Linux conformance of waiting: `epoll_pwait2`'s timeouts and signals, and
 * wake-ups among concurrent tasks (threads become async tasks), with
 * EPOLLEXCLUSIVE's among them.
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
  EINTR,
  EINVAL,
  EPOLLET,
  type EpollEvent,
  EPOLLEXCLUSIVE,
  EPOLLIN,
  EPOLLOUT,
  epollPwait2,
  write,
} from "../mod.ts";
import { sleep, u64 } from "./_helpers.ts";
import { add, mod, scoped, W, wait } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// epoll_pwait2

Deno.test(
  "epoll_pwait2(2): a timeout with nsec >= 1e9 or a negative field fails with EINVAL, before EBADF",
  scoped(async (s) => {
    const epfd = s.ep();
    const ev: EpollEvent[] = [];
    assert.equal(await epollPwait2(epfd, ev, 1, { sec: 0, nsec: 1e9 }), -EINVAL);
    assert.equal(await epollPwait2(epfd, ev, 1, { sec: 0, nsec: -1 }), -EINVAL);
    assert.equal(await epollPwait2(epfd, ev, 1, { sec: -1, nsec: 0 }), -EINVAL);
    assert.equal(await epollPwait2(-1, ev, 1, { sec: 0, nsec: 1e9 }), -EINVAL);
    assert.equal(await epollPwait2(epfd, ev, 1, { sec: 0, nsec: 1 }), 0);
  }),
);

Deno.test(
  "epoll_pwait2(2): a null timeout waits for an event and a zero timeout polls (selftest epoll62)",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a, b] = s.pair();
    add(epfd, a, EPOLLIN, "a");
    const ev: EpollEvent[] = [];
    assert.equal(await epollPwait2(epfd, ev, 1, { sec: 0, nsec: 0 }), 0);
    const pending = epollPwait2(epfd, ev, 1, null);
    setTimeout(() => write(b, W), 5);
    assert.equal(await pending, 1);
    assert.deepEqual(ev[0], { events: EPOLLIN, data: "a" });
    assert.equal(await epollPwait2(epfd, ev, 1, null), 1);
  }),
);

Deno.test(
  "epoll_pwait2(2): a 10 ms timeout with nothing ready returns 0 after at least 10 ms (selftest epoll63)",
  scoped(async (s) => {
    const epfd = s.ep();
    const [a] = s.pair();
    add(epfd, a, EPOLLIN);
    const t0 = performance.now();
    assert.equal(await epollPwait2(epfd, [], 1, { sec: 0, nsec: 10_000_000 }), 0);
    assert.ok(performance.now() - t0 >= 10, `returned after ${performance.now() - t0} ms`);
  }),
);

Deno.test(
  "epoll_pwait2(2): a signal (AbortSignal) during a blocking wait ends it with EINTR",
  scoped(async (s) => {
    const epfd = s.ep();
    add(epfd, s.eventfd(0), EPOLLIN);
    const ac = new AbortController();
    const pending = epollPwait2(epfd, [], 4, { sec: 30, nsec: 0 }, ac.signal);
    await sleep(5);
    ac.abort();
    assert.equal(await pending, -EINTR);
    const before = new AbortController();
    before.abort();
    assert.equal(await epollPwait2(epfd, [], 4, null, before.signal), -EINTR);
  }),
);

Deno.test(
  "epoll_pwait2(2)/eventpoll.c ep_poll: ready events and a zero timeout win over a pending signal",
  scoped(async (s) => {
    const epfd = s.ep();
    const aborted = new AbortController();
    aborted.abort();
    assert.equal(await epollPwait2(epfd, [], 4, { sec: 0, nsec: 0 }, aborted.signal), 0);
    add(epfd, s.eventfd(1), EPOLLIN, "ready");
    const ev: EpollEvent[] = [];
    assert.equal(await epollPwait2(epfd, ev, 4, null, aborted.signal), 1);
    assert.deepEqual(ev[0], { events: EPOLLIN, data: "ready" });
  }),
);

// ---------------------------------------------------------------------------
// Concurrency (threads become async tasks)

Deno.test(
  "epoll_wait(2): a blocked waiter wakes when another task writes",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN, "r");
    const pending = wait(epfd, 4, -1);
    setTimeout(() => write(w, W), 5);
    assert.deepEqual(await pending, [{ events: EPOLLIN, data: "r" }]);
  }),
);

Deno.test(
  "epoll_ctl(2): a waiter blocked on an empty set wakes when another task ADDs an already-ready fd",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(1);
    const pending = wait(epfd, 4, -1);
    await sleep(5);
    add(epfd, efd, EPOLLIN, "late");
    assert.deepEqual(await pending, [{ events: EPOLLIN, data: "late" }]);
  }),
);

Deno.test(
  "epoll_ctl(2): a waiter wakes when another task's MOD makes a registered fd match",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(0); // writable, not readable
    add(epfd, efd, EPOLLIN, "in");
    const pending = wait(epfd, 4, -1);
    await sleep(5);
    mod(epfd, efd, EPOLLOUT, "out");
    assert.deepEqual(await pending, [{ events: EPOLLOUT, data: "out" }]);
  }),
);

Deno.test(
  "epoll(7): the same fd in two epoll sets is reported by both",
  scoped(async (s) => {
    const ep1 = s.ep();
    const ep2 = s.ep();
    const [r, w] = s.pipe();
    add(ep1, r, EPOLLIN, "one");
    add(ep2, r, EPOLLIN | EPOLLET, "two");
    write(w, W);
    assert.deepEqual(await wait(ep1), [{ events: EPOLLIN, data: "one" }]);
    assert.deepEqual(await wait(ep2), [{ events: EPOLLIN, data: "two" }]);
  }),
);

Deno.test(
  "epoll_ctl(2)/eventpoll.c: with EPOLLEXCLUSIVE one write wakes the first epoll with a waiter, not the others",
  scoped(async (s) => {
    const ep1 = s.ep();
    const ep2 = s.ep();
    const efd = s.eventfd(0);
    add(ep1, efd, EPOLLIN | EPOLLEXCLUSIVE, "one");
    add(ep2, efd, EPOLLIN | EPOLLEXCLUSIVE, "two");
    const w1 = wait(ep1, 4, 300);
    const w2 = wait(ep2, 4, 60);
    await sleep(5);
    write(efd, u64(1n));
    assert.deepEqual(await w1, [{ events: EPOLLIN, data: "one" }]);
    assert.deepEqual(await w2, []);
    // ep2 never had the item queued: the callback walk stopped at ep1.
    assert.deepEqual(await wait(ep2), []);
  }),
);

Deno.test(
  "eventpoll.c ep_poll_callback: an EPOLLEXCLUSIVE epoll with no waiter does not stop the wake-up walk",
  scoped(async (s) => {
    const ep1 = s.ep();
    const ep2 = s.ep();
    const efd = s.eventfd(0);
    add(ep1, efd, EPOLLIN | EPOLLEXCLUSIVE, "one");
    add(ep2, efd, EPOLLIN | EPOLLEXCLUSIVE, "two");
    const w2 = wait(ep2, 4, 300);
    await sleep(5);
    write(efd, u64(1n));
    assert.deepEqual(await w2, [{ events: EPOLLIN, data: "two" }]);
    // ep1 woke nobody, so the walk went on; ep1 has the item queued all the same.
    assert.deepEqual(await wait(ep1), [{ events: EPOLLIN, data: "one" }]);
  }),
);
