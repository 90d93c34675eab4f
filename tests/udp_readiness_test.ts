/**
 * Readiness of UDP sockets, on the current backend: EPOLLIN while a
 * datagram is queued (an empty one too) and not after the last one is
 * taken, one edge per arrival for EPOLLET, EPOLLOUT while there is room,
 * and (native) the ICMP error of a connected socket as EPOLLERR, SO_ERROR
 * and ECONNREFUSED. On the native backend each step is also run on the
 * kernel's own sockets and epoll through FFI, and the masks must agree.
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  connect,
  EAGAIN,
  ECONNREFUSED,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  EPOLLWRBAND,
  EPOLLWRNORM,
  EV_ADD,
  EVFILT_READ,
  getsockopt,
  kqueue,
  recv,
  send,
  sendto,
  SO_ERROR,
  SOCK_DGRAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { openLibc } from "../net/native/libc.ts";
import { change, kev, next, poll } from "./_helpers.ts";
import { ALL_EVENTS, NATIVE, readiness, recvWithin, udpBound, waitFor } from "./_helpers.ts";
import { DATAGRAMS } from "./_helpers.ts";

const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

Deno.test(
  { name: "a fresh UDP socket is writable and not readable", ignore: !DATAGRAMS },
  async () => {
    const s = socket(AF_INET, SOCK_DGRAM, 0);
    try {
      assert.equal(await readiness(s), OUT);
    } finally {
      close(s);
    }
  },
);

Deno.test({
  name: "level-triggered EPOLLIN stays while datagrams are queued and falls with the last",
  ignore: !DATAGRAMS,
}, async () => {
  const a = udpBound(), b = udpBound();
  try {
    for (let i = 0; i < 3; i++) sendto(a.fd, new Uint8Array(i), 0, b.addr);
    const buf = new Uint8Array(8);
    // The first arrival; on the Deno backend the others follow a loop turn later.
    assert.equal(await recvWithin(b.fd, buf), 0);
    assert.equal((await waitFor(b.fd, EPOLLIN)) & EPOLLIN, EPOLLIN, "two are still queued");
    assert.equal(await recvWithin(b.fd, buf), 1);
    assert.equal((await waitFor(b.fd, EPOLLIN)) & EPOLLIN, EPOLLIN, "one is still queued");
    assert.equal(await recvWithin(b.fd, buf), 2);
    assert.equal(await readiness(b.fd), OUT, "none is queued");
  } finally {
    close(a.fd);
    close(b.fd);
  }
});

Deno.test(
  { name: "an empty datagram alone makes the socket readable", ignore: !DATAGRAMS },
  async () => {
    const a = udpBound(), b = udpBound();
    try {
      sendto(a.fd, new Uint8Array(0), 0, b.addr);
      assert.equal((await waitFor(b.fd, EPOLLIN)) & EPOLLIN, EPOLLIN);
      assert.equal(recv(b.fd, new Uint8Array(4), 0), 0);
      assert.equal(await readiness(b.fd), OUT);
    } finally {
      close(a.fd);
      close(b.fd);
    }
  },
);

Deno.test({
  name:
    "edge-triggered EPOLLIN fires again for each new datagram, even before the queue is drained",
  ignore: !DATAGRAMS,
}, async () => {
  const a = udpBound(), b = udpBound();
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, b.fd, { events: EPOLLIN | EPOLLET, data: 1 });
    const out: EpollEvent[] = [];
    sendto(a.fd, new Uint8Array([1]), 0, b.addr);
    assert.equal(await epollWait(ep, out, 4, 5000), 1);
    assert.equal(await epollWait(ep, out, 4, 0), 0, "no new edge");
    sendto(a.fd, new Uint8Array([2]), 0, b.addr);
    assert.equal(await epollWait(ep, out, 4, 5000), 1, "a second arrival is a new edge");
    assert.equal(out[0].events & EPOLLIN, EPOLLIN);
  } finally {
    [a.fd, b.fd, ep].forEach(close);
  }
});

Deno.test({
  name:
    "a connected UDP socket whose peer port is closed gets EPOLLERR, SO_ERROR and ECONNREFUSED (native: ICMP)",
  ignore: !NATIVE || !DATAGRAMS,
  async fn() {
    const gone = udpBound();
    const addr = gone.addr;
    close(gone.fd);
    const s = socket(AF_INET, SOCK_DGRAM, 0);
    try {
      assert.equal(connect(s, addr), 0);
      assert.equal(send(s, new Uint8Array([1]), 0), 1);
      assert.equal((await waitFor(s, EPOLLIN)) & EPOLLERR, EPOLLERR);
      assert.equal(getsockopt(s, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
      assert.equal(getsockopt(s, SOL_SOCKET, SO_ERROR), 0, "reading SO_ERROR clears it");
      assert.equal((await readiness(s)) & EPOLLERR, 0);
      // The next error is reported by the next call itself.
      assert.equal(send(s, new Uint8Array([2]), 0), 1);
      await waitFor(s, EPOLLIN);
      assert.equal(recv(s, new Uint8Array(4), 0), -ECONNREFUSED);
      assert.equal(recv(s, new Uint8Array(4), 0), -EAGAIN);
    } finally {
      close(s);
    }
  },
});

Deno.test({
  name:
    "kqueue: EVFILT_READ on a UDP socket fires for an empty datagram and its data is the next datagram's size",
  ignore: !DATAGRAMS,
  async fn() {
    const a = udpBound(), b = udpBound();
    const kq = kqueue();
    try {
      await change(kq, kev(b.fd, EVFILT_READ, EV_ADD));
      sendto(a.fd, new Uint8Array(0), 0, b.addr);
      sendto(a.fd, new Uint8Array(300), 0, b.addr);
      sendto(a.fd, new Uint8Array(20), 0, b.addr);
      let evs = await next(kq);
      assert.equal(evs[0].data, 0, "the empty datagram is next");
      assert.equal(recv(b.fd, new Uint8Array(1), 0), 0);
      await waitFor(b.fd, EPOLLIN);
      evs = await poll(kq);
      assert.equal(evs[0].data, 300, "the next datagram, not the bytes queued");
      assert.equal(recv(b.fd, new Uint8Array(1), 0), 1);
      await waitFor(b.fd, EPOLLIN);
      assert.equal((await poll(kq))[0].data, 20);
    } finally {
      [a.fd, b.fd, kq].forEach(close);
    }
  },
});

/** The kernel's own level for `kfd` through a private kernel epoll (LT), like `readiness`. */
function kernelLevel(kfd: number): number {
  const libc = openLibc();
  if (typeof libc === "string") throw new Error(libc);
  const ep = libc.epoll_create1(0);
  libc.epoll_ctl(ep, EPOLL_CTL_ADD, kfd, ALL_EVENTS, 1);
  const out: { events: number; data: number }[] = [];
  const n = libc.epoll_wait(ep, out, 1, 0);
  libc.close(ep);
  return n === 0 ? 0 : out[0].events;
}

Deno.test({
  name: "native UDP readiness agrees with the kernel's own epoll, step by step",
  ignore: !NATIVE || !DATAGRAMS,
  async fn() {
    const libc = openLibc();
    if (typeof libc === "string") throw new Error(libc);
    const a = udpBound(), b = udpBound();
    // The same on kernel sockets of our own.
    const ka = libc.socket(AF_INET, SOCK_DGRAM | 0o4000, 0);
    const kb = libc.socket(AF_INET, SOCK_DGRAM | 0o4000, 0);
    const kaddr = { family: AF_INET, address: "127.0.0.1", port: 0 } as SockAddr;
    libc.bind(kb, kaddr);
    libc.getsockname(kb, kaddr);
    const buf = new Uint8Array(16);
    try {
      const step = async (what: string) => {
        assert.equal(await readiness(b.fd), kernelLevel(kb), `receiver, ${what}`);
        assert.equal(await readiness(a.fd), kernelLevel(ka), `sender, ${what}`);
      };
      await step("before anything");
      for (const size of [5, 0, 7]) {
        assert.equal(sendto(a.fd, new Uint8Array(size), 0, b.addr), size);
        assert.equal(ffiSendto(libc, ka, new Uint8Array(size), kaddr), size);
        await step(`after a ${size}-byte datagram`);
      }
      for (let i = 0; i < 3; i++) {
        assert.equal(recv(b.fd, buf, 0), libc.recv(kb, buf, 0));
        await step(`after receive ${i + 1} of 3`);
      }
      assert.equal(recv(b.fd, buf, 0), libc.recv(kb, buf, 0));
      await step("after a receive of nothing");
    } finally {
      [a.fd, b.fd].forEach(close);
      libc.close(ka);
      libc.close(kb);
    }
  },
});

function ffiSendto(
  libc: Exclude<ReturnType<typeof openLibc>, string>,
  kfd: number,
  buf: Uint8Array,
  to: SockAddr,
): number {
  const name = new Uint8Array(128);
  const view = new DataView(name.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, (to as { port: number }).port, false);
  name.set([127, 0, 0, 1], 4);
  return libc.sendto(kfd, buf, 0, name, 16);
}
