/**
 * The native backend answers as the kernel does, where its cached readiness
 * or its held socket error could drift from it (issue 16):
 * - level-triggered readiness is the kernel's level at every harvest: after
 *   an accept that took the last pending connection, a read that emptied the
 *   receive queue exactly, and writes taken whole that filled the send
 *   buffer, a level-triggered interest reports what `poll(2)` on the same
 *   kernel socket reports, no more (the edge-triggered path keeps its
 *   cached mask and pays no system call);
 * - a read after the peer's FIN returns 0 even when kqueue took the socket
 *   error to report it in `fflags`, as a kernel socket's read does.
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  close,
  EAGAIN,
  ECONNRESET,
  EPIPE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  EV_ADD,
  EV_CLEAR,
  EV_EOF,
  EVFILT_READ,
  getSocketBackend,
  getsockopt,
  type KEvent,
  kqueue,
  read,
  setSocketBackend,
  SO_ERROR,
  SO_RCVBUF,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  socketBackendError,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import { descriptors } from "../runtime/core/fd_table.ts";
import { NativeSocket } from "../net/native/socket.ts";
import { type Libc, openLibc } from "../net/native/libc.ts";
import { change, kev, listenLoopback, LOOPBACK, next, poll, waitFor } from "./_helpers.ts";
import { withPeerReset } from "./_helpers.ts";

const why = socketBackendError();
const ignore = why !== null;
const skipped = ignore ? ` (skipped: ${why})` : "";

/** Runs `fn` with new sockets made by the native backend, then restores the backend. */
function native<T>(fn: () => T): T {
  const before = getSocketBackend();
  assert.equal(setSocketBackend("native"), 0);
  try {
    return fn();
  } finally {
    setSocketBackend(before);
  }
}

/** The kernel fd behind a library fd of the native backend. */
function kfdOf(fd: number): number {
  const d = descriptors.get(fd);
  assert.ok(d instanceof NativeSocket);
  return d.kernelFd;
}

/** What one epoll interest (`events`, LT unless EPOLLET is in it) reports now. */
async function harvest(ep: number): Promise<number> {
  const out: EpollEvent[] = [];
  const n = await epollWait(ep, out, 4, 0);
  assert.ok(n >= 0);
  return n === 0 ? 0 : out[0].events;
}

function watch(fd: number, events: number): number {
  const ep = epollCreate1(0);
  assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
  return ep;
}

/** A kernel client (libc) connected to 127.0.0.1:`port`, with `rcvbuf` when given. */
async function kernelClient(libc: Libc, port: number, rcvbuf?: number): Promise<number> {
  const c = libc.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert.ok(c >= 0);
  if (rcvbuf !== undefined) assert.equal(libc.setsockoptInt(c, SOL_SOCKET, SO_RCVBUF, rcvbuf), 0);
  libc.connect(c, { family: AF_INET, address: LOOPBACK, port });
  for (let i = 0; i < 500 && libc.poll1(c, EPOLLOUT, 0) === 0; i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  return c;
}

Deno.test({
  name: "native LT: a listener whose only pending connection was accepted reports nothing" +
    skipped,
  ignore,
  async fn() {
    const libc = openLibc() as Libc;
    const { fd: lfd, port } = native(() => listenLoopback());
    const lt = watch(lfd, EPOLLIN);
    const c = await kernelClient(libc, port);
    let fd = -1;
    try {
      assert.equal(await waitFor(lfd, EPOLLIN), EPOLLIN);
      assert.equal(await harvest(lt), EPOLLIN);
      fd = accept(lfd);
      assert.ok(fd >= 0);
      assert.equal(libc.poll1(kfdOf(lfd), EPOLLIN, 0), 0, "the kernel: nothing pending");
      assert.equal(await harvest(lt), 0);
    } finally {
      if (fd >= 0) close(fd);
      libc.close(c);
      close(lt);
      close(lfd);
    }
  },
});

Deno.test({
  name: "native LT: a read that takes exactly the bytes queued leaves the socket unreadable" +
    skipped,
  ignore,
  async fn() {
    const libc = openLibc() as Libc;
    const { fd: lfd, port } = native(() => listenLoopback());
    const c = await kernelClient(libc, port);
    const fd = accept((await waitFor(lfd, EPOLLIN), lfd));
    const lt = watch(fd, EPOLLIN);
    const et = watch(fd, EPOLLIN | EPOLLET);
    try {
      assert.equal(libc.write(c, new Uint8Array(100).fill(7)), 100);
      assert.equal(await waitFor(fd, EPOLLIN), EPOLLIN);
      assert.equal(await harvest(lt), EPOLLIN);
      assert.equal(await harvest(et), EPOLLIN);
      assert.equal(read(fd, new Uint8Array(100)), 100);
      assert.equal(libc.poll1(kfdOf(fd), EPOLLIN, 0), 0, "the kernel: queue empty");
      assert.equal(await harvest(lt), 0);
      assert.equal(await harvest(et), 0);
      // New bytes are a new edge for both.
      assert.equal(libc.write(c, new Uint8Array(10)), 10);
      assert.equal(await waitFor(fd, EPOLLIN), EPOLLIN);
      assert.equal(await harvest(lt), EPOLLIN);
      assert.equal(await harvest(et), EPOLLIN);
    } finally {
      libc.close(c);
      close(lt);
      close(et);
      close(fd);
      close(lfd);
    }
  },
});

Deno.test({
  name: "native LT: writes taken whole that fill the send buffer clear EPOLLOUT as the kernel " +
    "does" + skipped,
  ignore,
  async fn() {
    const libc = openLibc() as Libc;
    const { fd: lfd, port } = native(() => listenLoopback());
    // A small receive window at the peer, which never reads, and a small
    // send buffer here: the send queue fills after a few KiB.
    const c = await kernelClient(libc, port, 4096);
    const fd = accept((await waitFor(lfd, EPOLLIN), lfd));
    const lt = watch(fd, EPOLLOUT);
    try {
      const kfd = kfdOf(fd);
      assert.equal(libc.setsockoptInt(kfd, SOL_SOCKET, SO_SNDBUF, 4096), 0);
      const chunk = new Uint8Array(512);
      let wholeThenDown = 0;
      for (let i = 0; i < 10_000; i++) {
        const n = write(fd, chunk);
        if (n < 0) break; // EAGAIN: full
        const kernel = libc.poll1(kfd, EPOLLOUT, 0);
        assert.equal(await harvest(lt), kernel === 0 ? 0 : EPOLLOUT, `after write ${i} (${n})`);
        if (n === chunk.length && kernel === 0) wholeThenDown++;
        if (n < chunk.length) break;
      }
      // The case this test is for happened: a whole write left the socket unwritable.
      assert.ok(wholeThenDown > 0, "no whole write crossed the threshold");
    } finally {
      libc.close(c);
      close(lt);
      close(fd);
      close(lfd);
    }
  },
});

/**
 * The peer sends "x" and closes (a FIN); a reply to it is answered with a
 * RST. `kernel` runs the same on a kernel socket accepted with libc.
 */
async function finThenReset(
  libc: Libc,
  harvestFin: boolean,
): Promise<{ lib: number[]; kernel: number[]; fflags: number }> {
  const { fd: lfd, port } = native(() => listenLoopback());
  const kl = libc.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const kaddr = { family: AF_INET, address: LOOPBACK, port: 0 } as const;
  assert.equal(libc.bind(kl, { ...kaddr }), 0);
  assert.equal(libc.listen(kl, 4), 0);
  const kname = { ...kaddr };
  assert.equal(libc.getsockname(kl, kname), 0);
  const c1 = await kernelClient(libc, port);
  const c2 = await kernelClient(libc, kname.port);
  const fd = accept((await waitFor(lfd, EPOLLIN), lfd));
  const ks = libc.accept4(kl, SOCK_NONBLOCK | SOCK_CLOEXEC);
  const kq = kqueue();
  try {
    assert.ok(fd >= 0 && ks >= 0);
    await change(kq, kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, "r"));
    for (const c of [c1, c2]) {
      assert.equal(libc.write(c, new Uint8Array([0x78])), 1);
      assert.equal(libc.close(c), 0);
    }
    if (harvestFin) {
      // kqueue reports the FIN first (EV_EOF, no error), as a server sees it.
      while (!(await next(kq)).some((e) => (e.flags & EV_EOF) !== 0));
    } else {
      await new Promise((r) => setTimeout(r, 20)); // nobody polls meanwhile
    }
    const reply = new TextEncoder().encode("reply");
    assert.equal(write(fd, reply), 5);
    assert.equal(libc.send(ks, reply, 0x4000), 5);
    await new Promise((r) => setTimeout(r, 20)); // the RSTs come back
    let fflags = 0;
    for (let i = 0; i < 100 && fflags === 0; i++) {
      for (const e of await poll(kq)) if (e.flags & EV_EOF) fflags = e.fflags;
      if (fflags === 0) await new Promise((r) => setTimeout(r, 10));
    }
    const buf = new Uint8Array(16);
    const lib = [read(fd, buf), read(fd, buf), getsockopt(fd, SOL_SOCKET, SO_ERROR), read(fd, buf)];
    const kernel = [
      libc.read(ks, buf),
      libc.read(ks, buf),
      libc.getsockoptInt(ks, SOL_SOCKET, SO_ERROR),
      libc.read(ks, buf),
    ];
    return { lib, kernel, fflags };
  } finally {
    close(kq);
    close(fd);
    close(lfd);
    libc.close(ks);
    libc.close(kl);
  }
}

for (const harvestFin of [true, false]) {
  Deno.test({
    name: "native: a read after the peer's FIN returns 0 when kqueue reported the later RST's " +
      `error (${harvestFin ? "FIN seen first" : "FIN and RST seen together"})` + skipped,
    ignore,
    async fn() {
      const libc = openLibc() as Libc;
      const { lib, kernel, fflags } = await finThenReset(libc, harvestFin);
      assert.deepEqual(kernel, [1, 0, EPIPE, 0], "the kernel: bytes, 0, the error, 0");
      assert.equal(fflags, EPIPE, "kqueue reports the error in fflags");
      assert.deepEqual(lib, kernel);
    },
  });
}

Deno.test({
  name:
    "native: a read after a RST with no FIN before it returns ECONNRESET when kqueue reported " +
    "it" + skipped,
  ignore,
  async fn() {
    const kq = kqueue();
    try {
      await native(() =>
        withPeerReset(async (fd) => {
          await change(kq, kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, "r"));
          while (!(await next(kq)).some((e) => (e.flags & EV_EOF) !== 0));
          const buf = new Uint8Array(16);
          assert.deepEqual([read(fd, buf), read(fd, buf)], [-ECONNRESET, 0]);
        })
      );
    } finally {
      close(kq);
    }
  },
});

Deno.test({
  name: "native kqueue: bytes that arrive with the ACK that makes room still raise EV_CLEAR READ" +
    skipped,
  ignore,
  async fn() {
    // One driver edge can carry two kernel wake-ups: room to write (OUT
    // rose) and new bytes on a socket whose cached mask already had IN
    // (its earlier bytes unread). The readers must hear of the bytes: an
    // EV_CLEAR READ knote that has consumed its event has no other way to
    // learn of them (the kqueue echo server's backpressure stall).
    const libc = openLibc() as Libc;
    const { fd: lfd, port } = native(() => listenLoopback());
    const c = await kernelClient(libc, port, 4096);
    const fd = accept((await waitFor(lfd, EPOLLIN), lfd));
    const kq = kqueue();
    const buf = new Uint8Array(1 << 16);
    try {
      assert.ok(fd >= 0);
      await change(kq, kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, "r"));
      assert.equal(libc.write(c, new Uint8Array(10).fill(1)), 10);
      let got: KEvent[] = [];
      for (let i = 0; i < 100 && got.length === 0; i++) {
        got = await poll(kq);
        if (got.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(got.length, 1);
      assert.equal(got[0].data, 10); // left unread: the cached mask keeps IN
      // Fill the send side until the kernel refuses (OUT falls), and let every edge be taken.
      let full = false;
      for (let i = 0; i < 10_000 && !full; i++) {
        const n = write(fd, buf);
        if (n === -EAGAIN) full = true;
        else assert.ok(n > 0);
        if (full) {
          await new Promise((r) => setTimeout(r, 20));
          assert.deepEqual(await poll(kq), []);
          if (write(fd, buf) !== -EAGAIN) full = false;
        }
      }
      assert.ok(full, "the send buffer filled");
      // Nobody polls now: the peer drains (room: OUT rises) and sends 5 bytes.
      for (let i = 0; i < 200 && libc.poll1(kfdOf(fd), EPOLLOUT, 0) === 0; i++) {
        while (libc.read(c, buf) > 0);
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal(libc.poll1(kfdOf(fd), EPOLLOUT, 0), EPOLLOUT, "room again");
      assert.equal(libc.write(c, new Uint8Array(5).fill(2)), 5);
      await new Promise((r) => setTimeout(r, 20));
      got = await poll(kq);
      assert.equal(got.length, 1, "the new bytes raise the READ knote");
      assert.equal(got[0].data, 15);
    } finally {
      close(kq);
      close(fd);
      libc.close(c);
      close(lfd);
    }
  },
});
