// A kernel's shutdown (runtime/core/kernel.ts) tears down exactly that kernel:
// its waits stop, its fds close (sockets as close() would) and its timers go.

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  AF_INET,
  bind,
  CLOCK_MONOTONIC,
  close,
  EBADF,
  EMFILE,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLIN,
  epollWait,
  eventfd,
  getsockname,
  type InetSockAddr,
  Kernel,
  listen,
  pipe,
  read,
  SOCK_STREAM,
  socket,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { connectLoopback, LOOPBACK, ManualClock, settled, turn } from "./_helpers.ts";

Deno.test("shutdown tears down exactly one kernel: its waits stop, its fds close, its timers go", async () => {
  const clock = new ManualClock();
  const dead = new Kernel({ name: "dead", clock });
  const alive = new Kernel({ name: "alive" });
  try {
    const [deadWait, deadFds] = dead.run(() => {
      const epfd = epollCreate1(0);
      const fds: number[] = [];
      pipe(fds);
      epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "pipe" });
      const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
      timerfdSettime(tfd, 0, { value: { sec: 60, nsec: 0 }, interval: { sec: 0, nsec: 0 } });
      return [epollWait(epfd, [], 1, 10_000), [epfd, ...fds, tfd]] as const;
    });
    const [aliveWait, aliveFds] = alive.run(() => {
      const epfd = epollCreate1(0);
      const fds: number[] = [];
      pipe(fds);
      epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "pipe" });
      return [epollWait(epfd, [], 1, 10_000), [epfd, ...fds]] as const;
    });
    await turn();
    assert.equal(dead.pendingWaits, 1);
    assert.equal(dead.openDescriptors, 4);
    assert.equal(clock.alarms.size, 1, "one alarm: the earliest of the wait and the timerfd");

    dead.shutdown();
    assert.equal(dead.isShutdown, true);
    assert.equal(dead.pendingWaits, 0);
    assert.equal(dead.openDescriptors, 0);
    assert.equal(clock.alarms.size, 0, "its timers are cancelled");
    await clock.advance(120_000); // past every deadline it had
    assert.equal(await settled(deadWait), false, "a killed program's wait never returns");
    // Its fd numbers are gone, and it makes no new ones.
    for (const fd of deadFds) assert.equal(dead.run(() => close(fd)), -EBADF);
    assert.equal(dead.run(() => eventfd(0, 0)), -EMFILE);
    assert.equal(await dead.run(() => epollWait(deadFds[0], [], 1, 0)), -EBADF);
    dead.shutdown(); // idempotent

    // The other kernel is untouched: its wait still ends when its pipe is written.
    assert.equal(alive.openDescriptors, 3);
    assert.equal(alive.run(() => write(aliveFds[2], new Uint8Array([1]))), 1);
    assert.equal(await aliveWait, 1);
    assert.throws(() => Kernel.default.shutdown(), Error);
  } finally {
    alive.shutdown();
  }
});

Deno.test("shutdown closes sockets as close() would: the peer in another kernel reads EOF", async () => {
  const server = new Kernel({ name: "server" });
  try {
    const [lfd, port] = server.run(() => {
      const fd = socket(AF_INET, SOCK_STREAM, 0);
      assert.equal(bind(fd, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
      assert.equal(listen(fd, 8), 0);
      const at = {} as InetSockAddr;
      getsockname(fd, at);
      return [fd, at.port];
    });
    assert.equal(lfd, 0);
    const client = await connectLoopback(port); // in the default kernel
    try {
      const conn = await server.run(async () => {
        const epfd = epollCreate1(0);
        epollCtl(epfd, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: lfd });
        assert.equal(await epollWait(epfd, [], 1, 5000), 1);
        const c = mod.accept(lfd);
        assert.ok(c >= 0);
        return c;
      });
      assert.equal(server.run(() => write(conn, new TextEncoder().encode("hi"))), 2);
      server.shutdown();
      const epfd = epollCreate1(0);
      epollCtl(epfd, EPOLL_CTL_ADD, client, { events: EPOLLIN, data: client });
      const buf = new Uint8Array(16);
      let got = "";
      for (;;) {
        assert.equal(await epollWait(epfd, [], 1, 5000), 1, "the peer heard the close");
        const n = read(client, buf);
        if (n === 0) break; // FIN after the bytes written before the shutdown
        if (n > 0) got += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.equal(got, "hi");
      close(epfd);
    } finally {
      close(client);
    }
  } finally {
    server.shutdown();
  }
});
