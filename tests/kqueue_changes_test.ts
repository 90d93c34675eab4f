/**
 * kevent's changes: EV_ADD / EV_DELETE / EV_ENABLE / EV_DISABLE, the error
 * of each bad change, EV_RECEIPT and EV_ERROR slots, ONESHOT / CLEAR /
 * DISPATCH on retrieval, ordering, udata, and close(fd) deleting knotes.
 */

import assert from "node:assert/strict";
import {
  close,
  dup,
  EBADF,
  EINVAL,
  EMFILE,
  ENOENT,
  epollCreate1,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_ERROR,
  EV_ONESHOT,
  EV_RECEIPT,
  eventfd,
  EVFILT_READ,
  EVFILT_USER,
  EVFILT_WRITE,
  getDescriptorLimit,
  type KEvent,
  kevent,
  KQueue,
  kqueue,
  NOTE_TRIGGER,
  pipe,
  read,
  setDescriptorLimit,
  write,
} from "../mod.ts";
import { change, kev, poll } from "./_helpers.ts";

function withPipe(fn: (kq: number, r: number, w: number) => Promise<void>): () => Promise<void> {
  return async () => {
    const kq = kqueue();
    const fds: number[] = [];
    assert.equal(pipe(fds), 0);
    try {
      await fn(kq, fds[0], fds[1]);
    } finally {
      close(fds[0]);
      close(fds[1]);
      close(kq);
    }
  };
}

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

Deno.test("close(fd) deletes that number's knotes in every kqueue", async () => {
  const kq1 = kqueue();
  const kq2 = kqueue();
  const fds: number[] = [];
  pipe(fds);
  try {
    await change(kq1, kev(fds[0], EVFILT_READ, EV_ADD));
    await change(kq2, kev(fds[0], EVFILT_READ, EV_ADD));
    write(fds[1], new Uint8Array(1));
    close(fds[0]);
    assert.deepEqual(await poll(kq1), []);
    assert.deepEqual(await poll(kq2), []);
    // The number is free again: a new file there has no knotes.
    const fresh: number[] = [];
    pipe(fresh);
    assert.equal(fresh[0], fds[0]);
    assert.equal(await change(kq1, kev(fresh[0], EVFILT_READ, EV_DELETE)), -ENOENT);
    fresh.forEach(close);
  } finally {
    close(fds[1]);
    close(kq1);
    close(kq2);
  }
});

Deno.test("a dup'ed number keeps its own knote when the original is closed", async () => {
  const kq = kqueue();
  const fds: number[] = [];
  pipe(fds);
  const r2 = dup(fds[0]);
  try {
    await change(kq, kev(fds[0], EVFILT_READ, EV_ADD, 0, 0, "orig"));
    await change(kq, kev(r2, EVFILT_READ, EV_ADD, 0, 0, "dup"));
    close(fds[0]);
    write(fds[1], new Uint8Array(1));
    assert.deepEqual((await poll(kq)).map((e) => e.udata), ["dup"]);
  } finally {
    close(r2);
    close(fds[1]);
    close(kq);
  }
});

Deno.test("closing a kqueue drops its knotes; the watched pipe is untouched", async () => {
  const kq = kqueue();
  const fds: number[] = [];
  pipe(fds);
  try {
    await change(kq, kev(fds[0], EVFILT_READ, EV_ADD));
    await change(kq, kev(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
    assert.equal(close(kq), 0);
    assert.equal(write(fds[1], new Uint8Array(1)), 1);
    assert.equal(read(fds[0], new Uint8Array(1)), 1);
  } finally {
    fds.forEach(close);
  }
});

Deno.test("a wait returns when another task's change makes an event pending", async () => {
  const kq = kqueue();
  try {
    const out: KEvent[] = [];
    const pending = kevent(kq, [], out, 4, null);
    await change(kq, kev(7, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, "go"));
    assert.equal(await pending, 1);
    assert.equal(out[0].udata, "go");
  } finally {
    close(kq);
  }
});

Deno.test("a wait with a timeout and nothing pending returns 0", async () => {
  const kq = kqueue();
  try {
    assert.equal(await kevent(kq, [], [], 4, { sec: 0, nsec: 1_000_000 }), 0);
  } finally {
    close(kq);
  }
});

Deno.test("KQueue applies changes, throws ErrnoError, iterates and ends waits on close", async () => {
  const kq = new KQueue();
  const fds: number[] = [];
  pipe(fds);
  try {
    assert.throws(() => kq.changes([kev(4242, EVFILT_READ, EV_ADD)]), { code: "EBADF" });
    kq.changes([kev(fds[0], EVFILT_READ, EV_ADD, 0, 0, "p")]);
    write(fds[1], new Uint8Array(3));
    for await (const batch of kq) {
      assert.deepEqual(batch.map((e) => [e.udata, e.data]), [["p", 3]]);
      break;
    }
    const waiting = kq.wait(4, -1, [kev(fds[0], EVFILT_READ, EV_DELETE)]);
    kq.close();
    assert.deepEqual(await waiting, []);
    assert.throws(() => kq.changes([]), { code: "EBADF" });
  } finally {
    kq.close();
    fds.forEach(close);
  }
});

Deno.test("a loop of kevent calls that always find events still lets timers run", async () => {
  const kq = kqueue();
  const efd = eventfd(1, 0);
  try {
    await change(kq, kev(efd, EVFILT_READ, EV_ADD));
    let fired = false;
    const timer = setTimeout(() => fired = true, 5);
    const out: KEvent[] = [];
    // Without a turn of Deno's event loop the timer never fires and the cap ends the loop.
    for (let i = 0; i < 2_000_000 && !fired; i++) {
      assert.equal(await kevent(kq, [], out, 4, null), 1);
    }
    clearTimeout(timer);
    assert.ok(fired, "the timer fired while kevent kept finding events");
  } finally {
    close(efd);
    close(kq);
  }
});

Deno.test("kqueue() fails with EMFILE when the descriptor table is full", () => {
  const limit = getDescriptorLimit();
  const kq = kqueue();
  try {
    assert.equal(setDescriptorLimit(kq + 1), 0);
    assert.equal(kqueue(), -EMFILE);
  } finally {
    setDescriptorLimit(limit);
    close(kq);
  }
});

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
