/**
 * TCP socket options: buffer sizes as Linux reports them, `TCP_NODELAY` and
 * `SO_KEEPALIVE` inherited by accepted sockets, `SO_REUSEPORT` sharing a
 * port.
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  EADDRINUSE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  getsockname,
  getsockopt,
  IPPROTO_TCP,
  listen,
  setsockopt,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../mod.ts";
import {
  acceptedPair,
  libWriteAll,
  listenLoopback,
  LOOPBACK,
  NATIVE,
  readExactly,
  waitFor,
} from "./_helpers.ts";

Deno.test("SO_SNDBUF and SO_RCVBUF on a connected socket read back doubled, as Linux does", async () => {
  using pair = await acceptedPair();
  const { fd } = pair;
  assert.equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, 16384), 0);
  assert.equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF), 32768);
  assert.equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 16384), 0);
  assert.equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF), 32768);
});

Deno.test("TCP_NODELAY and SO_KEEPALIVE are inherited by accepted sockets and can be changed", async () => {
  const { fd: listener, port } = listenLoopback();
  let peer: Deno.Conn | undefined;
  let fd = -1;
  try {
    assert.equal(setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert.equal(setsockopt(listener, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    peer = await Deno.connect({ hostname: LOOPBACK, port });
    await waitFor(listener, EPOLLIN);
    fd = accept(listener);
    assert.ok(fd >= 0);
    assert.equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert.equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert.equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 0), 0);
    assert.equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
    await libWriteAll(fd, new Uint8Array([1, 2]));
    assert.deepEqual(await readExactly(peer, 2), new Uint8Array([1, 2]));
  } finally {
    peer?.close();
    if (fd >= 0) close(fd);
    close(listener);
  }
});

Deno.test("SO_REUSEPORT lets two listening sockets share a port; without it listen() gives EADDRINUSE", async () => {
  const a = socket(AF_INET, SOCK_STREAM, 0);
  const b = socket(AF_INET, SOCK_STREAM, 0);
  const c = socket(AF_INET, SOCK_STREAM, 0);
  const clients: Deno.Conn[] = [];
  try {
    for (const fd of [a, b]) assert.equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1), 0);
    assert.equal(getsockopt(a, SOL_SOCKET, SO_REUSEPORT), 1);
    assert.equal(bind(a, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
    assert.equal(listen(a, 16), 0);
    const addr = {} as SockAddr;
    assert.equal(getsockname(a, addr), 0);
    assert.ok(addr.family === AF_INET);
    assert.equal(bind(b, addr), 0);
    assert.equal(listen(b, 16), 0, "the second reusePort listener shares the port");
    // Linux's bind reserves the port; the Deno backend takes it at listen.
    assert.equal(bind(c, addr), NATIVE ? -EADDRINUSE : 0);
    if (!NATIVE) assert.equal(listen(c, 16), -EADDRINUSE);
    // The kernel spreads connections over both listeners; each one accepts.
    for (let i = 0; i < 16; i++) {
      clients.push(await Deno.connect({ hostname: LOOPBACK, port: addr.port }));
    }
    const ep = epollCreate1(0);
    try {
      for (const fd of [a, b]) epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd });
      const ev: EpollEvent[] = [];
      let accepted = 0;
      while (accepted < 16) {
        const n = await epollWait(ep, ev, 2, 5000);
        assert.ok(n > 0, `${accepted} of 16 accepted, then nothing`);
        for (let i = 0; i < n; i++) {
          const fd = ev[i].data as number;
          for (let conn = accept(fd); conn >= 0; conn = accept(fd)) {
            accepted++;
            close(conn);
          }
        }
      }
    } finally {
      close(ep);
    }
  } finally {
    clients.forEach((conn) => conn.close());
    [a, b, c].forEach(close);
  }
});
