/**
 * kevent's changes: kqueue() and kevent's own errors, EV_ADD / EV_DELETE /
 * EV_ENABLE / EV_DISABLE, the error of each bad change, EV_RECEIPT and
 * EV_ERROR slots, and udata. What retrieval does: kqueue_retrieval_test.ts;
 * closing descriptors and kqueues, and waits: kqueue_lifecycle_test.ts.
 */

import assert from "node:assert/strict";
import {
  close,
  EBADF,
  EINVAL,
  ENOENT,
  epollCreate1,
  EV_ADD,
  EV_DELETE,
  EV_DISABLE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_ERROR,
  EV_ONESHOT,
  EV_RECEIPT,
  eventfd,
  EVFILT_READ,
  EVFILT_WRITE,
  type KEvent,
  kevent,
  kqueue,
  write,
} from "../mod.ts";
import { change, kev, poll, withPipe } from "./_helpers.ts";

Deno.test("kqueue() returns the lowest free descriptor", () => {
  const a = kqueue();
  const b = kqueue();
  assert.equal(b, a + 1);
  close(a);
  assert.equal(kqueue(), a);
  close(a);
  close(b);
});

Deno.test("kevent on a descriptor that is not a kqueue fails with EBADF", async () => {
  const efd = eventfd(0, 0);
  const ep = epollCreate1(0);
  try {
    assert.equal(await kevent(efd, [], [], 0, null), -EBADF);
    assert.equal(await kevent(ep, [], [], 0, null), -EBADF);
    assert.equal(await kevent(999_999, [], [], 0, null), -EBADF);
  } finally {
    close(efd);
    close(ep);
  }
});

Deno.test("kevent rejects a negative nevents and a bad timeout when it would wait", async () => {
  const kq = kqueue();
  try {
    assert.equal(await kevent(kq, [], [], -1, null), -EINVAL);
    assert.equal(await kevent(kq, [], [], 1, { sec: -1, nsec: 0 }), -EINVAL);
    assert.equal(await kevent(kq, [], [], 1, { sec: 0, nsec: 1e9 }), -EINVAL);
    assert.equal(await kevent(kq, [], [], 1, { sec: 0, nsec: -1 }), -EINVAL);
    // With nevents 0 the timeout is never looked at (kqueue_scan is not reached).
    assert.equal(await kevent(kq, [], [], 0, { sec: -1, nsec: 0 }), 0);
    assert.equal(await kevent(kq, [], [], 1, { sec: 0, nsec: 0 }), 0);
  } finally {
    close(kq);
  }
});

Deno.test("kevent throws TypeError for arguments of the wrong JavaScript type", () => {
  const kq = kqueue();
  try {
    assert.throws(() => kevent(kq, null as unknown as KEvent[], [], 0, null), TypeError);
    assert.throws(() => kevent(kq, [], {} as unknown as KEvent[], 0, null), TypeError);
    assert.throws(() => kevent(kq, [], [], "1" as unknown as number, null), TypeError);
    assert.throws(
      () => kevent(kq, [kev("3" as unknown as number, EVFILT_READ, EV_ADD)], [], 0, null),
      TypeError,
    );
    assert.throws(() => kevent(kq, [null as unknown as KEvent], [], 0, null), TypeError);
  } finally {
    close(kq);
  }
});

Deno.test(
  "each bad change reports its errno: ENOENT, EBADF, EINVAL for unknown filters and ENABLE|DISABLE",
  withPipe(async (kq, r) => {
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DELETE)), -ENOENT);
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ENABLE)), -ENOENT);
    assert.equal(await change(kq, kev(12345, EVFILT_READ, EV_ADD)), -EBADF);
    assert.equal(await change(kq, kev(-1, EVFILT_WRITE, EV_ADD)), -EBADF);
    for (const filter of [-3, -4, -5, -8, -9, -10, -12, -13, -14, 0, 1, -100]) {
      assert.equal(await change(kq, kev(r, filter, EV_ADD)), -EINVAL, `filter ${filter}`);
    }
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_ENABLE | EV_DISABLE)), -EINVAL);
    assert.equal(
      await change(kq, kev(kq, EVFILT_READ, EV_ADD)),
      -EINVAL,
      "a kqueue watching itself",
    );
  }),
);

Deno.test(
  "a failed change takes an EV_ERROR slot and the call returns the count at once",
  withPipe(async (kq, r, w) => {
    write(w, new Uint8Array(3));
    const out: KEvent[] = [];
    const n = await kevent(
      kq,
      [kev(r, EVFILT_READ, EV_ADD, 0, 0, "ok"), kev(4242, EVFILT_READ, EV_ADD, 0, 0, "bad")],
      out,
      8,
      null,
    );
    // The slot is the only entry, though the pipe's READ event is pending.
    assert.equal(n, 1);
    assert.deepEqual(out[0], {
      ident: 4242,
      filter: EVFILT_READ,
      flags: EV_ERROR,
      fflags: 0,
      data: EBADF,
      udata: "bad",
    });
    assert.equal((await poll(kq)).length, 1, "the first change was applied");
  }),
);

Deno.test(
  "EV_RECEIPT reports success as EV_ERROR with data 0, in change order",
  withPipe(async (kq, r, w) => {
    const out: KEvent[] = [];
    const n = await kevent(
      kq,
      [
        kev(r, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, 1),
        kev(w, EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, 2),
        kev(w, EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, 3),
      ],
      out,
      8,
      null,
    );
    assert.equal(n, 3);
    assert.deepEqual(out.map((e) => [e.udata, e.flags, e.data]), [
      [1, EV_ERROR, 0],
      [2, EV_ERROR, ENOENT],
      [3, EV_ERROR, 0],
    ]);
  }),
);

Deno.test(
  "a failed change with no slot left fails the call and leaves later changes unapplied",
  withPipe(async (kq, r, w) => {
    const out: KEvent[] = [];
    const n = await kevent(
      kq,
      [
        kev(4242, EVFILT_READ, EV_ADD),
        kev(9999, EVFILT_READ, EV_ADD),
        kev(r, EVFILT_READ, EV_ADD),
      ],
      out,
      1,
      null,
    );
    assert.equal(n, -EBADF);
    assert.equal(out[0].ident, 4242);
    write(w, new Uint8Array(1));
    assert.equal((await poll(kq)).length, 0, "the READ change after the failures was not applied");
    assert.equal(
      await change(kq, kev(4242, EVFILT_READ, EV_ADD), kev(r, EVFILT_READ, EV_ADD)),
      -EBADF,
    );
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DELETE)), -ENOENT);
  }),
);

Deno.test(
  "EV_ADD on an existing knote modifies it: udata replaced, one event",
  withPipe(async (kq, r, w) => {
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, "a")), 0);
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, "b")), 0);
    write(w, new Uint8Array(2));
    const events = await poll(kq);
    assert.equal(events.length, 1);
    assert.equal(events[0].udata, "b");
    assert.equal(events[0].flags, 0, "EV_ADD is never returned");
  }),
);

Deno.test(
  "a condition that already holds is queued by EV_ADD at once",
  withPipe(async (kq, r, w) => {
    write(w, new Uint8Array(9));
    const out: KEvent[] = [];
    assert.equal(await kevent(kq, [kev(r, EVFILT_READ, EV_ADD, 0, 0, "x")], out, 4, null), 1);
    assert.equal(out[0].data, 9);
  }),
);

Deno.test(
  "EV_DISABLE drops the pending event and EV_ENABLE brings it back; udata follows each change",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, "add"));
    write(w, new Uint8Array(1));
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DISABLE, 0, 0, "off")), 0);
    assert.deepEqual(await poll(kq), []);
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ENABLE, 0, 0, "on")), 0);
    assert.deepEqual((await poll(kq)).map((e) => e.udata), ["on"]);
  }),
);

Deno.test(
  "EV_ADD|EV_DISABLE creates a knote that reports nothing until enabled",
  withPipe(async (kq, r, w) => {
    write(w, new Uint8Array(1));
    await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_DISABLE));
    assert.deepEqual(await poll(kq), []);
    await change(kq, kev(r, EVFILT_READ, EV_ENABLE));
    assert.equal((await poll(kq)).length, 1);
  }),
);

Deno.test(
  "EV_DELETE removes the knote and its pending event",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD));
    write(w, new Uint8Array(1));
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DELETE)), 0);
    assert.deepEqual(await poll(kq), []);
  }),
);

Deno.test(
  "the same ident under two filters is two knotes",
  withPipe(async (kq, r) => {
    const sv = [r];
    void sv;
    const efd = eventfd(1, 0);
    try {
      await change(
        kq,
        kev(efd, EVFILT_READ, EV_ADD, 0, 0, "r"),
        kev(efd, EVFILT_WRITE, EV_ADD, 0, 0, "w"),
      );
      assert.deepEqual((await poll(kq)).map((e) => e.udata).sort(), ["r", "w"]);
      await change(kq, kev(efd, EVFILT_WRITE, EV_DELETE));
      assert.deepEqual((await poll(kq)).map((e) => e.udata), ["r"]);
    } finally {
      close(efd);
    }
  }),
);

Deno.test(
  "udata comes back by identity, whatever its type",
  withPipe(async (kq, r, w) => {
    const token = { conn: 42 };
    await change(kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, token));
    write(w, new Uint8Array(1));
    assert.equal((await poll(kq))[0].udata, token);
  }),
);

Deno.test(
  "a modifying EV_ADD keeps the EV_ONESHOT, EV_CLEAR and EV_DISPATCH the knote was created with",
  withPipe(async (kq, r, w) => {
    await change(kq, kev(r, EVFILT_READ, EV_ADD));
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_ADD | EV_ONESHOT | EV_DISPATCH)), 0);
    write(w, new Uint8Array(1));
    const [ev] = await poll(kq);
    assert.equal(ev.flags, 0, "still level-triggered");
    assert.equal((await poll(kq)).length, 1, "not deleted, not disabled");
  }),
);

Deno.test(
  "EV_RECEIPT with no event slot returns 0 at once and leaves later changes unapplied",
  withPipe(async (kq, r, w) => {
    const n = await kevent(
      kq,
      [
        kev(r, EVFILT_READ, EV_ADD | EV_RECEIPT),
        kev(w, EVFILT_WRITE, EV_ADD),
      ],
      [],
      0,
      null,
    );
    assert.equal(n, 0);
    assert.equal(await change(kq, kev(r, EVFILT_READ, EV_DELETE)), 0, "the receipt change applied");
    assert.equal(await change(kq, kev(w, EVFILT_WRITE, EV_DELETE)), -ENOENT, "the next did not");
  }),
);

Deno.test(
  "the change list and the event list may be the same array",
  withPipe(async (kq, r, w) => {
    write(w, new Uint8Array(2));
    const list = [
      kev(r, EVFILT_READ, EV_ADD, 0, 0, "r"),
      kev(4242, EVFILT_READ, EV_ADD, 0, 0, "bad"),
    ];
    assert.equal(await kevent(kq, list, list, 2, null), 1);
    assert.equal(list[0].flags, EV_ERROR);
    assert.equal(list[0].udata, "bad");
    assert.equal(await kevent(kq, [], list, 2, null), 1);
    assert.deepEqual([list[0].udata, list[0].data], ["r", 2]);
  }),
);
