/**
 * Linux conformance of epoll interests: keyed by (file, fd) across dups and
 * closes, DEL, and nested epolls (an epoll fd's readiness, cycles, the
 * nesting limit).
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
  dup,
  EAGAIN,
  EBADF,
  ELOOP,
  ENOENT,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  epollCtl,
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  read,
  write,
} from "../mod.ts";
import { readU64, u64 } from "./_helpers.ts";
import { add, scoped, W, wait } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// Interests keyed by (file, fd)

Deno.test(
  "epoll(7) Q6: closing one of two dups keeps the interest; events still come with the data given at ADD",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    add(epfd, r, EPOLLIN, "original");
    s.track(dup(r));
    s.close(r);
    write(w, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "original" }]);
    // The fd number itself is gone.
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, r), -EBADF);
  }),
);

Deno.test(
  "epoll(7): a dup of a registered fd is a separate interest; both report",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r, w] = s.pipe();
    const r2 = s.track(dup(r));
    add(epfd, r, EPOLLIN, "r");
    add(epfd, r2, EPOLLIN, "r2");
    write(w, W);
    const got = await wait(epfd);
    got.sort((a, b) => String(a.data).localeCompare(String(b.data)));
    assert.deepEqual(got, [{ events: EPOLLIN, data: "r" }, { events: EPOLLIN, data: "r2" }]);
  }),
);

Deno.test(
  "epoll(7): closing the last fd of a watched file removes its interest",
  scoped(async (s) => {
    const epfd = s.ep();
    const [, w] = s.pipe();
    add(epfd, w, EPOLLOUT, "w");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLOUT, data: "w" }]);
    s.close(w);
    assert.deepEqual(await wait(epfd), []);
    // A new file at the same number is not registered.
    const efd = s.eventfd(1);
    assert.equal(efd, w);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), -ENOENT);
  }),
);

Deno.test(
  "epoll(7): ADD of a different file reusing the fd number of a closed dup succeeds; the old interest lives on",
  scoped(async (s) => {
    const epfd = s.ep();
    const [r1, w1] = s.pipe();
    add(epfd, r1, EPOLLIN, "old");
    s.track(dup(r1));
    s.close(r1);
    const [r2, w2] = s.pipe();
    assert.equal(r2, r1);
    add(epfd, r2, EPOLLIN, "new");
    write(w1, W);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "old" }]);
    assert.equal(read(r2, new Uint8Array(1)), -EAGAIN);
    write(w2, W);
    const got = await wait(epfd);
    got.sort((a, b) => String(a.data).localeCompare(String(b.data)));
    assert.deepEqual(got, [{ events: EPOLLIN, data: "new" }, { events: EPOLLIN, data: "old" }]);
    // DEL finds (new file, fd) only; the old interest cannot be reached any more.
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, r2), 0);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, r2), -ENOENT);
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "old" }]);
  }),
);

Deno.test(
  "epoll_ctl(2): DEL stops events and a second DEL fails with ENOENT",
  scoped(async (s) => {
    const epfd = s.ep();
    const efd = s.eventfd(1);
    add(epfd, efd, EPOLLIN, "e");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "e" }]);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), 0);
    assert.deepEqual(await wait(epfd), []);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), -ENOENT);
    add(epfd, efd, EPOLLIN, "back");
    assert.deepEqual(await wait(epfd), [{ events: EPOLLIN, data: "back" }]);
  }),
);

// ---------------------------------------------------------------------------
// Nested epoll

Deno.test(
  "epoll(7): an epoll fd is readable (EPOLLIN only) exactly while it has ready events",
  scoped(async (s) => {
    const outer = s.ep();
    const inner = s.ep();
    add(outer, inner, EPOLLIN | EPOLLOUT, "inner");
    assert.deepEqual(await wait(outer), []);
    const efd = s.eventfd(0);
    add(inner, efd, EPOLLIN);
    assert.deepEqual(await wait(outer), []);
    write(efd, u64(1n));
    assert.deepEqual(await wait(outer), [{ events: EPOLLIN, data: "inner" }]);
    assert.deepEqual(readU64(efd), 1n);
    assert.deepEqual(await wait(outer), []);
  }),
);

Deno.test(
  "epoll(7): an edge-triggered interest in a nested epoll reports once per new inner event",
  scoped(async (s) => {
    const outer = s.ep();
    const inner = s.ep();
    const [a, b] = s.pair();
    add(inner, a, EPOLLIN);
    add(outer, inner, EPOLLIN | EPOLLET, "inner");
    write(b, W);
    assert.deepEqual(await wait(outer), [{ events: EPOLLIN, data: "inner" }]);
    assert.deepEqual(await wait(outer), []);
    write(b, W);
    assert.deepEqual(await wait(outer), [{ events: EPOLLIN, data: "inner" }]);
  }),
);

Deno.test(
  "epoll_ctl(2): ADD that would close a cycle of epolls fails with ELOOP",
  scoped((s) => {
    const [a, b, c] = [s.ep(), s.ep(), s.ep()];
    add(a, b, EPOLLIN);
    assert.equal(epollCtl(b, EPOLL_CTL_ADD, a, { events: EPOLLIN, data: 0 }), -ELOOP);
    add(b, c, EPOLLIN);
    assert.equal(epollCtl(c, EPOLL_CTL_ADD, a, { events: EPOLLIN, data: 0 }), -ELOOP);
  }),
);

Deno.test(
  "eventpoll.c EP_MAX_NESTS: a chain of 5 epolls (4 links) is allowed, a 5th link fails with ELOOP",
  scoped((s) => {
    const e = Array.from({ length: 6 }, () => s.ep());
    const ev = { events: EPOLLIN, data: 0 };
    for (let i = 0; i < 4; i++) assert.equal(epollCtl(e[i + 1], EPOLL_CTL_ADD, e[i], ev), 0);
    assert.equal(epollCtl(e[5], EPOLL_CTL_ADD, e[4], ev), -ELOOP);
  }),
);

Deno.test(
  "eventpoll.c ep_loop_check: the nesting limit also counts the epolls above the one added to",
  scoped((s) => {
    const e = Array.from({ length: 4 }, () => s.ep());
    const ev = { events: EPOLLIN, data: 0 };
    for (let i = 0; i < 3; i++) assert.equal(epollCtl(e[i + 1], EPOLL_CTL_ADD, e[i], ev), 0);
    const x = s.ep();
    const y = s.ep();
    assert.equal(epollCtl(e[0], EPOLL_CTL_ADD, x, ev), 0); // 4 links
    assert.equal(epollCtl(x, EPOLL_CTL_ADD, y, ev), -ELOOP); // would be 5
  }),
);
