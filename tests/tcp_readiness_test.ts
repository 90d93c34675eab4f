/**
 * TCP readiness as epoll sees it whatever the order of `EPOLL_CTL_ADD` and
 * the event: a socket added before `listen`, a connection pending before
 * ADD, bytes that arrived before ADD (level- and edge-triggered).
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  EAGAIN,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  epollWait,
  getsockname,
  getsockopt,
  listen,
  read,
  SO_ACCEPTCONN,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { acceptedPair, listenLoopback, LOOPBACK, waitFor } from "./_helpers.ts";

Deno.test("socket added to epoll before listen() wakes the waiter when a client connects", async () => {
  const ep = epollCreate1(0);
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  const events: EpollEvent[] = [];
  let client: Deno.Conn | undefined;
  let conn = -1;
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: "listener" }), 0);
    // A never-connected socket reports EPOLLHUP, as Linux does.
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(events[0].events, EPOLLHUP);
    assert.equal(bind(fd, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
    assert.equal(listen(fd, 16), 0);
    assert.equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert.equal(await epollWait(ep, events, 4, 0), 0, "listening and idle: no event");
    const addr = {} as SockAddr;
    assert.equal(getsockname(fd, addr), 0);
    assert.ok(addr.family === AF_INET);
    const waiting = epollWait(ep, events, 4, 5000);
    client = await Deno.connect({ hostname: LOOPBACK, port: addr.port });
    assert.equal(await waiting, 1);
    assert.deepEqual(events[0], { events: EPOLLIN, data: "listener" });
    conn = accept(fd);
    assert.ok(conn >= 0);
    assert.equal(accept(fd), -EAGAIN);
  } finally {
    client?.close();
    if (conn >= 0) close(conn);
    close(fd);
    close(ep);
  }
});

Deno.test("bytes the peer sent before EPOLL_CTL_ADD are reported at once, LT and ET", async () => {
  using pair = await acceptedPair();
  const { fd, peer } = pair;
  const ep = epollCreate1(0);
  try {
    await peer.write(new TextEncoder().encode("early"));
    await waitFor(fd, EPOLLIN); // the bytes are in the receive buffer now
    const events: EpollEvent[] = [];
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLET, data: "et" }), 0);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.deepEqual(events[0], { events: EPOLLIN, data: "et" });
    assert.equal(
      await epollWait(ep, events, 4, 0),
      0,
      "ET: no second report without a new arrival",
    );
    // MOD to level-triggered re-reports the standing readiness, every time.
    assert.equal(epollCtl(ep, EPOLL_CTL_MOD, fd, { events: EPOLLIN, data: "lt" }), 0);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.deepEqual(events[0], { events: EPOLLIN, data: "lt" });
    const buf = new Uint8Array(16);
    assert.equal(read(fd, buf), 5);
    assert.equal(read(fd, buf), -EAGAIN);
    assert.equal(await epollWait(ep, events, 4, 0), 0);
  } finally {
    close(ep);
  }
});

Deno.test("a connection pending before EPOLL_CTL_ADD is reported at once, edge-triggered", async () => {
  const { fd: listener, port } = listenLoopback();
  const ep = epollCreate1(0);
  let client: Deno.Conn | undefined;
  let conn = -1;
  try {
    client = await Deno.connect({ hostname: LOOPBACK, port });
    await waitFor(listener, EPOLLIN);
    assert.equal(
      epollCtl(ep, EPOLL_CTL_ADD, listener, { events: EPOLLIN | EPOLLET, data: 1 }),
      0,
    );
    const events: EpollEvent[] = [];
    assert.equal(await epollWait(ep, events, 4, 0), 1);
    assert.equal(events[0].events, EPOLLIN);
    conn = accept(listener);
    assert.ok(conn >= 0);
  } finally {
    client?.close();
    if (conn >= 0) close(conn);
    close(listener);
    close(ep);
  }
});
