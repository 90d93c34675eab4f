/**
 * Bad input to the socket calls: every call with bad, closed and wrong-kind
 * descriptors, out-of-range and non-integer numbers, unknown flags, levels
 * and options, bad addresses, and wrong JavaScript types. Each row gives the
 * Linux errno (checked against the kernel with Python's socket module where
 * C can express the input) or a TypeError. Throughout, an in-process echo
 * server built on the library keeps serving a live connection, verified
 * after every row. The rows are in `tests/_bad_socket_input.ts`.
 */
import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  bind,
  close,
  connect,
  EADDRINUSE,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  eventfd,
  getsockname,
  getsockopt,
  listen,
  pipe,
  read,
  SO_ERROR,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type SockAddr,
  socket,
  socketpair,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import { NATIVE } from "./_helpers.ts";
import { fdRows, type Fixtures, LO, ROWS, v4 } from "./_bad_socket_input.ts";

/** An in-process echo server on the library (level-triggered, one epoll). */
class EchoServer {
  readonly lfd: number;
  readonly port: number;
  #ep = epollCreate1(0);
  #stop = false;
  #conns = new Set<number>();
  #done: Promise<void>;

  constructor() {
    this.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert.equal(bind(this.lfd, { family: AF_INET, address: LO, port: 0 }), 0);
    assert.equal(listen(this.lfd, 64), 0);
    const a = {} as SockAddr;
    getsockname(this.lfd, a);
    this.port = (a as { port: number }).port;
    epollCtl(this.#ep, EPOLL_CTL_ADD, this.lfd, { events: EPOLLIN, data: -1 });
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    const ev: EpollEvent[] = [];
    const buf = new Uint8Array(65536);
    const pending = new Map<number, Uint8Array>();
    while (!this.#stop) {
      const n = await epollWait(this.#ep, ev, 64, 20);
      for (let i = 0; i < n; i++) {
        const fd = ev[i].data as number;
        if (fd === -1) {
          for (let c = accept(this.lfd); c >= 0; c = accept(this.lfd)) {
            this.#conns.add(c);
            epollCtl(this.#ep, EPOLL_CTL_ADD, c, { events: EPOLLIN, data: c });
          }
          continue;
        }
        let out = pending.get(fd);
        if (out === undefined) {
          const r = read(fd, buf);
          if (r === -EAGAIN) continue;
          if (r <= 0) {
            this.#conns.delete(fd);
            close(fd);
            continue;
          }
          out = buf.slice(0, r);
        }
        const w = write(fd, out);
        if (w === out.length) {
          if (pending.delete(fd)) {
            epollCtl(this.#ep, EPOLL_CTL_MOD, fd, { events: EPOLLIN, data: fd });
          }
        } else if (w >= 0 || w === -EAGAIN) {
          if (!pending.has(fd)) {
            epollCtl(this.#ep, EPOLL_CTL_MOD, fd, { events: EPOLLOUT, data: fd });
          }
          pending.set(fd, out.subarray(Math.max(w, 0)));
        } else {
          this.#conns.delete(fd);
          close(fd);
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
    for (const fd of this.#conns) close(fd);
    close(this.#ep);
    close(this.lfd);
  }
}

/** Sends a random message over the live connection and checks the echo. */
async function verifyEcho(conn: Deno.Conn, round: number): Promise<void> {
  const msg = new Uint8Array(1 + (round * 7919) % 4096);
  crypto.getRandomValues(msg);
  for (let sent = 0; sent < msg.length;) sent += await conn.write(msg.subarray(sent));
  const got = new Uint8Array(msg.length);
  for (let n = 0; n < got.length;) {
    const r = await conn.read(got.subarray(n));
    assert.notEqual(r, null, "echo server closed the connection");
    n += r!;
  }
  assert.deepEqual(got, msg, `echo after row ${round}`);
}

Deno.test("bad input to the socket calls: Linux errnos, TypeErrors, the echo server unharmed", async (t) => {
  const server = new EchoServer();
  const live = await Deno.connect({ hostname: LO, port: server.port });
  const opened: number[] = [];
  const keep = (fd: number) => {
    assert.ok(fd >= 0, `fixture: ${fd}`);
    opened.push(fd);
    return fd;
  };
  try {
    await verifyEcho(live, 0);
    const p: number[] = [];
    assert.equal(pipe(p), 0);
    p.forEach(keep);
    const sv: number[] = [];
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sv.forEach(keep);
    const listening = keep(socket(AF_INET, SOCK_STREAM, 0));
    assert.equal(bind(listening, v4()), 0);
    assert.equal(listen(listening, 8), 0);
    const connected = keep(socket(AF_INET, SOCK_STREAM, 0));
    assert.equal(connect(connected, v4(server.port)), -EINPROGRESS);
    {
      const ep = epollCreate1(0);
      epollCtl(ep, EPOLL_CTL_ADD, connected, { events: EPOLLOUT, data: 0 });
      assert.equal(await epollWait(ep, [], 1, 3000), 1);
      close(ep);
      assert.equal(getsockopt(connected, SOL_SOCKET, SO_ERROR), 0);
    }
    const f: Fixtures = {
      closed() {
        const fd = socket(AF_INET, SOCK_STREAM, 0);
        close(fd);
        return fd;
      },
      pipeR: p[0],
      efd: keep(eventfd(0, 0)),
      epfd: keep(epollCreate1(0)),
      inet: -1,
      inet6: keep(socket(AF_INET6, SOCK_STREAM, 0)),
      unix: keep(socket(AF_UNIX, SOCK_STREAM, 0)),
      listening,
      connected,
      pair: sv[0],
      busyPort: server.port,
    };
    const rows = [...fdRows(f), ...ROWS];
    let round = 0;
    for (const [name, call, expect] of rows) {
      await t.step(name, async () => {
        // A fresh unconnected AF_INET socket for every row (rows may bind it).
        f.inet = socket(AF_INET, SOCK_STREAM, 0);
        try {
          if (expect === TypeError) assert.throws(() => call(f), TypeError);
          else assert.equal(call(f), expect);
        } finally {
          close(f.inet);
        }
        await verifyEcho(live, ++round);
      });
    }
    // The connected fixture still works after all of that: round trip through the server.
    const msg = new TextEncoder().encode("after the table");
    assert.equal(write(connected, msg), msg.length);
    const got = new Uint8Array(msg.length);
    const ep = epollCreate1(0);
    epollCtl(ep, EPOLL_CTL_ADD, connected, { events: EPOLLIN, data: 0 });
    for (let n = 0; n < got.length;) {
      const r = read(connected, got.subarray(n));
      if (r === -EAGAIN) assert.equal(await epollWait(ep, [], 1, 3000), 1);
      else n += r;
    }
    close(ep);
    assert.deepEqual(got, msg);
    // And a port in use is still refused.
    const s = socket(AF_INET, SOCK_STREAM, 0);
    // Linux's bind reserves the port; the Deno backend takes it at listen.
    assert.equal(bind(s, v4(server.port)), NATIVE ? -EADDRINUSE : 0);
    if (!NATIVE) assert.equal(listen(s, 4), -EADDRINUSE);
    close(s);
  } finally {
    opened.forEach((fd) => close(fd));
    live.close();
    await server.stop();
  }
});
