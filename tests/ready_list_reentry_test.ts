/**
 * A wake-up that arrives while an epoll is queueing the same item: an
 * epoll polls its kernel pollers (the native driver's `epoll_wait`) before
 * it queues a wake-up of another kind, so that the ready list keeps Linux's
 * order, and that poll can deliver a wake-up for the very item being
 * queued. Under a reset flood on the native backend this happened to
 * freshly accepted sockets (their RST's edge came between two polls): the
 * item was linked twice, the edge-triggered echo example then crashed
 * ("Cannot read properties of null (reading 'queued')") or stopped
 * harvesting anything but that item (tests/hostile_reset_flood_test.ts,
 * native backend, ET).
 *
 * A poller registered in a kernel of the test's own plays the driver: when
 * armed, its next poll writes to the eventfd being queued, as a kernel
 * wake-up delivered by that poll would.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  EFD_NONBLOCK,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  read,
  write,
} from "../mod.ts";
import { Kernel } from "../runtime/core/kernel.ts";
import { registerPoller } from "../runtime/core/poller.ts";

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

Deno.test("an item raised again by the poll made while it is being queued is queued once, and the items after it are still harvested", async () => {
  const k = new Kernel({ name: "reentry" });
  try {
    await k.run(async () => {
      let armed = -1;
      registerPoller({
        pollNow() {
          if (armed < 0) return;
          const fd = armed;
          armed = -1;
          assert.equal(write(fd, ONE), 8); // the driver delivers a wake-up for fd
        },
        sleepBegin() {},
        sleepEnd: () => undefined,
      });
      const a = eventfd(0, EFD_NONBLOCK);
      const b = eventfd(0, EFD_NONBLOCK);
      const ep = epollCreate1(0);
      assert.equal(epollCtl(ep, EPOLL_CTL_ADD, a, { events: EPOLLIN | EPOLLET, data: "a" }), 0);
      assert.equal(epollCtl(ep, EPOLL_CTL_ADD, b, { events: EPOLLIN | EPOLLET, data: "b" }), 0);
      const out: EpollEvent[] = [];

      armed = a;
      assert.equal(write(a, ONE), 8); // queues a's item; the poll first raises it too
      assert.equal(await epollWait(ep, out, 8, 0), 1, "a reported once");
      assert.equal(out[0].data, "a");
      assert.equal(read(a, new Uint8Array(8)), 8);

      assert.equal(write(b, ONE), 8);
      assert.equal(await epollWait(ep, out, 8, 0), 1, "b, queued after a, is harvested");
      assert.equal(out[0].data, "b");
      assert.equal(await epollWait(ep, out, 8, 0), 0);
    });
  } finally {
    k.shutdown();
  }
});
