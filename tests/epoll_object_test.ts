/**
 * The `Epoll` object (runtime/objects/epoll.ts): add, modify, delete, wait,
 * close, `using`, async iteration, and the `ErrnoError`s it throws.
 */

import assert from "node:assert/strict";
import {
  close,
  EBADF,
  EEXIST,
  EINVAL,
  ENOENT,
  EPERM,
  Epoll,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  epollCreate1,
  epollCtl,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  ErrnoError,
  eventfd,
  installDescription,
  pipe,
  write,
} from "../mod.ts";
import { assertPending, errno, readU64, sleep, u64, Unpollable } from "./_helpers.ts";

Deno.test("Epoll creates an epoll fd usable with the POSIX-shaped calls", async () => {
  const ep = new Epoll();
  const efd = eventfd(1, 0);
  assert.equal(epollCtl(ep.fd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "posix" }), 0);
  assert.deepEqual(await ep.wait(8, 0), [{ events: EPOLLIN, data: "posix" }]);
  ep.close();
  close(efd);
});

Deno.test("Epoll constructor throws ErrnoError EINVAL for unknown flags", () => {
  assert.throws(() => new Epoll(1), errno(EINVAL));
});

Deno.test("Epoll.add() registers an fd and wait() returns its data by identity", async () => {
  using ep = new Epoll();
  const fds: number[] = [];
  pipe(fds);
  const data = { conn: 1 };
  ep.add(fds[0], EPOLLIN, data);
  assert.deepEqual(await ep.wait(8, 0), []);
  write(fds[1], new Uint8Array([1]));
  const events = await ep.wait(8, 0);
  assert.equal(events.length, 1);
  assert.equal(events[0].events, EPOLLIN);
  assert.equal(events[0].data, data);
  fds.forEach(close);
});

Deno.test("Epoll.add() defaults the data to the fd", async () => {
  using ep = new Epoll();
  const efd = eventfd(1, 0);
  ep.add(efd, EPOLLIN);
  assert.deepEqual(await ep.wait(), [{ events: EPOLLIN, data: efd }]);
  close(efd);
});

Deno.test("Epoll.add() throws ErrnoError EEXIST, EBADF, EINVAL and EPERM", () => {
  using ep = new Epoll();
  const efd = eventfd(0, 0);
  const odd = installDescription(new Unpollable());
  ep.add(efd, EPOLLIN);
  assert.throws(() => ep.add(efd, EPOLLIN), errno(EEXIST));
  assert.throws(() => ep.add(9999, EPOLLIN), errno(EBADF));
  assert.throws(() => ep.add(ep.fd, EPOLLIN), errno(EINVAL));
  assert.throws(() => ep.add(odd, EPOLLIN), errno(EPERM));
  try {
    ep.add(efd, EPOLLIN);
  } catch (e) {
    assert.ok(e instanceof ErrnoError);
    assert.equal(e.code, "EEXIST");
    assert.equal(e.syscall, "epoll_ctl");
  }
  close(efd);
  close(odd);
});

Deno.test("Epoll.modify() changes events and data, and re-arms EPOLLONESHOT", async () => {
  using ep = new Epoll();
  const efd = eventfd(1, 0);
  ep.add(efd, EPOLLIN | EPOLLONESHOT, "first");
  assert.deepEqual(await ep.wait(8, 0), [{ events: EPOLLIN, data: "first" }]);
  assert.deepEqual(await ep.wait(8, 0), []); // disarmed
  ep.modify(efd, EPOLLIN | EPOLLOUT, "second");
  assert.deepEqual(await ep.wait(8, 0), [{ events: EPOLLIN | EPOLLOUT, data: "second" }]);
  ep.modify(efd, EPOLLOUT);
  assert.deepEqual(await ep.wait(8, 0), [{ events: EPOLLOUT, data: efd }]);
  const other = eventfd(0, 0);
  assert.throws(() => ep.modify(other, EPOLLIN), errno(ENOENT));
  close(efd);
  close(other);
});

Deno.test("Epoll.delete() stops the reports and throws ENOENT when not registered", async () => {
  using ep = new Epoll();
  const efd = eventfd(1, 0);
  ep.add(efd, EPOLLIN);
  ep.delete(efd);
  assert.deepEqual(await ep.wait(8, 0), []);
  assert.throws(() => ep.delete(efd), errno(ENOENT));
  close(efd);
  assert.throws(() => ep.delete(efd), errno(EBADF));
});

Deno.test("Epoll.wait() returns at most maxevents and [] on timeout", async () => {
  using ep = new Epoll();
  const fds = [eventfd(1, 0), eventfd(1, 0), eventfd(1, 0)];
  fds.forEach((fd) => ep.add(fd, EPOLLIN));
  assert.deepEqual((await ep.wait(2, 0)).map((e) => e.data), [fds[0], fds[1]]);
  fds.forEach(readU64);
  const t0 = performance.now();
  assert.deepEqual(await ep.wait(8, 20), []);
  assert.ok(performance.now() - t0 >= 20);
  assert.deepEqual(await ep.wait(8, 0.5), []); // fractional timeouts are accepted
  fds.forEach(close);
});

Deno.test("Epoll.wait() throws ErrnoError EINVAL for maxevents 0", async () => {
  using ep = new Epoll();
  await assert.rejects(ep.wait(0, 0), errno(EINVAL));
});

Deno.test("Epoll.close() ends a pending wait with no events", async () => {
  const ep = new Epoll();
  const pending = ep.wait();
  await assertPending(pending);
  ep.close();
  assert.deepEqual(await pending, []);
});

Deno.test("Epoll.close() is idempotent and closes the fd once", () => {
  const ep = new Epoll();
  const fd = ep.fd;
  ep.close();
  ep.close();
  assert.equal(close(fd), -EBADF);
});

Deno.test("Epoll after close() fails with EBADF even when its fd number is reused", async () => {
  const ep = new Epoll();
  const efd = eventfd(1, 0);
  ep.close();
  assert.throws(() => ep.add(efd, EPOLLIN), errno(EBADF));
  // Another epoll now holds the same fd number; the closed object must not reach it.
  const other = epollCreate1(0);
  assert.equal(other, ep.fd);
  assert.throws(() => ep.add(efd, EPOLLIN), errno(EBADF));
  assert.throws(() => ep.modify(efd, EPOLLIN), errno(EBADF));
  assert.throws(() => ep.delete(efd), errno(EBADF));
  await assert.rejects(ep.wait(8, 0), errno(EBADF));
  assert.equal(epollCtl(other, EPOLL_CTL_DEL, efd), -ENOENT);
  close(other);
  close(efd);
});

Deno.test("Epoll[Symbol.dispose] closes the epoll at the end of a using block", () => {
  let fd = -1;
  {
    using ep = new Epoll();
    fd = ep.fd;
    assert.ok(fd >= 0);
  }
  assert.equal(close(fd), -EBADF);
});

Deno.test("Epoll async iteration yields batches and ends when closed inside the loop", async () => {
  const ep = new Epoll();
  const efd = eventfd(0, 0);
  ep.add(efd, EPOLLIN, "tick");
  const feeder = (async () => {
    for (let i = 0; i < 3; i++) {
      await sleep(1);
      assert.equal(write(efd, u64(1n)), 8);
    }
  })();
  const batches: unknown[][] = [];
  for await (const batch of ep) {
    batches.push(batch.map((e) => e.data));
    readU64(efd);
    if (batches.length === 3) ep.close();
  }
  await feeder;
  assert.deepEqual(batches, [["tick"], ["tick"], ["tick"]]);
  close(efd);
});

Deno.test("Epoll async iteration ends when another task closes the epoll", async () => {
  const ep = new Epoll();
  const efd = eventfd(0, 0);
  ep.add(efd, EPOLLIN);
  let batches = 0;
  const loop = (async () => {
    for await (const _ of ep) batches++;
  })();
  await sleep(5);
  ep.close();
  await loop;
  assert.equal(batches, 0);
  close(efd);
});

Deno.test("Epoll async iteration stops at break and leaves the epoll open", async () => {
  using ep = new Epoll();
  const efd = eventfd(2, 0);
  ep.add(efd, EPOLLIN, "x");
  for await (const batch of ep) {
    assert.deepEqual(batch, [{ events: EPOLLIN, data: "x" }]);
    break;
  }
  assert.deepEqual(await ep.wait(8, 0), [{ events: EPOLLIN, data: "x" }]);
  close(efd);
});
