import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  check,
  EAGAIN,
  EBADF,
  ECONNRESET,
  EINVAL,
  ErrnoError,
  errnoName,
  errnoNumber,
  EWOULDBLOCK,
  strerror,
} from "../mod.ts";

const LINUX_ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  EMFILE: 24,
  EPIPE: 32,
  ELOOP: 40,
  ENOTSOCK: 88,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
};

Deno.test("errno constants carry their Linux x86-64 values", () => {
  const exported = mod as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(LINUX_ERRNO)) {
    assert.equal(exported[name], value, name);
  }
  assert.equal(EWOULDBLOCK, EAGAIN);
});

Deno.test("errnoName() names every errno constant by either sign", () => {
  for (const [name, value] of Object.entries(LINUX_ERRNO)) {
    assert.equal(errnoName(value), name);
    assert.equal(errnoName(-value), name);
  }
  // EWOULDBLOCK shares EAGAIN's number; the name is EAGAIN, as glibc's table.
  assert.equal(errnoName(EWOULDBLOCK), "EAGAIN");
});

Deno.test("errnoNumber() is the inverse of errnoName() for every errno constant", () => {
  for (const [name, value] of Object.entries(LINUX_ERRNO)) {
    assert.equal(errnoNumber(name), value, name);
    assert.equal(errnoName(errnoNumber(name)), name);
  }
  assert.equal(errnoNumber("EWOULDBLOCK"), EAGAIN);
  assert.equal(errnoNumber("ENOSUCHTHING"), 0);
  assert.equal(errnoNumber(""), 0);
  assert.throws(() => errnoNumber(11 as unknown as string), TypeError);
});

Deno.test("errnoName() falls back to E<number> for unknown numbers", () => {
  assert.equal(errnoName(9999), "E9999");
  assert.equal(errnoName(-9999), "E9999");
  assert.equal(errnoName(0), "E0");
});

Deno.test("errnoName() throws TypeError for a non-number", () => {
  assert.throws(() => errnoName("11" as unknown as number), TypeError);
});

Deno.test("strerror() gives glibc's messages by either sign", () => {
  assert.equal(strerror(EAGAIN), "Resource temporarily unavailable");
  assert.equal(strerror(-EAGAIN), "Resource temporarily unavailable");
  assert.equal(strerror(-EBADF), "Bad file descriptor");
  assert.equal(strerror(EINVAL), "Invalid argument");
  assert.equal(strerror(ECONNRESET), "Connection reset by peer");
  assert.equal(strerror(24), "Too many open files");
  assert.equal(strerror(32), "Broken pipe");
  assert.equal(strerror(115), "Operation now in progress");
});

Deno.test("strerror() describes unknown numbers as glibc does", () => {
  assert.equal(strerror(9999), "Unknown error 9999");
  assert.equal(strerror(-9999), "Unknown error 9999");
});

Deno.test("strerror() throws TypeError for a non-number", () => {
  assert.throws(() => strerror(null as unknown as number), TypeError);
});

Deno.test("ErrnoError carries a positive errno, its code and the syscall", () => {
  const err = new ErrnoError(-EAGAIN, "read");
  assert.ok(err instanceof Error);
  assert.ok(err instanceof ErrnoError);
  assert.equal(err.name, "ErrnoError");
  assert.equal(err.errno, 11);
  assert.equal(err.code, "EAGAIN");
  assert.equal(err.syscall, "read");
  assert.equal(err.message, "read: Resource temporarily unavailable (EAGAIN)");
});

Deno.test("ErrnoError accepts a positive errno and an empty syscall", () => {
  const err = new ErrnoError(EBADF);
  assert.equal(err.errno, 9);
  assert.equal(err.code, "EBADF");
  assert.equal(err.syscall, "");
  assert.equal(err.message, "Bad file descriptor (EBADF)");
});

Deno.test("ErrnoError names unknown numbers without failing", () => {
  const err = new ErrnoError(-4242, "ioctl");
  assert.equal(err.errno, 4242);
  assert.equal(err.code, "E4242");
  assert.equal(err.message, "ioctl: Unknown error 4242 (E4242)");
});

Deno.test("check() returns non-negative results unchanged", () => {
  assert.equal(check(0, "close"), 0);
  assert.equal(check(7, "dup"), 7);
});

Deno.test("check() throws ErrnoError for a -errno result", () => {
  assert.throws(
    () => check(-EINVAL, "epoll_ctl"),
    (e: unknown) =>
      e instanceof ErrnoError && e.errno === EINVAL && e.code === "EINVAL" &&
      e.syscall === "epoll_ctl" && e.message === "epoll_ctl: Invalid argument (EINVAL)",
  );
});
