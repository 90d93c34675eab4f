/**
 * Knotes and kqueues over their lives: close(fd) deleting knotes, dup'ed
 * numbers, closing a kqueue, waits ended by another task's change or a
 * timeout, the KQueue object, timers running beside a busy loop, and
 * EMFILE.
 */

import assert from "node:assert/strict";
import {
  close,
  dup,
  EMFILE,
  ENOENT,
  EV_ADD,
  EV_DELETE,
  EV_ONESHOT,
  eventfd,
  EVFILT_READ,
  EVFILT_USER,
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
