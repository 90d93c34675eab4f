/**
 * TCP listen and accept: a connect burst far over the backlog, accept at the
 * descriptor limit, and listening on a port in use.
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  connect,
  dup,
  EADDRINUSE,
  EAGAIN,
  EINPROGRESS,
  EINVAL,
  EMFILE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  epollWait,
  getDescriptorLimit,
  getpeername,
  getsockname,
  getsockopt,
  listen,
  pipe,
  setDescriptorLimit,
  SO_ACCEPTCONN,
  SO_ERROR,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import {
  libReadExactly,
  libWriteAll,
  listenLoopback,
  LOOPBACK,
  NATIVE,
  readExactly,
  waitFor,
} from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("burst: 300 connects against backlog 16 are all accepted", async () => {
  const N = 300;
  /** Consecutive 10 ms waits without any connect or accept before the test gives up. */
  const IDLE_WAITS = 1000;
  const { fd: lfd, port } = listenLoopback(16);
  const ep = epollCreate1(0);
  const clients: number[] = [];
  const accepted: number[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  try {
    epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: -1 });
    // Connects go out 30 per turn of the loop (each turn overflows the
    // backlog): issued all in one turn, the kernel completes 17 handshakes
    // before the server runs at all and drops the other SYNs, whose 1 s, 3 s,
    // 7 s ... retransmissions then collide in waves of 17 (tens of seconds).
    const connectSome = () => {
      for (let k = 0; k < 30 && clients.length < N; k++) {
        const fd = socket(AF_INET, SOCK_STREAM, 0);
        clients.push(fd);
        assert.equal(connect(fd, { family: AF_INET, address: LOOPBACK, port }), -EINPROGRESS);
        epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT | EPOLLONESHOT, data: fd });
      }
    };
    let connected = 0;
    let idle = 0;
    const ev: EpollEvent[] = [];
    while (connected < N || accepted.length < N) {
      assert.ok(idle < IDLE_WAITS, `stalled: ${connected} connected, ${accepted.length} accepted`);
      connectSome();
      const n = await epollWait(ep, ev, 64, 10);
      idle = n > 0 ? 0 : idle + 1;
      for (let i = 0; i < n; i++) {
        if (ev[i].data === -1) {
          for (let fd = accept(lfd); fd >= 0; fd = accept(lfd)) accepted.push(fd);
        } else {
          const fd = ev[i].data as number;
          assert.equal(ev[i].events, EPOLLOUT);
          assert.equal(getsockopt(fd, SOL_SOCKET, SO_ERROR), 0);
          // Then send, spread over a second. With the accept queue full the
          // kernel answers the SYN burst with syncookies and drops the final
          // ACKs: an idle client would stay half-open on the server side
          // forever; its data (retransmitted) completes the handshake. Sent
          // all at once, the retransmissions collide in waves and back off
          // exponentially (2 s to 30 s for 300 clients).
          timers.push(setTimeout(() => {
            assert.equal(write(fd, Uint8Array.of(fd >> 8, fd & 255)), 2);
          }, connected * 3));
          connected++;
        }
      }
    }
    assert.equal(accept(lfd), -EAGAIN);
    // Each accepted connection is one of ours: peer ports match client ports.
    const ports = (fds: number[], get: typeof getsockname) =>
      fds.map((fd) => {
        const a = {} as SockAddr;
        assert.equal(get(fd, a), 0);
        return a.family === AF_INET ? a.port : -1;
      }).sort();
    assert.deepEqual(ports(accepted, getpeername), ports(clients, getsockname));
    // Every accepted connection carries the bytes its client sent.
    const byPort = new Map(clients.map((fd) => {
      const a = {} as SockAddr;
      getsockname(fd, a);
      return [(a as { port: number }).port, fd];
    }));
    for (const fd of accepted) {
      const a = {} as SockAddr;
      getpeername(fd, a);
      const client = byPort.get((a as { port: number }).port)!;
      assert.deepEqual(await libReadExactly(fd, 2), Uint8Array.of(client >> 8, client & 255));
    }
  } finally {
    timers.forEach((t) => clearTimeout(t));
    [...clients, ...accepted, ep, lfd].forEach((fd) => close(fd));
  }
});

Deno.test("descriptor exhaustion: accept gives -EMFILE, the connection stays queued", async () => {
  const before = getDescriptorLimit();
  const { fd: lfd, port } = listenLoopback();
  const spare: number[] = [];
  let peer: Deno.Conn | undefined;
  let sfd = -1;
  try {
    assert.equal(pipe(spare), 0);
    peer = await Deno.connect({ hostname: LOOPBACK, port });
    await peer.write(enc.encode("queued"));
    assert.equal(await waitFor(lfd, EPOLLIN), EPOLLIN); // before the limit: waitFor needs an fd
    const ep = epollCreate1(0);
    try {
      epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: "l" });
      // The lowest free fd is above every open one: a limit just above them.
      const probe = dup(lfd);
      close(probe);
      assert.equal(setDescriptorLimit(probe), 0);
      assert.equal(accept(lfd), -EMFILE);
      assert.equal(accept(lfd), -EMFILE);
      assert.equal(dup(lfd), -EMFILE);
      assert.equal(socket(AF_INET, SOCK_STREAM, 0), -EMFILE);
      // Still pending (level-triggered), not lost.
      const ev: EpollEvent[] = [];
      assert.equal(await epollWait(ep, ev, 4, 0), 1);
      assert.deepEqual(ev[0], { events: EPOLLIN, data: "l" });
      // Free one fd: accept takes exactly that number, with the queued bytes.
      const freed = spare.pop()!;
      close(freed);
      sfd = accept(lfd);
      assert.equal(sfd, freed);
      // Linux reserves the fd before looking at the queue (EMFILE); the Deno backend
      // looks first.
      assert.equal(accept(lfd), NATIVE ? -EMFILE : -EAGAIN);
    } finally {
      close(ep);
      assert.equal(setDescriptorLimit(before), 0);
    }
    assert.equal(dec.decode(await libReadExactly(sfd, 6)), "queued");
    await libWriteAll(sfd, enc.encode("served"));
    assert.equal(dec.decode(await readExactly(peer, 6)), "served");
  } finally {
    if (sfd >= 0) close(sfd);
    spare.forEach((fd) => close(fd));
    close(lfd);
    peer?.close();
  }
});

Deno.test("listen on a port in use: -EADDRINUSE", () => {
  const holder = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const { fd: lfd, port } = listenLoopback();
  const fds: number[] = [];
  try {
    for (const p of [holder.addr.port, port]) {
      const fd = socket(AF_INET, SOCK_STREAM, 0);
      fds.push(fd);
      // Linux's bind reserves the port; the Deno backend takes it at listen.
      const b = bind(fd, { family: AF_INET, address: LOOPBACK, port: p });
      assert.equal(b, NATIVE ? -EADDRINUSE : 0);
      if (!NATIVE) assert.equal(listen(fd, 16), -EADDRINUSE);
      assert.equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
      assert.equal(accept(fd), -EINVAL, "not listening");
    }
  } finally {
    fds.forEach((fd) => close(fd));
    close(lfd);
    holder.close();
  }
});
