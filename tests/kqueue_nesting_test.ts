/**
 * Kqueues and epolls nest both ways through the one shared nesting check:
 * a kqueue is readable while events are pending, an epoll's READ data is 1,
 * cycles and deep chains fail with ELOOP.
 */

import assert from "node:assert/strict";
import {
  close,
  ELOOP,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  EV_ADD,
  EV_CLEAR,
  eventfd,
  EVFILT_READ,
  EVFILT_USER,
  kqueue,
  NOTE_TRIGGER,
} from "../mod.ts";
import { change, kev, next, poll } from "./_helpers.ts";

Deno.test("a kqueue in an epoll makes it readable while events are pending", async () => {
  const kq = kqueue();
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, kq, { events: EPOLLIN, data: "kq" }), 0);
    const out: EpollEvent[] = [];
    assert.equal(await epollWait(ep, out, 4, 0), 0);
    const waiting = epollWait(ep, out, 4, -1);
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER));
    assert.equal(await waiting, 1);
    assert.deepEqual(out[0], { events: EPOLLIN, data: "kq" });
    assert.equal((await poll(kq)).length, 1);
    assert.equal(await epollWait(ep, out, 4, 0), 0, "drained: no longer readable");
  } finally {
    close(ep);
    close(kq);
  }
});

Deno.test("an epoll in a kqueue: EVFILT_READ fires with data 1 while it has ready entries", async () => {
  const kq = kqueue();
  const ep = epollCreate1(0);
  const efd = eventfd(0, 0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: 0 });
    await change(kq, kev(ep, EVFILT_READ, EV_ADD, 0, 0, "ep"));
    assert.deepEqual(await poll(kq), []);
    const waiting = next(kq);
    const one = new Uint8Array(8);
    one[0] = 1;
    const { write } = await import("../mod.ts");
    write(efd, one);
    assert.deepEqual((await waiting).map((e) => [e.udata, e.data]), [["ep", 1]]);
  } finally {
    close(efd);
    close(ep);
    close(kq);
  }
});

Deno.test("a kqueue in a kqueue: READ data is the count of pending events", async () => {
  const outer = kqueue();
  const inner = kqueue();
  try {
    await change(outer, kev(inner, EVFILT_READ, EV_ADD));
    await change(
      inner,
      kev(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER),
      kev(2, EVFILT_USER, EV_ADD, NOTE_TRIGGER),
    );
    assert.deepEqual((await poll(outer)).map((e) => e.data), [2]);
  } finally {
    close(inner);
    close(outer);
  }
});

Deno.test("cycles between kqueues and epolls fail with ELOOP, in both directions", async () => {
  const kq = kqueue();
  const ep = epollCreate1(0);
  const kq2 = kqueue();
  try {
    assert.equal(await change(kq, kev(ep, EVFILT_READ, EV_ADD)), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, kq, { events: EPOLLIN, data: 0 }), -ELOOP);
    assert.equal(await change(kq2, kev(kq, EVFILT_READ, EV_ADD)), 0);
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, kq2, { events: EPOLLIN, data: 0 }), -ELOOP);
    assert.equal(await change(kq, kev(kq2, EVFILT_READ, EV_ADD)), -ELOOP);
  } finally {
    close(kq2);
    close(ep);
    close(kq);
  }
});

Deno.test("a chain of five containers (four links) mixing kqueues and epolls is allowed, a fifth link fails with ELOOP", async () => {
  const chain = [kqueue(), epollCreate1(0), kqueue(), epollCreate1(0), kqueue(), epollCreate1(0)];
  const isKq = [true, false, true, false, true, false];
  const link = async (i: number): Promise<number> =>
    isKq[i]
      ? await change(chain[i], kev(chain[i + 1], EVFILT_READ, EV_ADD))
      : epollCtl(chain[i], EPOLL_CTL_ADD, chain[i + 1], { events: EPOLLIN, data: 0 });
  try {
    for (let i = 0; i < 4; i++) assert.equal(await link(i), 0, `link ${i}`);
    assert.equal(await link(4), -ELOOP, "a fifth link");
  } finally {
    chain.forEach(close);
  }
});
