import assert from "node:assert/strict";
import {
  close,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  EINVAL,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  eventfd,
  read,
  write,
} from "../mod.ts";
import { readiness, readU64, u64 } from "./_helpers.ts";

const MAX = 0xffff_ffff_ffff_fffen;

Deno.test("eventfd() accepts EFD_SEMAPHORE, EFD_NONBLOCK and EFD_CLOEXEC", () => {
  const fds = [
    0,
    EFD_SEMAPHORE,
    EFD_NONBLOCK,
    EFD_CLOEXEC,
    EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC,
  ]
    .map((flags) => eventfd(0, flags));
  fds.forEach((fd) => assert.ok(fd >= 0));
  assert.deepEqual(fds, [fds[0], fds[0] + 1, fds[0] + 2, fds[0] + 3, fds[0] + 4]);
  fds.forEach((fd) => assert.equal(close(fd), 0));
});

Deno.test("eventfd() returns -EINVAL for unknown flags and initval outside 0..2^32-1", () => {
  assert.equal(eventfd(0, 2), -EINVAL);
  assert.equal(eventfd(0, 0.5), -EINVAL);
  assert.equal(eventfd(-1, 0), -EINVAL);
  assert.equal(eventfd(2 ** 32, 0), -EINVAL);
  assert.equal(eventfd(1.5, 0), -EINVAL);
  assert.equal(eventfd(NaN, 0), -EINVAL);
  const fd = eventfd(2 ** 32 - 1, 0);
  assert.equal(readU64(fd), 0xffff_ffffn);
  close(fd);
  assert.throws(() => eventfd("1" as unknown as number, 0), TypeError);
  assert.throws(() => eventfd(0, undefined as unknown as number), TypeError);
});

Deno.test("eventfd() read takes the whole counter and leaves it at zero", () => {
  const fd = eventfd(3, 0);
  assert.equal(write(fd, u64(4n)), 8);
  assert.equal(readU64(fd), 7n);
  assert.equal(readU64(fd), -EAGAIN);
  close(fd);
});

Deno.test("eventfd() with EFD_SEMAPHORE reads 1 at a time", () => {
  const fd = eventfd(2, EFD_SEMAPHORE);
  assert.equal(write(fd, u64(1n)), 8);
  assert.equal(readU64(fd), 1n);
  assert.equal(readU64(fd), 1n);
  assert.equal(readU64(fd), 1n);
  assert.equal(readU64(fd), -EAGAIN);
  close(fd);
});

Deno.test("eventfd() write adds up to 2^64-2, then -EAGAIN; 2^64-1 is -EINVAL", () => {
  const fd = eventfd(0, 0);
  assert.equal(write(fd, u64(0xffff_ffff_ffff_ffffn)), -EINVAL);
  assert.equal(write(fd, u64(MAX - 1n)), 8);
  assert.equal(write(fd, u64(2n)), -EAGAIN);
  assert.equal(write(fd, u64(1n)), 8);
  assert.equal(write(fd, u64(1n)), -EAGAIN);
  assert.equal(write(fd, u64(0n)), 8); // adding 0 always fits
  assert.equal(readU64(fd), MAX);
  close(fd);
});

Deno.test("eventfd() writes exactly 8 bytes and reads into 8 or more", () => {
  const fd = eventfd(1, 0);
  assert.equal(read(fd, new Uint8Array(7)), -EINVAL);
  assert.equal(write(fd, new Uint8Array(4)), -EINVAL);
  assert.equal(write(fd, new Uint8Array(0)), -EINVAL);
  // fs/eventfd.c (Linux 6.9+): a write of other than 8 bytes is -EINVAL; a read
  // takes any buffer of at least 8. Unaligned views are fine.
  assert.equal(write(fd, u64(5n, 16)), -EINVAL);
  assert.equal(write(fd, u64(5n, 8, 3)), 8);
  const big = new Uint8Array(19).subarray(3);
  assert.equal(read(fd, big), 8);
  assert.equal(new DataView(big.buffer, big.byteOffset).getBigUint64(0, true), 6n);
  close(fd);
});

Deno.test("eventfd() is EPOLLOUT below the maximum and EPOLLIN above zero", async () => {
  const fd = eventfd(0, 0);
  assert.equal(await readiness(fd), EPOLLOUT);
  write(fd, u64(1n));
  assert.equal(await readiness(fd), EPOLLIN | EPOLLOUT);
  write(fd, u64(MAX - 1n));
  assert.equal(await readiness(fd), EPOLLIN);
  readU64(fd);
  assert.equal(await readiness(fd), EPOLLOUT);
  close(fd);
});

Deno.test("eventfd() raises an EPOLLIN edge on every write", async () => {
  const fd = eventfd(0, 0);
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: "e" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(fd, u64(1n));
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(fd, u64(1n)); // still readable, but a new edge
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.deepEqual(events[0], { events: EPOLLIN, data: "e" });
  assert.equal(readU64(fd), 2n);
  [fd, epfd].forEach(close);
});

Deno.test("eventfd() read of a full counter raises an EPOLLOUT edge", async () => {
  const fd = eventfd(0, 0);
  write(fd, u64(MAX));
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLOUT | EPOLLET, data: "w" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  const pending = epollWait(epfd, events, 4, 1000);
  assert.equal(readU64(fd), MAX);
  assert.equal(await pending, 1);
  assert.deepEqual(events[0], { events: EPOLLOUT, data: "w" });
  [fd, epfd].forEach(close);
});

Deno.test("eventfd() write from another task wakes an epollWait", async () => {
  const fd = eventfd(0, 0);
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: "wake" });
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1);
  const writer = new Promise<void>((resolve) =>
    setTimeout(() => {
      write(fd, u64(9n));
      resolve();
    }, 2)
  );
  assert.equal(await pending, 1);
  await writer;
  assert.deepEqual(events[0], { events: EPOLLIN, data: "wake" });
  assert.equal(readU64(fd), 9n);
  [fd, epfd].forEach(close);
});
