/**
 * timerfd: create/settime/gettime argument checks, reads of the expiration
 * count, disarming, absolute times, and readiness through epoll.
 */

import assert from "node:assert/strict";
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  close,
  EAGAIN,
  EBADF,
  EINVAL,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  type ITimerSpec,
  read,
  TFD_CLOEXEC,
  TFD_NONBLOCK,
  TFD_TIMER_ABSTIME,
  timerfdCreate,
  timerfdGettime,
  timerfdSettime,
  write,
} from "../mod.ts";

const ZERO = { sec: 0, nsec: 0 };
const ms = (n: number) => ({ sec: Math.floor(n / 1000), nsec: (n % 1000) * 1e6 });

function count(buf: Uint8Array): bigint {
  return new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
}

/** Waits through a private epoll until `fd` is readable. */
async function readable(fd: number): Promise<void> {
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd });
    const out: EpollEvent[] = [];
    assert.equal(await epollWait(ep, out, 1, -1), 1);
  } finally {
    close(ep);
  }
}

function busy(n: number): void {
  const end = performance.now() + n;
  while (performance.now() < end) { /* spin */ }
}

Deno.test("timerfdCreate accepts the two clocks and TFD_NONBLOCK|TFD_CLOEXEC only", () => {
  const a = timerfdCreate(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  const b = timerfdCreate(CLOCK_MONOTONIC, 0);
  assert.ok(a >= 0 && b === a + 1);
  assert.equal(timerfdCreate(2, 0), -EINVAL);
  assert.equal(timerfdCreate(CLOCK_MONOTONIC, 1), -EINVAL);
  close(a);
  close(b);
});

Deno.test("timerfdSettime checks flags and ranges before the fd, then EBADF and EINVAL", () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  const efd = eventfd(0, 0);
  try {
    const v = { value: ms(10), interval: ZERO };
    assert.equal(timerfdSettime(tfd, 2, v), -EINVAL);
    assert.equal(timerfdSettime(tfd, 0, { value: { sec: 0, nsec: 1e9 }, interval: ZERO }), -EINVAL);
    assert.equal(timerfdSettime(tfd, 0, { value: { sec: -1, nsec: 0 }, interval: ZERO }), -EINVAL);
    assert.equal(timerfdSettime(tfd, 0, { value: ZERO, interval: { sec: 0, nsec: -1 } }), -EINVAL);
    assert.equal(timerfdSettime(999_999, 2, v), -EINVAL, "flags are checked first");
    assert.equal(timerfdSettime(999_999, 0, v), -EBADF);
    assert.equal(timerfdSettime(efd, 0, v), -EINVAL, "not a timerfd");
    const out = {} as ITimerSpec;
    assert.equal(timerfdGettime(999_999, out), -EBADF);
    assert.equal(timerfdGettime(efd, out), -EINVAL);
    assert.throws(() => timerfdSettime(tfd, 0, null as unknown as ITimerSpec), TypeError);
  } finally {
    close(efd);
    close(tfd);
  }
});

Deno.test("a timerfd read gives 8 bytes of expirations, -EAGAIN at 0, -EINVAL when short; write is -EINVAL", async () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    const buf = new Uint8Array(16);
    assert.equal(read(tfd, buf), -EAGAIN);
    assert.equal(timerfdSettime(tfd, 0, { value: ms(1), interval: ZERO }), 0);
    await readable(tfd);
    assert.equal(read(tfd, new Uint8Array(7)), -EINVAL);
    assert.equal(read(tfd, buf), 8);
    assert.equal(count(buf), 1n);
    assert.equal(read(tfd, buf), -EAGAIN);
    assert.equal(write(tfd, new Uint8Array(8)), -EINVAL);
  } finally {
    close(tfd);
  }
});

Deno.test("a periodic timerfd counts every period missed by a late wake", async () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    timerfdSettime(tfd, 0, { value: ms(1), interval: ms(1) });
    busy(30);
    await readable(tfd);
    const buf = new Uint8Array(8);
    assert.equal(read(tfd, buf), 8);
    assert.ok(count(buf) >= 29n, `got ${count(buf)}`);
  } finally {
    close(tfd);
  }
});

Deno.test("settime restarts the count and returns the old setting; {0, 0} disarms", async () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    timerfdSettime(tfd, 0, { value: ms(1), interval: ms(1) });
    busy(5);
    await readable(tfd);
    const old = {} as ITimerSpec;
    assert.equal(timerfdSettime(tfd, 0, { value: ZERO, interval: ZERO }, old), 0);
    assert.deepEqual(old.interval, ms(1));
    assert.equal(read(tfd, new Uint8Array(8)), -EAGAIN, "settime zeroed the count");
    const cur = {} as ITimerSpec;
    timerfdGettime(tfd, cur);
    assert.deepEqual(cur, { interval: ZERO, value: ZERO });
  } finally {
    close(tfd);
  }
});

Deno.test("timerfdGettime reports the interval and a time left no larger than set", () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    timerfdSettime(tfd, 0, { value: { sec: 100, nsec: 0 }, interval: { sec: 2, nsec: 500 } });
    const cur = {} as ITimerSpec;
    assert.equal(timerfdGettime(tfd, cur), 0);
    assert.deepEqual(cur.interval, { sec: 2, nsec: 500 });
    assert.ok(cur.value.sec <= 100 && cur.value.sec >= 90, JSON.stringify(cur.value));
  } finally {
    close(tfd);
  }
});

Deno.test("an expired one-shot timerfd reports {0, 0} left", async () => {
  const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
  try {
    timerfdSettime(tfd, 0, { value: ms(1), interval: ZERO });
    await readable(tfd);
    const cur = {} as ITimerSpec;
    timerfdGettime(tfd, cur);
    assert.deepEqual(cur, { interval: ZERO, value: ZERO });
  } finally {
    close(tfd);
  }
});

Deno.test("TFD_TIMER_ABSTIME in the past expires at once, on either clock", async () => {
  for (const clock of [CLOCK_REALTIME, CLOCK_MONOTONIC]) {
    const tfd = timerfdCreate(clock, 0);
    try {
      // CLOCK_MONOTONIC counts from performance.now()'s origin: 1 ns is past.
      const past = clock === CLOCK_REALTIME ? ms(Date.now() - 500) : { sec: 0, nsec: 1 };
      assert.equal(timerfdSettime(tfd, TFD_TIMER_ABSTIME, { value: past, interval: ZERO }), 0);
      await readable(tfd);
      const buf = new Uint8Array(8);
      assert.equal(read(tfd, buf), 8);
      assert.equal(count(buf), 1n);
    } finally {
      close(tfd);
    }
  }
});

Deno.test("two timerfds fire in deadline order through one epoll", async () => {
  const late = timerfdCreate(CLOCK_MONOTONIC, 0);
  const early = timerfdCreate(CLOCK_MONOTONIC, 0);
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, late, { events: EPOLLIN, data: "late" });
    epollCtl(ep, EPOLL_CTL_ADD, early, { events: EPOLLIN, data: "early" });
    timerfdSettime(late, 0, { value: ms(40), interval: ZERO });
    timerfdSettime(early, 0, { value: ms(2), interval: ZERO });
    const out: EpollEvent[] = [];
    const seen: unknown[] = [];
    while (seen.length < 2) {
      const n = await epollWait(ep, out, 4, -1);
      for (const ev of out.slice(0, n)) {
        seen.push(ev.data);
        read(ev.data === "late" ? late : early, new Uint8Array(8));
      }
    }
    assert.deepEqual(seen, ["early", "late"]);
  } finally {
    close(ep);
    close(late);
    close(early);
  }
});
