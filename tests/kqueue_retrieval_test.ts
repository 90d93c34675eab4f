/**
 * What kevent's retrieval does: events oldest first, level-triggered knotes
 * requeued at the back, a condition that has gone dropped, and EV_ONESHOT /
 * EV_CLEAR / EV_DISPATCH on retrieval.
 */

import assert from "node:assert/strict";
import {
  close,
  ENOENT,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_ONESHOT,
  eventfd,
  EVFILT_READ,
  kqueue,
  read,
  write,
} from "../mod.ts";
import { change, kev, poll, withPipe } from "./_helpers.ts";

Deno.test(
  "level-triggered knotes are requeued at the back and rotate across small event lists",
  async () => {
    const kq = kqueue();
    const efds = [eventfd(1, 0), eventfd(1, 0), eventfd(1, 0)];
    try {
      for (const fd of efds) assert.equal(await change(kq, kev(fd, EVFILT_READ, EV_ADD)), 0);
      const order: number[] = [];
      for (let i = 0; i < 6; i++) order.push(...(await poll(kq, 2)).map((e) => e.ident));
      assert.deepEqual(order, [
        efds[0],
        efds[1],
        efds[2],
        efds[0],
        efds[1],
        efds[2],
        efds[0],
        efds[1],
        efds[2],
        efds[0],
        efds[1],
        efds[2],
      ]);
    } finally {
      efds.forEach(close);
      close(kq);
    }
  },
);

Deno.test(
  "events come oldest first: the order in which conditions arose",
  async () => {
    const kq = kqueue();
    const efds = [eventfd(0, 0), eventfd(0, 0), eventfd(0, 0)];
    const one = new Uint8Array(8);
    one[0] = 1;
    try {
      for (const fd of efds) await change(kq, kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR));
      write(efds[2], one);
      write(efds[0], one);
      write(efds[1], one);
      assert.deepEqual((await poll(kq)).map((e) => e.ident), [efds[2], efds[0], efds[1]]);
    } finally {
      efds.forEach(close);
      close(kq);
    }
  },
);

Deno.test(
  "a knote whose condition has gone is dropped when retrieved",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD));
    write(w, new Uint8Array(4));
    read(r, new Uint8Array(4));
    assert.deepEqual(await poll(kq), []);
    write(w, new Uint8Array(1));
    assert.equal((await poll(kq))[0].data, 1);
  }),
);

Deno.test(
  "EV_ONESHOT deletes the knote on retrieval",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_ONESHOT));
    write(w, new Uint8Array(1));
    const events = await poll(kq);
    assert.equal(events.length, 1);
    assert.equal(events[0].flags, EV_ONESHOT);
    assert.deepEqual(await poll(kq), []);
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DELETE)), -ENOENT);
  }),
);

Deno.test(
  "EV_CLEAR reports once, then again only after more bytes arrive",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_CLEAR));
    write(w, new Uint8Array(3));
    const first = await poll(kq);
    assert.deepEqual(first.map((e) => [e.data, e.flags]), [[3, EV_CLEAR]]);
    assert.deepEqual(await poll(kq), [], "no new bytes: no event");
    write(w, new Uint8Array(2));
    assert.deepEqual((await poll(kq)).map((e) => e.data), [5]);
  }),
);

Deno.test(
  "EV_DISPATCH disables on retrieval until EV_ENABLE, which re-evaluates",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, "d"));
    write(w, new Uint8Array(1));
    assert.deepEqual((await poll(kq)).map((e) => e.flags), [EV_DISPATCH]);
    write(w, new Uint8Array(1));
    assert.deepEqual(await poll(kq), [], "disabled");
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ENABLE, 0, 0, "e")), 0);
    const events = await poll(kq);
    assert.deepEqual(events.map((e) => [e.data, e.udata]), [[2, "e"]]);
  }),
);
