/**
 * The order in which epoll wake-ups are queued and reported: nested epolls'
 * wake-up key, MOD of a queued inner epoll, interests on one description,
 * and the two ends of a socketpair at shutdown (the ready list's order is
 * Linux's, so a single-threaded program sees the kernel's order).
 */

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  close,
  dup,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  pipe,
  read,
  write,
} from "../mod.ts";
import { u64 } from "./_helpers.ts";

/** Runs a zero-timeout wait and returns the data of each event, in order. */
async function order(epfd: number, max = 16): Promise<unknown[]> {
  const events: EpollEvent[] = [];
  const n = await epollWait(epfd, events, max, 0);
  assert.ok(n >= 0);
  return events.slice(0, n).map((e) => e.data);
}

Deno.test("nested epoll: an inner epoll wakes its watchers with EPOLLIN only, so an RDNORM-only outer interest stays idle", async () => {
  const fds: number[] = [];
  pipe(fds);
  const a = epollCreate1(0), b = epollCreate1(0);
  try {
    // fs/eventpoll.c ep_poll_safewake: the key is EPOLLIN, and ep_poll_callback
    // ignores a wake-up whose key misses the interest's events.
    assert.equal(epollCtl(b, EPOLL_CTL_ADD, a, { events: mod.EPOLLRDNORM, data: "a" }), 0);
    assert.equal(epollCtl(a, EPOLL_CTL_ADD, fds[1], { events: mod.EPOLLWRNORM, data: "w" }), 0);
    assert.deepEqual(await order(b), []);
    // ADD's own poll does find it (EPOLLIN | EPOLLRDNORM).
    assert.equal(epollCtl(b, EPOLL_CTL_DEL, a), 0);
    assert.equal(epollCtl(b, EPOLL_CTL_ADD, a, { events: mod.EPOLLRDNORM, data: "a" }), 0);
    assert.deepEqual(await order(b), ["a"]);
  } finally {
    [...fds, a, b].forEach(close);
  }
});

Deno.test("EPOLL_CTL_MOD polls a queued inner epoll, which drops its stale items", async () => {
  const p1: number[] = [], p2: number[] = [];
  pipe(p1);
  pipe(p2);
  const a = epollCreate1(0), b = epollCreate1(0);
  try {
    assert.equal(epollCtl(a, EPOLL_CTL_ADD, p1[0], { events: EPOLLIN, data: "r1" }), 0);
    assert.equal(epollCtl(a, EPOLL_CTL_ADD, p2[0], { events: EPOLLIN, data: "r2" }), 0);
    assert.equal(epollCtl(b, EPOLL_CTL_ADD, a, { events: EPOLLIN, data: "a" }), 0);
    write(p1[1], new Uint8Array(1)); // r1 queued in a, a queued in b
    read(p1[0], new Uint8Array(1)); // r1 is stale now
    // ep_modify polls a (ep_item_poll -> __ep_eventpoll_poll), dropping r1.
    assert.equal(epollCtl(b, EPOLL_CTL_MOD, a, { events: EPOLLIN, data: "a" }), 0);
    write(p2[1], new Uint8Array(1));
    write(p1[1], new Uint8Array(1));
    assert.deepEqual(await order(a), ["r2", "r1"]);
  } finally {
    [...p1, ...p2, a, b].forEach(close);
  }
});

Deno.test("interests on one description wake newest registration first, exclusive ones last and oldest first", async () => {
  const efd = eventfd(0, 0);
  const fds = [efd, dup(efd), dup(efd), dup(efd)];
  const ep = epollCreate1(0);
  try {
    // include/linux/wait.h: add_wait_queue inserts at the head,
    // add_wait_queue_exclusive at the tail.
    const X = mod.EPOLLEXCLUSIVE;
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN | X, data: "x1" }), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[1], { events: EPOLLIN, data: "n1" }), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[2], { events: EPOLLIN | X, data: "x2" }), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fds[3], { events: EPOLLIN, data: "n2" }), 0);
    assert.equal(write(efd, u64(1n)), 8);
    assert.deepEqual(await order(ep), ["n2", "n1", "x1", "x2"]);
  } finally {
    [...fds, ep].forEach(close);
  }
});

Deno.test("shutdown of a socketpair end queues the shutting end before its peer", async () => {
  const sv: number[] = [];
  assert.equal(mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM, 0, sv), 0);
  const ep = epollCreate1(0);
  try {
    // net/unix/af_unix.c unix_shutdown: sk_state_change(sk), then other's.
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, sv[1], { events: EPOLLIN, data: "peer" }), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, sv[0], { events: EPOLLIN, data: "self" }), 0);
    assert.equal(mod.shutdown(sv[0], mod.SHUT_RDWR), 0);
    assert.deepEqual(await order(ep), ["self", "peer"]);
  } finally {
    [...sv, ep].forEach(close);
  }
});
