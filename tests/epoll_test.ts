/**
 * The epoll calls (`epollCreate`, `epollCreate1`, `epollCtl`, `epollWait`,
 * `epollPwait2`): their results and errors, how interests are keyed, and
 * waits among tasks. The `Epoll` object: epoll_object_test.ts; the order
 * of wake-ups: epoll_wake_order_test.ts.
 */

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  close,
  dup,
  EBADF,
  EEXIST,
  EINTR,
  EINVAL,
  ENOENT,
  EPERM,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollPwait2,
  epollWait,
  eventfd,
  installDescription,
  write,
} from "../mod.ts";
import { assertPending, sleep, Unpollable } from "./_helpers.ts";

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

function signal(efd: number): void {
  assert.equal(write(efd, ONE), 8);
}

Deno.test("epoll constants carry their Linux x86-64 values", () => {
  const expected: Record<string, number> = {
    EPOLLIN: 0x1,
    EPOLLPRI: 0x2,
    EPOLLOUT: 0x4,
    EPOLLERR: 0x8,
    EPOLLHUP: 0x10,
    EPOLLRDNORM: 0x40,
    EPOLLRDBAND: 0x80,
    EPOLLWRNORM: 0x100,
    EPOLLWRBAND: 0x200,
    EPOLLMSG: 0x400,
    EPOLLRDHUP: 0x2000,
    EPOLLEXCLUSIVE: 0x10000000,
    EPOLLWAKEUP: 0x20000000,
    EPOLLONESHOT: 0x40000000,
    EPOLLET: 0x80000000,
    EPOLL_CTL_ADD: 1,
    EPOLL_CTL_DEL: 2,
    EPOLL_CTL_MOD: 3,
    EPOLL_CLOEXEC: 0o2000000,
    EFD_SEMAPHORE: 1,
    EFD_NONBLOCK: 0o4000,
  };
  const exported = mod as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(expected)) assert.equal(exported[name], value, name);
  assert.ok(EPOLLET > 0);
});

Deno.test("epollCreate() returns an fd for size > 0 and -EINVAL otherwise", () => {
  assert.equal(epollCreate(0), -EINVAL);
  assert.equal(epollCreate(-5), -EINVAL);
  const epfd = epollCreate(1);
  assert.ok(epfd >= 0);
  assert.equal(close(epfd), 0);
});

Deno.test("epollCreate1() accepts 0 and EPOLL_CLOEXEC and refuses other flags", () => {
  assert.equal(epollCreate1(1), -EINVAL);
  assert.equal(epollCreate1(0o4000), -EINVAL);
  const a = epollCreate1(0);
  const b = epollCreate1(0o2000000);
  assert.equal(b, a + 1);
  close(a);
  close(b);
});

Deno.test("epollCtl() returns -EFAULT, -EBADF, -EINVAL, -EPERM, -EEXIST and -ENOENT", () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  const odd = installDescription(new Unpollable());
  const ev = { events: EPOLLIN, data: null };
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd), -14);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, 9999, ev), -EBADF);
  assert.equal(epollCtl(9999, EPOLL_CTL_ADD, efd, ev), -EBADF);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, odd, ev), -EPERM);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, epfd, ev), -EINVAL);
  assert.equal(epollCtl(efd, EPOLL_CTL_ADD, epfd, ev), -EINVAL);
  assert.equal(epollCtl(epfd, 7, efd, ev), -EINVAL);
  assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, efd, ev), -ENOENT);
  assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), -ENOENT);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, ev), 0);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, ev), -EEXIST);
  assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), 0);
  [epfd, efd, odd].forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("epollCtl() keys interests by (description, fd), so a dup is a separate interest", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(1, 0);
  const efd2 = dup(efd);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "first" }), 0);
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd2, { events: EPOLLIN, data: "second" }), 0);
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 8, 0), 2);
  assert.deepEqual(events.map((e) => e.data), ["first", "second"]);
  // Closing one dup leaves the other fd's interest (and, as on Linux, its own).
  close(efd);
  assert.equal(await epollWait(epfd, events, 8, 0), 2);
  close(efd2);
  assert.equal(await epollWait(epfd, events, 8, 0), 0);
  close(epfd);
});

Deno.test("epollWait() returns -EINVAL for bad maxevents or a non-epoll fd, -EBADF for a closed fd", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 0, 0), -EINVAL);
  assert.equal(await epollWait(epfd, events, -1, 0), -EINVAL);
  assert.equal(await epollWait(efd, events, 4, 0), -EINVAL);
  close(epfd);
  assert.equal(await epollWait(epfd, events, 4, 0), -EBADF);
  close(efd);
});

Deno.test("epollWait() returns 0 when the timeout expires", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: 0 });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  const t0 = performance.now();
  assert.equal(await epollWait(epfd, events, 4, 30), 0);
  assert.ok(performance.now() - t0 >= 30, "returned before the timeout");
  assert.equal(events.length, 0);
  close(efd);
  close(epfd);
});

Deno.test("epollWait() returns the data exactly as given to the latest ADD or MOD", async () => {
  const epfd = epollCreate1(0);
  const obj = { name: "obj" };
  const fn = () => 1;
  const sym = Symbol("s");
  const values: unknown[] = [obj, fn, sym, 10n, null, undefined, NaN, [1, 2], "str"];
  const fds = values.map(() => eventfd(1, 0));
  fds.forEach((fd, i) => {
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: values[i] }), 0);
  });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 64, 0), values.length);
  for (let i = 0; i < values.length; i++) {
    assert.ok(Object.is(events[i].data, values[i]), `data ${i}`);
    assert.equal(events[i].events, EPOLLIN);
  }
  const replacement = { name: "new" };
  assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, fds[0], { events: EPOLLIN, data: replacement }), 0);
  epollCtl(epfd, EPOLL_CTL_DEL, fds[1]);
  fds.slice(2).forEach((fd) => epollCtl(epfd, EPOLL_CTL_DEL, fd));
  assert.equal(await epollWait(epfd, events, 64, 0), 1);
  assert.equal(events[0].data, replacement);
  [...fds, epfd].forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("epollWait() reuses the event objects already in the array", async () => {
  const epfd = epollCreate1(0);
  const a = eventfd(1, 0);
  const b = eventfd(1, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, a, { events: EPOLLIN | EPOLLOUT, data: "a" });
  epollCtl(epfd, EPOLL_CTL_ADD, b, { events: EPOLLIN, data: "b" });
  const first: EpollEvent = { events: 0, data: "old" };
  const spare: EpollEvent = { events: 123, data: "spare" };
  const events: EpollEvent[] = [first, null as unknown as EpollEvent, spare];
  assert.equal(await epollWait(epfd, events, 2, 0), 2);
  assert.equal(events[0], first); // same object, overwritten
  assert.deepEqual(first, { events: EPOLLIN | EPOLLOUT, data: "a" });
  assert.notEqual(events[1], null); // a non-object slot is replaced
  assert.deepEqual(events[1], { events: EPOLLIN, data: "b" });
  assert.equal(events[2], spare); // beyond n: untouched
  assert.deepEqual(spare, { events: 123, data: "spare" });
  assert.equal(events.length, 3);
  [a, b, epfd].forEach(close);
});

Deno.test("epollWait() rotates level-triggered events when more are ready than maxevents", async () => {
  const epfd = epollCreate1(0);
  const fds = [eventfd(1, 0), eventfd(1, 0), eventfd(1, 0)];
  fds.forEach((fd, i) => epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: i }));
  const events: EpollEvent[] = [];
  const seen: unknown[][] = [];
  for (let i = 0; i < 3; i++) {
    const n = await epollWait(epfd, events, 2, 0);
    seen.push(events.slice(0, n).map((e) => e.data));
  }
  assert.deepEqual(seen, [[0, 1], [2, 0], [1, 2]]);
  [...fds, epfd].forEach(close);
});

Deno.test("epollWait() reports an EPOLLET mask as an unsigned number without flag bits", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(1, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN | EPOLLOUT | EPOLLET, data: 0 });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.equal(events[0].events, EPOLLIN | EPOLLOUT);
  assert.equal(await epollWait(epfd, events, 4, 0), 0); // edge consumed
  close(efd);
  close(epfd);
});

Deno.test("epollWait() blocked forever wakes when another task makes an fd ready", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "efd" });
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1);
  await assertPending(pending);
  const writer = (async () => {
    await sleep(1);
    signal(efd);
  })();
  assert.equal(await pending, 1);
  await writer;
  assert.deepEqual(events[0], { events: EPOLLIN, data: "efd" });
  close(efd);
  close(epfd);
});

Deno.test("epollWait() wakes for an fd that another task adds while it waits", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(3, 0);
  // The ordering signal: a second waiter, on another epoll, woken only after
  // the ADD. With no timeout to fall back on, a lost wake-up leaves the
  // first wait pending while the second returns.
  const later = epollCreate1(0);
  const laterFd = eventfd(0, 0);
  epollCtl(later, EPOLL_CTL_ADD, laterFd, { events: EPOLLIN, data: "later" });
  const order: string[] = [];
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1).then((n) => (order.push("added"), n));
  const ordering = epollWait(later, [], 4, -1).then((n) => (order.push("later"), n));
  try {
    await assertPending(pending);
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "late" }), 0);
    signal(laterFd);
    assert.equal(await ordering, 1);
    assert.deepEqual(order.slice(0, 1), ["added"], "the wait for the added fd was not woken");
    assert.equal(await pending, 1);
    assert.equal(events[0].data, "late");
  } finally {
    close(epfd); // ends a wait left pending by a lost wake-up
    await pending;
    [efd, later, laterFd].forEach((fd) => close(fd));
  }
});

Deno.test("epollWait() wakes one waiter per edge, first come first served", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN | EPOLLET, data: "e" });
  const order: string[] = [];
  const evA: EpollEvent[] = [];
  const evB: EpollEvent[] = [];
  const a = epollWait(epfd, evA, 4, -1).then((n) => (order.push("a"), n));
  const b = epollWait(epfd, evB, 4, -1).then((n) => (order.push("b"), n));
  await sleep(2);
  signal(efd);
  assert.equal(await a, 1);
  await assertPending(b);
  assert.deepEqual(order, ["a"]);
  signal(efd);
  assert.equal(await b, 1);
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(evB[0].data, "e");
  close(efd);
  close(epfd);
});

Deno.test("epollWait() in progress keeps the epoll alive after its fd is closed", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "still" });
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1);
  await sleep(1);
  assert.equal(close(epfd), 0);
  await assertPending(pending);
  signal(efd);
  assert.equal(await pending, 1);
  assert.equal(events[0].data, "still");
  close(efd);
});

Deno.test("epollPwait2() returns -EINTR when its signal aborts, before or during the wait", async () => {
  const epfd = epollCreate1(0);
  const events: EpollEvent[] = [];
  const before = new AbortController();
  before.abort();
  assert.equal(await epollPwait2(epfd, events, 4, null, before.signal), -EINTR);
  const during = new AbortController();
  const pending = epollPwait2(epfd, events, 4, { sec: 10, nsec: 0 }, during.signal);
  await assertPending(pending);
  during.abort();
  assert.equal(await pending, -EINTR);
  assert.equal(await epollPwait2(epfd, events, 4, { sec: 0, nsec: 1e9 }), -EINVAL);
  close(epfd);
});
