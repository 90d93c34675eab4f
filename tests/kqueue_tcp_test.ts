/**
 * kqueue over real loopback TCP sockets: the listen backlog in data, bytes
 * to read in data, EV_EOF after the peer closes, WRITE silent on listening
 * and unconnected sockets, and the send-buffer room.
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  close,
  ECONNRESET,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_EOF,
  EVFILT_READ,
  EVFILT_WRITE,
  type KEvent,
  kqueue,
  read,
  SOCK_STREAM,
  socket,
  write,
} from "../mod.ts";
import { closeQuietly, listenLoopback, readExactly, withPeerReset } from "./_helpers.ts";
import { change, kev, next, poll } from "./_helpers.ts";

/** Waits until the kqueue reports an event matching `pred`; returns it. */
async function until(kq: number, pred: (e: KEvent) => boolean): Promise<KEvent> {
  for (;;) {
    const hit = (await next(kq)).find(pred);
    if (hit) return hit;
  }
}

Deno.test("a listening socket's READ data is the count of pending connections", async () => {
  const kq = kqueue();
  const { fd: lfd, addr } = listenLoopback();
  const conns: Deno.Conn[] = [];
  try {
    await change(kq, kev(lfd, EVFILT_READ, EV_ADD, 0, 0, "listen"), kev(lfd, EVFILT_WRITE, EV_ADD));
    for (let i = 0; i < 3; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
    }
    const ev = await until(kq, (e) => e.data >= 3);
    assert.equal(ev.filter, EVFILT_READ, "WRITE is silent on a listening socket");
    assert.equal(ev.data, 3);
    const c = accept(lfd);
    assert.ok(c >= 0);
    close(c);
    assert.deepEqual((await poll(kq)).map((e) => e.data), [2]);
  } finally {
    conns.forEach((c) => c.close());
    close(lfd);
    close(kq);
  }
});

Deno.test("WRITE is silent on an unconnected TCP socket", async () => {
  const kq = kqueue();
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  try {
    assert.equal(await change(kq, kev(fd, EVFILT_WRITE, EV_ADD), kev(fd, EVFILT_READ, EV_ADD)), 0);
    assert.deepEqual(await poll(kq), []);
  } finally {
    close(fd);
    close(kq);
  }
});

/**
 * Runs `body` with a kqueue and a library socket accepted (through that
 * kqueue) from a Deno peer; closes everything afterwards.
 */
async function withKqConnection(
  body: (kq: number, fd: number, peer: Deno.Conn) => Promise<void>,
): Promise<void> {
  const kq = kqueue();
  const { fd: lfd, addr } = listenLoopback();
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
  let fd = -1;
  try {
    await change(kq, kev(lfd, EVFILT_READ, EV_ADD));
    await until(kq, () => true);
    fd = accept(lfd);
    assert.ok(fd >= 0);
    await change(kq, kev(lfd, EVFILT_READ, EV_DELETE));
    await body(kq, fd, peer);
  } finally {
    closeQuietly(peer);
    if (fd >= 0) close(fd);
    close(lfd);
    close(kq);
  }
}

Deno.test("a TCP socket's READ data is the bytes to read; EV_EOF once the peer closes", async () => {
  await withKqConnection(async (kq, fd, peer) => {
    await change(kq, kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, "c"));
    await peer.write(new TextEncoder().encode("hello"));
    const ev = await until(kq, (e) => e.data >= 5);
    assert.equal(ev.data, 5);
    assert.equal(ev.flags & EV_EOF, 0);
    peer.close();
    const eof = await until(kq, (e) => (e.flags & EV_EOF) !== 0);
    assert.equal(eof.data, 5, "the unread bytes are still there");
    assert.equal(eof.fflags, 0, "an orderly close carries no error");
    const buf = new Uint8Array(16);
    assert.equal(read(fd, buf), 5);
    assert.equal(read(fd, buf), 0);
  });
});

Deno.test("a connected TCP socket's WRITE data is the send-buffer room, and bytes written arrive", async () => {
  await withKqConnection(async (kq, fd, peer) => {
    await change(kq, kev(fd, EVFILT_WRITE, EV_ADD | EV_CLEAR));
    const [ev] = await poll(kq);
    assert.equal(ev.filter, EVFILT_WRITE);
    assert.ok(ev.data > 0);
    assert.equal(write(fd, new TextEncoder().encode("pong")), 4);
    assert.equal(new TextDecoder().decode(await readExactly(peer, 4)), "pong");
  });
});

Deno.test("a TCP reset shows as EV_EOF with ECONNRESET in fflags on both filters", async () => {
  const kq = kqueue();
  try {
    await withPeerReset(async (fd) => {
      await change(
        kq,
        kev(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, "r"),
        kev(fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, "w"),
      );
      const seen = new Map<unknown, KEvent>();
      while (seen.size < 2) {
        for (const e of await next(kq)) {
          if (e.flags & EV_EOF) seen.set(e.udata, { ...e });
        }
      }
      assert.equal(seen.get("r")!.fflags, ECONNRESET);
      assert.equal(seen.get("w")!.fflags, ECONNRESET);
      assert.equal(seen.get("r")!.data, 0, "nothing left to read");
    });
  } finally {
    close(kq);
  }
});
