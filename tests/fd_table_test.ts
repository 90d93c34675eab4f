import assert from "node:assert/strict";
import {
  AF_UNIX,
  close,
  Description,
  dup,
  EBADF,
  EINVAL,
  EMFILE,
  epollCreate1,
  eventfd,
  getDescriptorLimit,
  installDescription,
  pipe,
  read,
  setDescriptorLimit,
  SOCK_STREAM,
  socketpair,
  write,
} from "../mod.ts";
import { mulberry32 } from "./_helpers.ts";

/** A description that counts its releases. */
class Probe extends Description {
  readonly kind = "probe";
  released = 0;
  poll(): number {
    return 0;
  }
  protected override onRelease(): void {
    this.released++;
  }
}

/** Opens `n` eventfds and returns their numbers. */
function openMany(n: number): number[] {
  const fds: number[] = [];
  for (let i = 0; i < n; i++) {
    const fd = eventfd(0, 0);
    assert.ok(fd >= 0, `eventfd failed: ${fd}`);
    fds.push(fd);
  }
  return fds;
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

Deno.test("installDescription() gives consecutive lowest-free fds", () => {
  const probe = eventfd(0, 0);
  close(probe);
  const fds = openMany(5);
  assert.deepEqual(fds, [probe, probe + 1, probe + 2, probe + 3, probe + 4]);
  fds.forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("installDescription() reuses the lowest freed fd first", () => {
  const fds = openMany(6);
  close(fds[4]);
  close(fds[1]);
  close(fds[3]);
  assert.equal(eventfd(0, 0), fds[1]);
  assert.equal(eventfd(0, 0), fds[3]);
  assert.equal(eventfd(0, 0), fds[4]);
  // Nothing free below the top: the next one comes after the last.
  const next = eventfd(0, 0);
  assert.equal(next, fds[5] + 1);
  [...fds, next].forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("installDescription() allocates lowest-free after closes in random order", () => {
  const rand = mulberry32(0xdecaf);
  for (let round = 0; round < 20; round++) {
    const fds = openMany(64);
    const victims = shuffle(fds, rand).slice(0, 1 + Math.floor(rand() * 63));
    for (const fd of victims) assert.equal(close(fd), 0);
    const expected = victims.slice().sort((a, b) => a - b);
    const reopened = openMany(victims.length);
    assert.deepEqual(reopened, expected, `round ${round}`);
    // Every hole is filled again: the next fd is just past the block.
    const after = eventfd(0, 0);
    assert.equal(after, fds[63] + 1);
    close(after);
    for (const fd of shuffle(fds, rand)) assert.equal(close(fd), 0);
  }
});

Deno.test("installDescription() installs a custom Description and close() releases it", () => {
  const probe = new Probe();
  const fd = installDescription(probe);
  assert.ok(fd >= 0);
  assert.equal(probe.refs, 1);
  assert.equal(read(fd, new Uint8Array(4)), -EINVAL);
  assert.equal(write(fd, new Uint8Array(4)), -EINVAL);
  assert.equal(close(fd), 0);
  assert.equal(probe.refs, 0);
  assert.equal(probe.released, 1);
});

Deno.test("close() returns -EBADF for closed, negative and non-integer fds", () => {
  const fd = eventfd(0, 0);
  assert.equal(close(fd), 0);
  assert.equal(close(fd), -EBADF);
  assert.equal(close(-1), -EBADF);
  assert.equal(close(1.5), -EBADF);
  assert.equal(close(NaN), -EBADF);
  assert.equal(close(2 ** 40), -EBADF);
  assert.throws(() => close("0" as unknown as number), TypeError);
});

Deno.test("dup() shares the open description", () => {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  const w2 = dup(fds[1]);
  assert.equal(w2, fds[1] + 1);
  assert.equal(write(w2, new Uint8Array([1, 2, 3])), 3);
  assert.equal(write(fds[1], new Uint8Array([4])), 1);
  const buf = new Uint8Array(8);
  assert.equal(read(fds[0], buf), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [1, 2, 3, 4]);

  // An eventfd's counter is one object behind both fds.
  const efd = eventfd(5, 0);
  const efd2 = dup(efd);
  const out = new Uint8Array(8);
  assert.equal(read(efd2, out), 8);
  assert.equal(new DataView(out.buffer).getBigUint64(0, true), 5n);
  assert.equal(read(efd, out), -11);
  [fds[0], fds[1], w2, efd, efd2].forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("dup() keeps the description alive until its last fd is closed", () => {
  const probe = new Probe();
  const fd = installDescription(probe);
  const fd2 = dup(fd);
  const fd3 = dup(fd2);
  assert.equal(probe.refs, 3);
  close(fd);
  close(fd3);
  assert.equal(probe.released, 0);
  assert.equal(probe.refs, 1);
  close(fd2);
  assert.equal(probe.released, 1);

  // A pipe's reader sees EOF only after every write fd is gone.
  const fds: number[] = [];
  pipe(fds);
  const w2 = dup(fds[1]);
  close(fds[1]);
  assert.equal(read(fds[0], new Uint8Array(1)), -11);
  close(w2);
  assert.equal(read(fds[0], new Uint8Array(1)), 0);
  close(fds[0]);
});

Deno.test("dup() returns the lowest free fd", () => {
  const fds = openMany(4);
  close(fds[1]);
  assert.equal(dup(fds[3]), fds[1]);
  const d = dup(fds[0]);
  assert.equal(d, fds[3] + 1);
  [...fds, d].forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("dup() returns -EBADF for a bad fd", () => {
  const fd = eventfd(0, 0);
  close(fd);
  assert.equal(dup(fd), -EBADF);
  assert.equal(dup(-1), -EBADF);
  assert.equal(dup(0.5), -EBADF);
});

Deno.test("getDescriptorLimit() defaults to Linux's nr_open", () => {
  assert.equal(getDescriptorLimit(), 1_048_576);
});

Deno.test("setDescriptorLimit() refuses limits below 1, non-integers and NaN with -EINVAL", () => {
  const before = getDescriptorLimit();
  try {
    assert.equal(setDescriptorLimit(0), -EINVAL);
    assert.equal(setDescriptorLimit(-1), -EINVAL);
    assert.equal(setDescriptorLimit(2.5), -EINVAL);
    assert.equal(setDescriptorLimit(NaN), -EINVAL);
    assert.equal(getDescriptorLimit(), before);
    assert.throws(() => setDescriptorLimit("8" as unknown as number), TypeError);
  } finally {
    setDescriptorLimit(before);
  }
});

Deno.test("setDescriptorLimit() refuses a limit below an open fd with -EINVAL", () => {
  const before = getDescriptorLimit();
  const fds = openMany(3);
  const top = fds[2];
  try {
    assert.equal(setDescriptorLimit(top), -EINVAL);
    assert.equal(getDescriptorLimit(), before);
    assert.equal(setDescriptorLimit(top + 1), 0);
    assert.equal(getDescriptorLimit(), top + 1);
    // Closing the top fd makes a lower limit acceptable.
    close(top);
    assert.equal(setDescriptorLimit(top), 0);
    assert.equal(getDescriptorLimit(), top);
  } finally {
    assert.equal(setDescriptorLimit(before), 0);
    fds.slice(0, 2).forEach((fd) => assert.equal(close(fd), 0));
  }
  assert.equal(getDescriptorLimit(), before);
});

Deno.test("setDescriptorLimit() makes every fd-creating call fail with -EMFILE at the limit", () => {
  const before = getDescriptorLimit();
  const fds = openMany(2);
  try {
    assert.equal(setDescriptorLimit(fds[1] + 1), 0);
    assert.equal(eventfd(0, 0), -EMFILE);
    assert.equal(dup(fds[0]), -EMFILE);
    assert.equal(epollCreate1(0), -EMFILE);
    assert.equal(installDescription(new Probe()), -EMFILE);
    const pair = [-1, -1];
    assert.equal(pipe(pair), -EMFILE);
    assert.deepEqual(pair, [-1, -1]);
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), -EMFILE);
    assert.deepEqual(pair, [-1, -1]);

    // A freed slot below the limit is usable again.
    close(fds[0]);
    const again = eventfd(0, 0);
    assert.equal(again, fds[0]);
    assert.equal(eventfd(0, 0), -EMFILE);
  } finally {
    assert.equal(setDescriptorLimit(before), 0);
    fds.forEach(close);
  }
});

Deno.test("pipe() and socketpair() leave no fd open when only one slot is free", () => {
  const before = getDescriptorLimit();
  const fds = openMany(1);
  try {
    assert.equal(setDescriptorLimit(fds[0] + 2), 0);
    const pair = [-1, -1];
    assert.equal(pipe(pair), -EMFILE);
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), -EMFILE);
    assert.deepEqual(pair, [-1, -1]);
    // The one free slot is still free, and nothing sits in it.
    const last = eventfd(0, 0);
    assert.equal(last, fds[0] + 1);
    assert.equal(eventfd(0, 0), -EMFILE);
    close(last);
  } finally {
    assert.equal(setDescriptorLimit(before), 0);
    fds.forEach(close);
  }
});

Deno.test("setDescriptorLimit() raised again allows allocation above the old limit", () => {
  const before = getDescriptorLimit();
  const fds = openMany(1);
  try {
    assert.equal(setDescriptorLimit(fds[0] + 1), 0);
    assert.equal(eventfd(0, 0), -EMFILE);
    assert.equal(setDescriptorLimit(fds[0] + 3), 0);
    const a = eventfd(0, 0);
    const b = eventfd(0, 0);
    assert.deepEqual([a, b], [fds[0] + 1, fds[0] + 2]);
    assert.equal(eventfd(0, 0), -EMFILE);
    close(a);
    close(b);
  } finally {
    assert.equal(setDescriptorLimit(before), 0);
    fds.forEach(close);
  }
});

Deno.test("read() and write() return -EBADF for a closed fd", () => {
  const fd = eventfd(0, 0);
  close(fd);
  assert.equal(read(fd, new Uint8Array(8)), -EBADF);
  assert.equal(write(fd, new Uint8Array(8)), -EBADF);
  assert.equal(read(-3, new Uint8Array(8)), -EBADF);
});
