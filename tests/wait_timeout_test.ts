// No wait ends before its timeout (issue 16, item 2). Linux rounds a timeout
// up; a wait here must end no earlier than its timeout by the monotonic clock,
// on every call that waits: epollWait, epollPwait2, kevent, the object layer,
// and the timers (timerfd, EVFILT_TIMER) that wake a wait. Lower bounds only:
// a loaded machine may end any of them late.
//
// Each test makes many short waits, because an early end was rare (1-2 in 20
// 10 ms waits): a real timer may fire up to a millisecond before the
// millisecond it was asked for, and the wait loop used to take its firing as
// the deadline.

import assert from "node:assert/strict";
import {
  CLOCK_MONOTONIC,
  close,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollPwait2,
  epollWait,
  EV_ADD,
  EV_ONESHOT,
  EVFILT_TIMER,
  type KEvent,
  kevent,
  kqueue,
  NOTE_USECONDS,
  read,
  timerfdCreate,
  timerfdSettime,
} from "../mod.ts";
import { Epoll, KQueue } from "../mod.ts";

/** Timeouts in milliseconds, fractional ones included (epollPwait2 and kevent keep nanoseconds). */
const TIMEOUTS_MS = [1, 2, 3, 5, 10, 0.3, 1.7, 2.5];
const ROUNDS = 4;

/** Runs `wait(ms)` for every timeout, `ROUNDS` times, and asserts each took at least `ms`. */
async function neverEarly(what: string, wait: (ms: number) => Promise<number>): Promise<void> {
  const early: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const ms of TIMEOUTS_MS) {
      const t0 = performance.now();
      const n = await wait(ms);
      const took = performance.now() - t0;
      assert.equal(n, 0, `${what}(${ms} ms) returned ${n}`);
      if (took < ms) early.push(`${ms} ms ended after ${took.toFixed(3)} ms`);
    }
  }
  assert.deepEqual(early, [], `${what}: waits ended before their timeout`);
}

const ns = (ms: number) => ({ sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) });

Deno.test("epollWait() never returns before its timeout (whole milliseconds, rounded up)", async () => {
  const epfd = epollCreate1(0);
  try {
    await neverEarly("epollWait", (ms) => epollWait(epfd, [], 1, Math.ceil(ms)));
  } finally {
    close(epfd);
  }
});

Deno.test("epollPwait2() never returns before its nanosecond timeout", async () => {
  const epfd = epollCreate1(0);
  try {
    await neverEarly("epollPwait2", (ms) => epollPwait2(epfd, [], 1, ns(ms)));
  } finally {
    close(epfd);
  }
});

Deno.test("kevent() never returns before its timeout", async () => {
  const kq = kqueue();
  try {
    await neverEarly("kevent", (ms) => kevent(kq, [], [], 1, ns(ms)));
  } finally {
    close(kq);
  }
});

Deno.test("Epoll.wait() and KQueue.wait() never return before their timeout", async () => {
  using ep = new Epoll();
  using kq = new KQueue();
  await neverEarly("Epoll.wait", async (ms) => (await ep.wait(1, ms)).length);
  await neverEarly("KQueue.wait", async (ms) => (await kq.wait(1, ms)).length);
});

Deno.test("a timerfd never expires before its time, so the wait it wakes is not early", async () => {
  const epfd = epollCreate1(0);
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    epollCtl(epfd, EPOLL_CTL_ADD, tfd, { events: EPOLLIN, data: tfd });
    const events: EpollEvent[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const ms of TIMEOUTS_MS) {
        const t0 = performance.now();
        timerfdSettime(tfd, 0, { value: ns(ms), interval: { sec: 0, nsec: 0 } });
        assert.equal(await epollWait(epfd, events, 1, -1), 1);
        const took = performance.now() - t0;
        assert.ok(took >= ms, `a ${ms} ms timerfd expired after ${took.toFixed(3)} ms`);
        assert.equal(read(tfd, new Uint8Array(8)), 8);
      }
    }
  } finally {
    close(tfd);
    close(epfd);
  }
});

Deno.test("an EVFILT_TIMER never fires before its time", async () => {
  const kq = kqueue();
  try {
    const events: KEvent[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const ms of TIMEOUTS_MS) {
        const t0 = performance.now();
        const us = Math.round(ms * 1000);
        const timer = {
          ident: 1,
          filter: EVFILT_TIMER,
          flags: EV_ADD | EV_ONESHOT,
          fflags: NOTE_USECONDS,
          data: us,
          udata: null,
        };
        assert.equal(await kevent(kq, [timer], events, 1, null), 1);
        const took = performance.now() - t0;
        assert.ok(took >= ms, `a ${ms} ms EVFILT_TIMER fired after ${took.toFixed(3)} ms`);
      }
    }
  } finally {
    close(kq);
  }
});
