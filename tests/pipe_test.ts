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

Deno.test("pipe() writes up to PIPE_BUF are atomic, larger ones accept what fits page by page", () => {
  const [r, w] = openPipe();
  // fs/pipe.c: 16 page slots; 15 full pages and one of 3996 bytes.
  assert.equal(write(w, fill(65_536 - 100)), 65_436);
  assert.equal(write(w, fill(200)), -EAGAIN); // <= 4096: all or nothing
  assert.equal(write(w, fill(4096)), -EAGAIN);
  assert.equal(write(w, fill(100, 7)), 100); // merges into the last page
  assert.equal(write(w, fill(1)), -EAGAIN);
  const buf = new Uint8Array(65_536);
  assert.equal(read(r, buf), 65_536);
  assert.equal(buf[65_435], 0xab);
  assert.equal(buf[65_436], 7);
  assert.equal(buf[65_535], 7);
  // A write larger than a page takes one page per free slot.
  assert.equal(write(w, fill(15 * 4096)), 15 * 4096);
  assert.equal(write(w, fill(10_000)), 4096);
  assert.equal(read(r, buf), 65_536);
  close(r);
  close(w);
});

Deno.test("pipe() counts page slots: small writes merge into a page, page-sized ones do not", () => {
  const [r, w] = openPipe();
  // 40 writes of 100 bytes share one page; 640 such writes fill the 16 slots.
  let n = 0;
  while (write(w, fill(100)) === 100) n++;
  assert.equal(n, 640);
  assert.equal(read(r, new Uint8Array(100_000)), 64_000);
  // A 1-byte write then page-sized writes: the first page is not merged into.
  assert.equal(write(w, fill(1)), 1);
  for (let i = 0; i < 15; i++) assert.equal(write(w, fill(4096)), 4096);
  assert.equal(write(w, fill(4096)), -EAGAIN);
  assert.equal(write(w, fill(10)), -EAGAIN); // the last page is full: nothing merges
  assert.equal(read(r, new Uint8Array(1)), 1); // frees the first slot
  assert.equal(write(w, fill(10)), 10);
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

Deno.test("pipe() write end is EPOLLOUT while a page slot is free", async () => {
  const [r, w] = openPipe();
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM);
  write(w, fill(65_536 - 4096));
  assert.equal(await readiness(w), EPOLLOUT | EPOLLWRNORM);
  write(w, fill(1));
  assert.equal(await readiness(w), 0);
  // fs/pipe.c pipe_poll: writable when a slot is free, not when bytes are.
  read(r, new Uint8Array(1));
  assert.equal(await readiness(w), 0);
  read(r, new Uint8Array(4095));
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

Deno.test("pipe() a write to a full pipe that returns -EAGAIN still gives an edge-triggered reader EPOLLIN", async () => {
  const [r, w] = openPipe();
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, r, { events: EPOLLIN | EPOLLET, data: "r" }), 0);
    while (write(w, fill(4096)) > 0);
    const events: EpollEvent[] = [];
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(await epollWait(ep, events, 4, 0), 0);
    // fs/pipe.c pipe_write: "Epoll nonsensically wants a wakeup whether the
    // pipe was already empty or not", -EAGAIN included.
    assert.equal(write(w, fill(1)), -EAGAIN);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(events[0].events, EPOLLIN);
    // An empty write wakes nobody ("Null write succeeds" returns first).
    assert.equal(write(w, fill(0)), 0);
    assert.equal(await epollWait(ep, events, 4, 0), 0);
  } finally {
    [r, w, ep].forEach(close);
  }
});

Deno.test("pipe() a read wakes the writer only when it frees a slot of a full pipe", async () => {
  const [r, w] = openPipe();
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, w, { events: EPOLLOUT | EPOLLET, data: "w" }), 0);
    const events: EpollEvent[] = [];
    assert.equal(await epollWait(ep, events, 4, 0), 1); // ADD found it writable
    write(w, fill(8192));
    read(r, new Uint8Array(4096)); // frees a slot, but the pipe was not full
    assert.equal(await epollWait(ep, events, 4, 0), 0);
    while (write(w, fill(4096)) > 0);
    read(r, new Uint8Array(100)); // full, and no slot freed
    assert.equal(await epollWait(ep, events, 4, 0), 0);
    read(r, new Uint8Array(3996)); // frees the first slot
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(events[0].events, EPOLLOUT);
  } finally {
    [r, w, ep].forEach(close);
  }
});
