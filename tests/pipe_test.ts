import assert from "node:assert/strict";
import {
  close,
  EAGAIN,
  EBADF,
  EPIPE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDNORM,
  epollWait,
  EPOLLWRNORM,
  pipe,
  read,
  write,
} from "../mod.ts";
import { readiness } from "./_helpers.ts";

function openPipe(): [number, number] {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  return [fds[0], fds[1]];
}

function fill(n: number, v = 0xab): Uint8Array {
  return new Uint8Array(n).fill(v);
}

Deno.test("pipe() returns 0 and two consecutive lowest fds", () => {
  const fds = [-1, -1];
  assert.equal(pipe(fds), 0);
  assert.equal(fds[1], fds[0] + 1);
  close(fds[0]);
  close(fds[1]);
  const again: number[] = [];
  pipe(again);
  assert.deepEqual(again, fds);
  again.forEach(close);
});

Deno.test("pipe() throws TypeError when fds is not an array", () => {
  assert.throws(() => pipe(null as unknown as number[]), TypeError);
});

Deno.test("pipe() carries bytes from the write end to the read end in order", () => {
  const [r, w] = openPipe();
  assert.equal(write(w, new Uint8Array([1, 2, 3])), 3);
  assert.equal(write(w, new Uint8Array([4, 5])), 2);
  const buf = new Uint8Array(4);
  assert.equal(read(r, buf), 4);
  assert.deepEqual([...buf], [1, 2, 3, 4]);
  assert.equal(read(r, buf), 1);
  assert.equal(buf[0], 5);
  assert.equal(read(r, buf), -EAGAIN);
  close(r);
  close(w);
});

Deno.test("pipe() ends return -EBADF for the wrong direction, as Linux", () => {
  const [r, w] = openPipe();
  assert.equal(write(r, new Uint8Array(1)), -EBADF);
  assert.equal(read(w, new Uint8Array(1)), -EBADF);
  close(r);
  close(w);
});

Deno.test("pipe() read of zero bytes returns 0", () => {
  const [r, w] = openPipe();
  assert.equal(read(r, new Uint8Array(0)), 0);
  assert.equal(write(w, new Uint8Array(0)), 0);
  close(r);
  close(w);
});

Deno.test("pipe() holds 64 KiB and then returns -EAGAIN", () => {
  const [r, w] = openPipe();
  assert.equal(write(w, fill(70_000)), 65_536);
  assert.equal(write(w, fill(1)), -EAGAIN);
  assert.equal(write(w, fill(10_000)), -EAGAIN);
  const buf = new Uint8Array(100_000);
  assert.equal(read(r, buf), 65_536);
  close(r);
  close(w);
});

Deno.test("pipe() writes up to PIPE_BUF are atomic, larger ones accept what fits", () => {
  const [r, w] = openPipe();
  assert.equal(write(w, fill(65_536 - 100)), 65_436);
  assert.equal(write(w, fill(200)), -EAGAIN); // <= 4096: all or nothing
  assert.equal(write(w, fill(4096)), -EAGAIN);
  assert.equal(write(w, fill(5000, 7)), 100); // > 4096: partial
  const buf = new Uint8Array(65_536);
  assert.equal(read(r, buf), 65_536);
  assert.equal(buf[65_435], 0xab);
  assert.equal(buf[65_436], 7);
  assert.equal(buf[65_535], 7);
  close(r);
  close(w);
});

Deno.test("pipe() read end is EPOLLIN while bytes are buffered", async () => {
  const [r, w] = openPipe();
  assert.equal(await readiness(r), 0);
  write(w, fill(3));
  assert.equal(await readiness(r), EPOLLIN | EPOLLRDNORM);
  read(r, new Uint8Array(3));
  assert.equal(await readiness(r), 0);
  close(r);
  close(w);
});

Deno.test("pipe() write end is EPOLLOUT while at least PIPE_BUF bytes are free", async () => {
  const [r, w] = openPipe();
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM);
  write(w, fill(65_536 - 4096));
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM);
  write(w, fill(1));
  assert.equal(await readiness(w), 0);
  read(r, new Uint8Array(1));
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM);
  close(r);
  close(w);
});

Deno.test("pipe() read end reports EPOLLHUP and reads the rest then 0 after the writer closes", async () => {
  const [r, w] = openPipe();
  write(w, new Uint8Array([9, 8]));
  close(w);
  assert.equal(await readiness(r), EPOLLIN | EPOLLRDNORM | EPOLLHUP);
  const buf = new Uint8Array(8);
  assert.equal(read(r, buf), 2);
  assert.deepEqual([...buf.subarray(0, 2)], [9, 8]);
  assert.equal(await readiness(r), EPOLLHUP);
  assert.equal(read(r, buf), 0);
  assert.equal(read(r, buf), 0);
  close(r);
});

Deno.test("pipe() write end reports EPOLLERR and write returns -EPIPE after the reader closes", async () => {
  const [r, w] = openPipe();
  write(w, fill(10));
  close(r);
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM | EPOLLERR);
  assert.equal(write(w, fill(1)), -EPIPE);
  assert.equal(write(w, new Uint8Array(0)), 0); // pipe_write: a null write succeeds first
  close(w);
});

Deno.test("pipe() raises an EPOLLIN edge on every write", async () => {
  const [r, w] = openPipe();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, r, { events: EPOLLIN | EPOLLET, data: "r" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(w, fill(1));
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.deepEqual(events[0], { events: EPOLLIN, data: "r" });
  assert.equal(await epollWait(epfd, events, 4, 0), 0);
  write(w, fill(1)); // not read in between: still a new edge
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  close(w); // the hang-up is an edge too
  assert.equal(await epollWait(epfd, events, 4, 0), 1);
  assert.equal(events[0].events, EPOLLIN | EPOLLHUP);
  [r, epfd].forEach(close);
});

Deno.test("pipe() read that frees PIPE_BUF bytes raises EPOLLOUT on a full writer", async () => {
  const [r, w] = openPipe();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, w, { events: EPOLLOUT | EPOLLET, data: "w" });
  const events: EpollEvent[] = [];
  assert.equal(await epollWait(epfd, events, 4, 0), 1); // writable at ADD
  assert.equal(write(w, fill(65_536)), 65_536);
  const pending = epollWait(epfd, events, 4, 1000);
  read(r, new Uint8Array(4096));
  assert.equal(await pending, 1);
  assert.deepEqual(events[0], { events: EPOLLOUT, data: "w" });
  [r, w, epfd].forEach(close);
});

Deno.test("pipe() reader in epollWait wakes when the writer closes", async () => {
  const [r, w] = openPipe();
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, r, { events: EPOLLIN, data: "r" });
  const events: EpollEvent[] = [];
  const pending = epollWait(epfd, events, 4, -1);
  close(w);
  assert.equal(await pending, 1);
  assert.deepEqual(events[0], { events: EPOLLHUP, data: "r" });
  [r, epfd].forEach(close);
});
