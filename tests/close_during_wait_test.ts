/**
 * Closing descriptors while a task waits in `epollWait`: a closed socket
 * reports nothing more, one of two dups keeps the interest alive, and a
 * closed epoll fd keeps serving the wait already in progress (Linux).
 */

import assert from "node:assert/strict";
import {
  close,
  dup,
  EBADF,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  pipe,
  write,
} from "../mod.ts";
import { acceptedPair, libReadExactly, sleep, u64 } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("close an fd while a task waits on it: no event for it", async () => {
  using pair = await acceptedPair();
  const { fd: sfd, peer } = pair;
  const ep = epollCreate1(0);
  const efd = eventfd(0, 0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, sfd, { events: EPOLLIN, data: "sock" });
    epollCtl(ep, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "efd" });
    const ev: EpollEvent[] = [];
    // 1. Only the closed fd would have become ready: the wait times out.
    const t0 = performance.now();
    const waiting = epollWait(ep, ev, 4, 300);
    assert.equal(pair.closeFd(), 0);
    await peer.write(enc.encode("late"));
    assert.equal(await waiting, 0);
    assert.ok(performance.now() - t0 >= 300);
    // 2. Another fd's event is what comes back.
    const waiting2 = epollWait(ep, ev, 4, 3000);
    assert.equal(write(efd, u64(1n)), 8);
    assert.equal(await waiting2, 1);
    assert.deepEqual(ev[0], { events: EPOLLIN, data: "efd" });
    // The peer sees our close.
    assert.equal(await peer.read(new Uint8Array(8)), null);
  } finally {
    close(ep);
    close(efd);
  }
});

Deno.test("close one of two dups while a task waits: the interest stays (Linux)", async () => {
  using pair = await acceptedPair();
  const { fd: sfd, peer } = pair;
  const other = dup(sfd);
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, sfd, { events: EPOLLIN, data: "closed fd" });
    const ev: EpollEvent[] = [];
    const waiting = epollWait(ep, ev, 4, 3000);
    assert.equal(pair.closeFd(), 0);
    await peer.write(enc.encode("hi"));
    // The open description is still alive through `other`: the event comes.
    assert.equal(await waiting, 1);
    assert.deepEqual(ev[0], { events: EPOLLIN, data: "closed fd" });
    assert.equal(dec.decode(await libReadExactly(other, 2)), "hi");
  } finally {
    close(other);
    close(ep);
  }
});

Deno.test("close an epoll fd while a task waits on it: the wait goes on (Linux)", async () => {
  const p: number[] = [];
  assert.equal(pipe(p), 0);
  let ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, p[0], { events: EPOLLIN, data: "pipe" });
    const ev: EpollEvent[] = [];
    // The waiter holds a reference: it keeps waiting and still gets events.
    const waiting = epollWait(ep, ev, 4, 3000);
    const closed = ep;
    ep = -1;
    assert.equal(close(closed), 0);
    assert.equal(await epollWait(closed, [], 4, 0), -EBADF, "EBADF for new calls");
    await sleep(50);
    assert.equal(write(p[1], enc.encode("x")), 1);
    assert.equal(await waiting, 1);
    assert.deepEqual(ev[0], { events: EPOLLIN, data: "pipe" });
  } finally {
    if (ep >= 0) close(ep);
    p.forEach((fd) => close(fd));
  }
});

Deno.test("close an epoll fd while a task waits on it with nothing ready: the wait runs into its timeout", async () => {
  const ep = epollCreate1(0);
  const t0 = performance.now();
  const waiting = epollWait(ep, [], 4, 250);
  assert.equal(close(ep), 0);
  assert.equal(await waiting, 0);
  assert.ok(performance.now() - t0 >= 250);
});
