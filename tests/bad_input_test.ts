/**
 * Bad input for every POSIX-shaped call of the runtime: each row gives the
 * errno Linux returns (as `-errno`), and arguments of the wrong JavaScript
 * type throw `TypeError` (SPEC.md, "Conventions"). After the table the
 * reactor must still deliver events, and no fd may have leaked.
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  close,
  dup,
  EAFNOSUPPORT,
  EBADF,
  EEXIST,
  EFAULT,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  EINVAL,
  EMFILE,
  ENOENT,
  EOPNOTSUPP,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLEXCLUSIVE,
  EPOLLIN,
  EPOLLONESHOT,
  epollPwait2,
  epollWait,
  EPROTONOSUPPORT,
  eventfd,
  getDescriptorLimit,
  pipe,
  read,
  setDescriptorLimit,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  socketpair,
  write,
} from "../mod.ts";
import { u64 } from "./_helpers.ts";

/** Linux's nr_open default, the limit SPEC.md gives. */
const DEFAULT_LIMIT = 1_048_576;

interface Fixture {
  epfd: number;
  r: number;
  w: number;
  a: number;
  b: number;
  efd: number;
}

/** An fd number that was open and is closed now. */
function closedFd(): number {
  const fd = eventfd(0, 0);
  assert.ok(fd >= 0);
  assert.equal(close(fd), 0);
  return fd;
}

const buf8 = () => new Uint8Array(8);
const ev = (events = EPOLLIN): EpollEvent => ({ events, data: null });

type Call = (f: Fixture) => number | Promise<number>;
type Row = [name: string, call: Call, errno: number];

/** Descriptor values that are not an open fd, with the reason. */
const BAD_FDS: Array<[string, () => number]> = [
  ["-1", () => -1],
  ["a closed fd", closedFd],
  ["2**40", () => 2 ** 40],
  ["1.5", () => 1.5],
  ["NaN", () => NaN],
  ["Infinity", () => Infinity],
];

const rows: Row[] = [];

for (const [what, fd] of BAD_FDS) {
  rows.push(
    [`close(${what})`, () => close(fd()), EBADF],
    [`dup(${what})`, () => dup(fd()), EBADF],
    [`read(${what})`, () => read(fd(), buf8()), EBADF],
    [`write(${what})`, () => write(fd(), buf8()), EBADF],
    [`epollCtl(epfd=${what}, ADD)`, (f) => epollCtl(fd(), EPOLL_CTL_ADD, f.efd, ev()), EBADF],
    [`epollCtl(epfd=${what}, DEL)`, (f) => epollCtl(fd(), EPOLL_CTL_DEL, f.efd), EBADF],
    [`epollCtl(fd=${what}, ADD)`, (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, fd(), ev()), EBADF],
    [`epollCtl(fd=${what}, MOD)`, (f) => epollCtl(f.epfd, EPOLL_CTL_MOD, fd(), ev()), EBADF],
    [`epollCtl(fd=${what}, DEL)`, (f) => epollCtl(f.epfd, EPOLL_CTL_DEL, fd()), EBADF],
    [`epollWait(${what})`, () => epollWait(fd(), [], 1, 0), EBADF],
    [`epollPwait2(${what})`, () => epollPwait2(fd(), [], 1, { sec: 0, nsec: 0 }), EBADF],
  );
}

rows.push(
  // Wrong kind of descriptor.
  ["read(epoll fd): no read method", (f) => read(f.epfd, buf8()), EINVAL],
  ["write(epoll fd): no write method", (f) => write(f.epfd, buf8()), EINVAL],
  ["read(pipe write end): not open for reading", (f) => read(f.w, buf8()), EBADF],
  ["write(pipe read end): not open for writing", (f) => write(f.r, buf8()), EBADF],
  ["read(eventfd, 7-byte buffer)", (f) => read(f.efd, new Uint8Array(7)), EINVAL],
  ["write(eventfd, 4-byte buffer)", (f) => write(f.efd, new Uint8Array(4)), EINVAL],
  ["write(eventfd, 0xffffffffffffffff)", (f) => write(f.efd, u64(0xffff_ffff_ffff_ffffn)), EINVAL],
  ["epollCtl(epfd = pipe)", (f) => epollCtl(f.r, EPOLL_CTL_ADD, f.efd, ev()), EINVAL],
  ["epollCtl(epfd = socketpair)", (f) => epollCtl(f.a, EPOLL_CTL_ADD, f.efd, ev()), EINVAL],
  ["epollCtl(epfd = eventfd)", (f) => epollCtl(f.efd, EPOLL_CTL_ADD, f.r, ev()), EINVAL],
  ["epollCtl(fd == epfd)", (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.epfd, ev()), EINVAL],
  ["epollWait(pipe)", (f) => epollWait(f.r, [], 1, 0), EINVAL],
  ["epollWait(eventfd)", (f) => epollWait(f.efd, [], 1, 0), EINVAL],
  ["epollPwait2(socketpair)", (f) => epollPwait2(f.a, [], 1, null), EINVAL],
  // Unknown ops and flags.
  ["epollCtl(op 0)", (f) => epollCtl(f.epfd, 0, f.efd, ev()), EINVAL],
  ["epollCtl(op 4)", (f) => epollCtl(f.epfd, 4, f.efd, ev()), EINVAL],
  ["epollCtl(op -1)", (f) => epollCtl(f.epfd, -1, f.efd, ev()), EINVAL],
  ["epollCtl(op NaN)", (f) => epollCtl(f.epfd, NaN, f.efd, ev()), EINVAL],
  ["epollCtl(op 1.5)", (f) => epollCtl(f.epfd, 1.5, f.efd, ev()), EINVAL],
  ["epollCtl(unknown op, no event)", (f) => epollCtl(f.epfd, 7, f.efd), EFAULT],
  ["epollCtl(ADD, no event)", (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.efd), EFAULT],
  ["epollCtl(MOD, null event)", (f) => epollCtl(f.epfd, EPOLL_CTL_MOD, f.efd, null), EFAULT],
  ["epollCtl(ADD, no event, bad fds)", () => epollCtl(-1, EPOLL_CTL_ADD, -1), EFAULT],
  ["epollCtl(MOD, not registered)", (f) => epollCtl(f.epfd, EPOLL_CTL_MOD, f.w, ev()), ENOENT],
  ["epollCtl(DEL, not registered)", (f) => epollCtl(f.epfd, EPOLL_CTL_DEL, f.w), ENOENT],
  ["epollCtl(ADD, registered)", (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.efd, ev()), EEXIST],
  [
    "epollCtl(MOD | EPOLLEXCLUSIVE)",
    (f) => epollCtl(f.epfd, EPOLL_CTL_MOD, f.efd, ev(EPOLLIN | EPOLLEXCLUSIVE)),
    EINVAL,
  ],
  [
    "epollCtl(ADD, EPOLLEXCLUSIVE | EPOLLONESHOT)",
    (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.r, ev(EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT)),
    EINVAL,
  ],
  ["epollCreate(0)", () => epollCreate(0), EINVAL],
  ["epollCreate(-1)", () => epollCreate(-1), EINVAL],
  ["epollCreate(NaN)", () => epollCreate(NaN), EINVAL],
  ["epollCreate1(1)", () => epollCreate1(1), EINVAL],
  ["epollCreate1(-1)", () => epollCreate1(-1), EINVAL],
  ["epollCreate1(EPOLL_CLOEXEC | 4)", () => epollCreate1(EPOLL_CLOEXEC | 4), EINVAL],
  ["epollCreate1(1.5)", () => epollCreate1(1.5), EINVAL],
  ["epollCreate1(NaN)", () => epollCreate1(NaN), EINVAL],
  ["eventfd(0, 2)", () => eventfd(0, 2), EINVAL],
  ["eventfd(0, -1)", () => eventfd(0, -1), EINVAL],
  ["eventfd(0, EFD_SEMAPHORE | 0x10)", () => eventfd(0, EFD_SEMAPHORE | 0x10), EINVAL],
  ["socketpair(domain 999)", () => socketpair(999, SOCK_STREAM, 0, []), EAFNOSUPPORT],
  ["socketpair(AF_INET)", () => socketpair(AF_INET, SOCK_STREAM, 0, []), EOPNOTSUPP],
  ["socketpair(AF_INET6)", () => socketpair(AF_INET6, SOCK_STREAM, 0, []), EOPNOTSUPP],
  ["socketpair(type flag 0x100)", () => socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, []), EINVAL],
  [
    "socketpair(bad flag before bad domain)",
    () => socketpair(999, SOCK_STREAM | 0x100, 0, []),
    EINVAL,
  ],
  ["socketpair(protocol 2)", () => socketpair(AF_UNIX, SOCK_STREAM, 2, []), EPROTONOSUPPORT],
  // maxevents and timeouts.
  ["epollWait(maxevents 0)", (f) => epollWait(f.epfd, [], 0, 0), EINVAL],
  ["epollWait(maxevents -1)", (f) => epollWait(f.epfd, [], -1, 0), EINVAL],
  ["epollWait(maxevents NaN)", (f) => epollWait(f.epfd, [], NaN, 0), EINVAL],
  ["epollWait(maxevents > EP_MAX_EVENTS)", (f) => epollWait(f.epfd, [], 178956971, 0), EINVAL],
  [
    "epollWait(maxevents 0, bad epfd): EBADF first (Linux 6.18)",
    () => epollWait(-1, [], 0, 0),
    EBADF,
  ],
  ["epollWait(timeout NaN)", (f) => epollWait(f.epfd, [], 1, NaN), EINVAL],
  ["epollPwait2(maxevents 0)", (f) => epollPwait2(f.epfd, [], 0, null), EINVAL],
  ["epollPwait2(maxevents -1)", (f) => epollPwait2(f.epfd, [], -1, null), EINVAL],
  ["epollPwait2(maxevents NaN)", (f) => epollPwait2(f.epfd, [], NaN, null), EINVAL],
  ["epollPwait2(nsec 1e9)", (f) => epollPwait2(f.epfd, [], 1, { sec: 0, nsec: 1e9 }), EINVAL],
  ["epollPwait2(nsec -1)", (f) => epollPwait2(f.epfd, [], 1, { sec: 0, nsec: -1 }), EINVAL],
  ["epollPwait2(sec -1)", (f) => epollPwait2(f.epfd, [], 1, { sec: -1, nsec: 0 }), EINVAL],
  [
    "epollPwait2(bad timespec, bad epfd): EINVAL first",
    () => epollPwait2(-1, [], 1, { sec: 0, nsec: 1e9 }),
    EINVAL,
  ],
  // The descriptor limit.
  ["setDescriptorLimit(0)", () => setDescriptorLimit(0), EINVAL],
  ["setDescriptorLimit(-1)", () => setDescriptorLimit(-1), EINVAL],
  ["setDescriptorLimit(NaN)", () => setDescriptorLimit(NaN), EINVAL],
  ["setDescriptorLimit(1.5)", () => setDescriptorLimit(1.5), EINVAL],
  ["setDescriptorLimit(below an open fd)", (f) => setDescriptorLimit(f.efd), EINVAL],
);

/** Calls that must throw TypeError: [name, call]. */
const typeErrors: Array<[string, (f: Fixture) => unknown]> = [];
for (const [what, v] of [['"3"', "3"], ["null", null], ["{}", {}]] as const) {
  const x = v as unknown as number;
  typeErrors.push(
    [`close(${what})`, () => close(x)],
    [`dup(${what})`, () => dup(x)],
    [`read(${what}, buf)`, () => read(x, buf8())],
    [`write(${what}, buf)`, () => write(x, buf8())],
    [`read(fd, ${what})`, (f) => read(f.r, x as unknown as Uint8Array)],
    [`write(fd, ${what})`, (f) => write(f.w, x as unknown as Uint8Array)],
    [`pipe(${what})`, () => pipe(x as unknown as number[])],
    [`socketpair(${what}, …)`, () => socketpair(x, SOCK_STREAM, 0, [])],
    [`socketpair(…, type ${what}, …)`, () => socketpair(AF_UNIX, x, 0, [])],
    [`socketpair(…, protocol ${what}, …)`, () => socketpair(AF_UNIX, SOCK_STREAM, x, [])],
    [`socketpair(…, sv ${what})`, () => socketpair(AF_UNIX, SOCK_STREAM, 0, x as unknown as [])],
    [`eventfd(${what}, 0)`, () => eventfd(x, 0)],
    [`eventfd(0, ${what})`, () => eventfd(0, x)],
    [`epollCreate(${what})`, () => epollCreate(x)],
    [`epollCreate1(${what})`, () => epollCreate1(x)],
    [`epollCtl(${what}, ADD, fd, event)`, (f) => epollCtl(x, EPOLL_CTL_ADD, f.r, ev())],
    [`epollCtl(epfd, ${what}, fd, event)`, (f) => epollCtl(f.epfd, x, f.r, ev())],
    [`epollCtl(epfd, ADD, ${what}, event)`, (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, x, ev())],
    [`epollCtl(epfd, DEL, ${what})`, (f) => epollCtl(f.epfd, EPOLL_CTL_DEL, x)],
    [
      `epollCtl(epfd, ADD, fd, {events: ${what}})`,
      (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.r, { events: x, data: null }),
    ],
    [`epollWait(${what}, events, 1, 0)`, () => epollWait(x, [], 1, 0)],
    [`epollWait(epfd, ${what}, 1, 0)`, (f) => epollWait(f.epfd, x as unknown as [], 1, 0)],
    [`epollWait(epfd, events, ${what}, 0)`, (f) => epollWait(f.epfd, [], x, 0)],
    [`epollWait(epfd, events, 1, ${what})`, (f) => epollWait(f.epfd, [], 1, x)],
    [`epollPwait2(${what}, events, 1, null)`, () => epollPwait2(x, [], 1, null)],
    [
      `epollPwait2(epfd, ${what}, 1, null)`,
      (f) => epollPwait2(f.epfd, x as unknown as [], 1, null),
    ],
    [`epollPwait2(epfd, events, ${what}, null)`, (f) => epollPwait2(f.epfd, [], x, null)],
    [
      `epollPwait2(epfd, events, 1, {sec: ${what}, nsec: 0})`,
      (f) => epollPwait2(f.epfd, [], 1, { sec: x, nsec: 0 }),
    ],
    [
      `epollPwait2(epfd, events, 1, {sec: 0, nsec: ${what}})`,
      (f) => epollPwait2(f.epfd, [], 1, { sec: 0, nsec: x }),
    ],
    [`setDescriptorLimit(${what})`, () => setDescriptorLimit(x)],
  );
}
typeErrors.push(
  [
    'epollCtl(epfd, ADD, fd, "event")',
    (f) => epollCtl(f.epfd, EPOLL_CTL_ADD, f.r, "event" as unknown as EpollEvent),
  ],
  ['epollPwait2(epfd, events, 1, "1")', (f) => epollPwait2(f.epfd, [], 1, "1" as unknown as null)],
  [
    "epollPwait2(epfd, events, 1, null, {})",
    (f) => epollPwait2(f.epfd, [], 1, null, {} as unknown as AbortSignal),
  ],
  ["read(fd, ArrayBuffer)", (f) => read(f.r, new ArrayBuffer(8) as unknown as Uint8Array)],
  ["read(fd, number[])", (f) => read(f.r, [0, 0] as unknown as Uint8Array)],
  ["write(fd, string)", (f) => write(f.w, "abc" as unknown as Uint8Array)],
  ["close(3n)", () => close(3n as unknown as number)],
);

function setUp(): Fixture {
  const epfd = epollCreate1(0);
  const p: number[] = [];
  const s: number[] = [];
  assert.equal(pipe(p), 0);
  assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  const efd = eventfd(0, 0);
  const f = { epfd, r: p[0], w: p[1], a: s[0], b: s[1], efd };
  for (const fd of Object.values(f)) assert.ok(Number.isInteger(fd) && fd >= 0);
  // Registered, for the EEXIST and EPOLLEXCLUSIVE rows.
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, ev()), 0);
  return f;
}

function tearDown(f: Fixture): void {
  for (const fd of Object.values(f)) assert.equal(close(fd), 0);
}

Deno.test("bad input: every POSIX-shaped call returns the errno Linux returns", async (t) => {
  const lowestFree = closedFd();
  assert.equal(getDescriptorLimit(), DEFAULT_LIMIT);
  const f = setUp();
  try {
    for (const [name, call, errno] of rows) {
      await t.step(`${name} -> -${errno}`, async () => {
        assert.equal(await call(f), -errno);
      });
    }
  } finally {
    tearDown(f);
  }
  // Nothing leaked: the lowest free fd is the same again.
  assert.equal(closedFd(), lowestFree);
  assert.equal(getDescriptorLimit(), DEFAULT_LIMIT);
});

Deno.test("bad input: arguments of the wrong JavaScript type throw TypeError", async (t) => {
  const lowestFree = closedFd();
  const f = setUp();
  try {
    for (const [name, call] of typeErrors) {
      await t.step(name, () => {
        assert.throws(() => {
          const result = call(f);
          // A call that returned instead of throwing must not leave a wait behind.
          if (result instanceof Promise) result.catch(() => {});
        }, TypeError);
      });
    }
  } finally {
    tearDown(f);
  }
  assert.equal(closedFd(), lowestFree);
});

Deno.test("bad input: at the descriptor limit every call that makes an fd fails with EMFILE", () => {
  const before = getDescriptorLimit();
  const f = setUp();
  const limit = closedFd(); // the lowest free fd, above every open one
  try {
    assert.equal(setDescriptorLimit(limit), 0);
    assert.equal(getDescriptorLimit(), limit);
    assert.equal(dup(f.r), -EMFILE);
    assert.equal(epollCreate(1), -EMFILE);
    assert.equal(epollCreate1(0), -EMFILE);
    assert.equal(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), -EMFILE);
    const fds = [-7, -7];
    assert.equal(pipe(fds), -EMFILE);
    assert.deepEqual(fds, [-7, -7]);
    const sv = [-7, -7];
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), -EMFILE);
    assert.deepEqual(sv, [-7, -7]);
    // Room for one fd only: a pair fails as a whole and leaves nothing open.
    assert.equal(setDescriptorLimit(limit + 1), 0);
    assert.equal(pipe(fds), -EMFILE);
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), -EMFILE);
    assert.equal(closedFd(), limit);
    // The limit cannot go below an open fd.
    assert.equal(setDescriptorLimit(f.efd), -EINVAL);
    assert.equal(getDescriptorLimit(), limit + 1);
  } finally {
    assert.equal(setDescriptorLimit(before), 0);
    tearDown(f);
  }
  assert.equal(getDescriptorLimit(), before);
});

Deno.test("bad input: the reactor still delivers events after the bad calls", async () => {
  const epfd = epollCreate1(0);
  const efd = eventfd(0, 0);
  const p: number[] = [];
  assert.equal(pipe(p), 0);
  try {
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "efd" }), 0);
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, p[0], { events: EPOLLIN, data: "pipe" }), 0);
    const events: EpollEvent[] = [];
    const pending = epollWait(epfd, events, 8, 1000);
    assert.equal(write(efd, u64(1n)), 8);
    assert.equal(await pending, 1);
    assert.deepEqual(events[0], { events: EPOLLIN, data: "efd" });
    assert.equal(write(p[1], new Uint8Array([1])), 1);
    assert.equal(await epollWait(epfd, events, 8, 0), 2);
    assert.deepEqual(events.slice(0, 2).map((e) => e.data).sort(), ["efd", "pipe"]);
  } finally {
    close(p[0]);
    close(p[1]);
    close(efd);
    close(epfd);
  }
});
