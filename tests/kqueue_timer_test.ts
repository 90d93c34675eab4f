/**
 * EVFILT_TIMER: units, periodic and one-shot timers, counts of missed
 * periods, NOTE_ABSTIME, re-adding, disabling, deleting, and the EINVAL
 * cases. Counts and ordering are asserted, never wall time.
 */

import assert from "node:assert/strict";
import {
  close,
  EINVAL,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_ENABLE,
  EV_ONESHOT,
  EVFILT_TIMER,
  type KEvent,
  kevent,
  kqueue,
  NOTE_ABSTIME,
  NOTE_MSECONDS,
  NOTE_NSECONDS,
  NOTE_SECONDS,
  NOTE_USECONDS,
} from "../mod.ts";
import { change, kev, next, poll, withKq } from "./_helpers.ts";

/** Blocks the event loop for `ms` (timers cannot fire meanwhile). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

Deno.test(
  "a periodic timer reports EV_CLEAR, fflags 0 and a positive expiration count",
  withKq(async (kq) => {
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_ADD, 0, 5, "t")), 0);
    const [ev] = await next(kq);
    assert.equal(ev.ident, 1);
    assert.equal(ev.filter, EVFILT_TIMER);
    assert.equal(ev.flags, EV_CLEAR, "EV_CLEAR is implied and reported");
    assert.equal(ev.fflags, 0);
    assert.ok(ev.data >= 1);
    assert.equal(ev.udata, "t");
  }),
);

Deno.test(
  "a late wake counts every missed period",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 1));
    busy(40); // the event loop cannot run: 40 periods pass unseen
    const [ev] = await next(kq);
    assert.ok(ev.data >= 39, `expected >= 39 expirations, got ${ev.data}`);
  }),
);

Deno.test(
  "expirations accumulate until retrieved and restart from zero after",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, 500));
    busy(20);
    const [first] = await next(kq);
    assert.ok(first.data >= 39, `got ${first.data}`);
    const [second] = await next(kq);
    // Only what passed since the first retrieval, not the running total.
    assert.ok(second.data >= 1);
    busy(5);
    const [third] = await next(kq);
    assert.ok(third.data >= 9, `got ${third.data}`);
  }),
);

Deno.test(
  "a one-shot timer fires once and is deleted",
  withKq(async (kq) => {
    await change(kq, kev(3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 2));
    const [ev] = await next(kq);
    assert.equal(ev.flags, EV_ONESHOT | EV_CLEAR);
    assert.equal(ev.data, 1);
    assert.equal(await change(kq, kev(3, EVFILT_TIMER, EV_DELETE)), -2 /* ENOENT */);
  }),
);

/** The idents of the next `n` events, in the order the kqueue reports them. */
async function firingOrder(kq: number, n: number): Promise<number[]> {
  const order: number[] = [];
  while (order.length < n) order.push(...(await next(kq)).map((e) => e.ident));
  return order;
}

Deno.test(
  "shorter timers fire first, whatever the order they were added in",
  withKq(async (kq) => {
    await change(
      kq,
      kev(30, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 30),
      kev(10, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, 10_000),
      kev(20, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, 20_000_000),
    );
    assert.deepEqual(await firingOrder(kq, 3), [10, 20, 30]);
  }),
);

Deno.test(
  "NOTE_SECONDS is a unit of a thousand milliseconds",
  withKq(async (kq) => {
    // 1 s falls between 500 ms and 1,500 ms: margins wide enough that a
    // stall between two changes of one call cannot reorder them.
    await change(
      kq,
      kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 1),
      kev(2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 500),
      kev(3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 1500),
    );
    assert.deepEqual(await firingOrder(kq, 3), [2, 1, 3]);
  }),
);

Deno.test(
  "NOTE_ABSTIME in the past fires at once, once",
  withKq(async (kq) => {
    const past = Date.now() - 1000;
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_ABSTIME | NOTE_MSECONDS, past));
    const [ev] = await next(kq);
    assert.equal(ev.data, 1);
    assert.deepEqual(await poll(kq), []);
  }),
);

Deno.test(
  "NOTE_ABSTIME in the future fires after a shorter relative timer added later",
  withKq(async (kq) => {
    await change(
      kq,
      kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_ABSTIME | NOTE_MSECONDS, Date.now() + 60),
      kev(2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 1),
    );
    assert.deepEqual(await firingOrder(kq, 2), [2, 1]);
  }),
);

Deno.test(
  "re-adding a timer restarts it and discards undelivered expirations",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 1, "old"));
    busy(20);
    await new Promise((r) => setTimeout(r, 0)); // the queue counts ~20 expirations
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600, "new")), 0);
    assert.deepEqual(await poll(kq), [], "the undelivered expirations are gone");
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 1, "again"));
    const [ev] = await next(kq);
    assert.equal(ev.udata, "again");
  }),
);

Deno.test(
  "a disabled timer keeps counting and reports the total once enabled",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD | EV_DISABLE, NOTE_MSECONDS, 1));
    busy(20);
    assert.equal(await kevent(kq, [], [], 1, { sec: 0, nsec: 5_000_000 }), 0);
    await change(kq, kev(1, EVFILT_TIMER, EV_ENABLE));
    const [ev] = await poll(kq);
    assert.ok(ev.data >= 19, `got ${ev.data}`);
  }),
);

Deno.test(
  "deleting a timer stops it",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 1));
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_DELETE)), 0);
    assert.equal(await kevent(kq, [], [], 1, { sec: 0, nsec: 10_000_000 }), 0);
  }),
);

Deno.test(
  "bad timer data or fflags fail with EINVAL",
  withKq(async (kq) => {
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_ADD, 0, -1)), -EINVAL);
    assert.equal(
      await change(kq, kev(1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_MSECONDS, 1)),
      -EINVAL,
    );
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_ADD, 0x100, 1)), -EINVAL);
    assert.equal(await change(kq, kev(-1, EVFILT_TIMER, EV_ADD, 0, 1)), -EINVAL);
    // A re-add with bad data leaves the existing timer as it was.
    await change(kq, kev(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1, "kept"));
    assert.equal(await change(kq, kev(1, EVFILT_TIMER, EV_ADD, 0, -5)), -EINVAL);
    const [ev] = await next(kq);
    assert.equal(ev.udata, "kept");
  }),
);

Deno.test("many timers in many kqueues share one queue and each fires", async () => {
  const kqs = [kqueue(), kqueue(), kqueue()];
  try {
    for (const [i, kq] of kqs.entries()) {
      const changes: KEvent[] = [];
      for (let t = 0; t < 100; t++) {
        changes.push(kev(t, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1 + (t % 5), i));
      }
      assert.equal(await change(kq, ...changes), 0);
    }
    for (const kq of kqs) {
      let seen = 0;
      while (seen < 100) seen += (await next(kq, 256)).length;
      assert.equal(seen, 100);
    }
  } finally {
    kqs.forEach(close);
  }
});

Deno.test("an armed timer does not keep a finished program alive", async () => {
  const code = `
    import { kqueue, kevent, EVFILT_TIMER, EV_ADD, timerfdCreate, timerfdSettime } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const kq = kqueue();
    await kevent(kq, [{ ident: 1, filter: EVFILT_TIMER, flags: EV_ADD, fflags: 0, data: 3600000, udata: 0 }], [], 0, null);
    const tfd = timerfdCreate(1, 0);
    timerfdSettime(tfd, 0, { value: { sec: 3600, nsec: 0 }, interval: { sec: 0, nsec: 0 } });
    console.log("done");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
});

Deno.test("a program waiting in kevent for its timer is kept alive until it fires", async () => {
  const code = `
    import { kqueue, kevent, EVFILT_TIMER, EV_ADD, EV_ONESHOT } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const kq = kqueue();
    const out = [];
    const n = await kevent(kq, [{ ident: 1, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, fflags: 0, data: 20, udata: "t" }], out, 1, null);
    console.log(n, out[0].udata);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "1 t");
});
