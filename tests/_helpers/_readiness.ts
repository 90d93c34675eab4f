/**
 * Readiness as a test observes it: the masks `tcp_poll` reports, a private
 * epoll's answer now or after a wait, a promise that must stay pending, and
 * a description that cannot be polled.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  close,
  Description,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLMSG,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  epollWait,
  EPOLLWRBAND,
  EPOLLWRNORM,
} from "../../mod.ts";
import { sleep } from "./_basics.ts";

/** Every event bit a program can ask for (EPOLLERR and EPOLLHUP come regardless). */
export const ALL_EVENTS = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND |
  EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;

/** What `tcp_poll` reports for readable data: EPOLLIN | EPOLLRDNORM. */
export const TCP_IN = EPOLLIN | EPOLLRDNORM;
/** What `tcp_poll` reports for room to write: EPOLLOUT | EPOLLWRNORM. */
export const TCP_OUT = EPOLLOUT | EPOLLWRNORM;
/** What `tcp_poll` reports for a reset or refused TCP socket whose error is pending. */
export const TCP_DEAD = TCP_IN | TCP_OUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP;

/**
 * The fd's readiness now, as a private epoll reports it for `events`
 * (every bit by default), or 0 when it reports nothing.
 */
export async function readiness(fd: number, events = ALL_EVENTS): Promise<number> {
  const epfd = epollCreate1(0);
  try {
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await epollWait(epfd, out, 4, 0);
    return n === 0 ? 0 : out[0].events;
  } finally {
    close(epfd);
  }
}

/**
 * Waits on a private epoll until `fd` reports something for `events`
 * (EPOLLERR and EPOLLHUP always count; `events` 0 waits for them alone) and
 * returns that first mask. Fails after `ms`.
 */
export async function waitFor(fd: number, events: number, ms = 5000): Promise<number> {
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await epollWait(ep, out, 1, ms);
    assert.ok(n >= 0, `epollWait gave ${n}`);
    if (n === 0) {
      throw new Error(`fd ${fd} reported nothing for ${events.toString(16)} in ${ms} ms`);
    }
    return out[0].events;
  } finally {
    close(ep);
  }
}

/** Asserts `p` is still pending after a turn of the timer loop. */
export async function assertPending(p: Promise<unknown>): Promise<void> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await sleep(5);
  assert.equal(settled, false, "promise settled early");
}

/** A description that cannot be polled (a regular file's stand-in: `epoll_ctl` gives EPERM). */
export class Unpollable extends Description {
  readonly kind = "unpollable";
  override readonly pollable = false;
  poll(): number {
    return 0;
  }
}
