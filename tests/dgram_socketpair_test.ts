/**
 * In-memory datagram socketpairs (`socketpair(AF_UNIX, SOCK_DGRAM)`), each
 * behaviour as Linux's af_unix gives it (the differential test compares
 * generated programs with the kernel; these name the rules one by one).
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  AF_UNSPEC,
  close,
  connect,
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EMSGSIZE,
  ENOTCONN,
  EPIPE,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
  EV_ADD,
  EVFILT_READ,
  EVFILT_WRITE,
  getsockopt,
  kqueue,
  MSG_PEEK,
  MSG_TRUNC,
  read,
  recv,
  recvfrom,
  send,
  SHUT_RD,
  SHUT_WR,
  shutdown,
  SO_ERROR,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_DGRAM,
  type SockAddr,
  socketpair,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import { truesize } from "../net/pair/dgram_socketpair.ts";
import { change, kev, poll, readiness } from "./_helpers.ts";

const IN = EPOLLIN | EPOLLRDNORM;
const OUT = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

function pair(): [number, number] {
  const sv: number[] = [];
  assert.equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  return [sv[0], sv[1]];
}

Deno.test("a datagram socketpair keeps message boundaries both ways", () => {
  const [a, b] = pair();
  try {
    assert.equal(getsockopt(a, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    assert.equal(send(a, new Uint8Array([1, 1]), 0), 2);
    assert.equal(send(a, new Uint8Array([2, 2, 2]), 0), 3);
    assert.equal(write(b, new Uint8Array([9])), 1);
    const buf = new Uint8Array(16);
    assert.equal(read(b, buf), 2);
    assert.equal(read(b, buf), 3);
    assert.equal(read(b, buf), -EAGAIN);
    const from = {} as SockAddr;
    assert.equal(recvfrom(a, buf, 0, from), 1);
    assert.deepEqual(from, { family: AF_UNIX, path: "" });
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("a short buffer cuts the datagram; MSG_TRUNC returns its length; MSG_PEEK keeps it", () => {
  const [a, b] = pair();
  try {
    send(a, new Uint8Array(100).fill(5), 0);
    send(a, new Uint8Array(100).fill(6), 0);
    const buf = new Uint8Array(10);
    assert.equal(recv(b, buf, MSG_PEEK), 10);
    assert.equal(recv(b, buf, MSG_PEEK | MSG_TRUNC), 100);
    assert.equal(recv(b, buf, 0), 10);
    assert.equal(buf[0], 5);
    assert.equal(recv(b, buf, MSG_TRUNC), 100);
    assert.equal(buf[0], 6);
    assert.equal(recv(b, buf, 0), -EAGAIN);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("an empty datagram is readable and reads as 0; a read of nothing takes no datagram, a recv does", async () => {
  const [a, b] = pair();
  try {
    assert.equal(send(a, new Uint8Array(0), 0), 0);
    assert.equal(await readiness(b), IN | OUT);
    assert.equal(read(b, new Uint8Array(0)), 0); // sock_read_iter: nothing asked, nothing taken
    assert.equal(await readiness(b), IN | OUT);
    assert.equal(recv(b, new Uint8Array(0), 0), 0);
    assert.equal(await readiness(b), OUT);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("the writer's send buffer bounds the pair: EAGAIN at the kernel's truesize charge, EPOLLOUT at a quarter", async () => {
  const [a, b] = pair();
  try {
    const sndbuf = getsockopt(a, SOL_SOCKET, SO_SNDBUF);
    let sent = 0, charge = 0;
    while (send(a, new Uint8Array(1000), 0) === 1000) {
      sent++;
      charge += truesize(1000);
    }
    assert.equal(send(a, new Uint8Array(1000), 0), -EAGAIN);
    assert.ok(
      charge >= sndbuf && charge - truesize(1000) < sndbuf,
      "the last send began below SO_SNDBUF",
    );
    assert.equal(sent, Math.ceil(sndbuf / truesize(1000)));
    assert.equal((await readiness(a)) & EPOLLOUT, 0);
    // EPOLLOUT comes back once the charge is at most a quarter of SO_SNDBUF.
    const buf = new Uint8Array(1000);
    let read = 0;
    while ((await readiness(a) & EPOLLOUT) === 0) {
      assert.equal(recv(b, buf, 0), 1000);
      read++;
    }
    assert.ok((sent - read + 1) * truesize(1000) + 2 > sndbuf / 4);
    assert.ok(((sent - read) * truesize(1000) + 1) * 4 <= sndbuf);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("a datagram over SO_SNDBUF - 32 bytes is EMSGSIZE", () => {
  const [a, b] = pair();
  try {
    const sndbuf = getsockopt(a, SOL_SOCKET, SO_SNDBUF);
    assert.equal(send(a, new Uint8Array(sndbuf - 31), 0), -EMSGSIZE);
    assert.equal(send(a, new Uint8Array(sndbuf - 32), 0), sndbuf - 32);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("after the peer closes: its datagrams are still read, then EAGAIN (no EOF); the first send is ECONNREFUSED, then ENOTCONN", async () => {
  const [a, b] = pair();
  try {
    send(b, new Uint8Array([7]), 0);
    close(b);
    assert.equal(await readiness(a), IN | OUT, "nothing reported for the close");
    assert.equal(recv(a, new Uint8Array(4), 0), 1);
    assert.equal(recv(a, new Uint8Array(4), 0), -EAGAIN);
    assert.equal(send(a, new Uint8Array(1), 0), -ECONNREFUSED);
    assert.equal(send(a, new Uint8Array(1), 0), -ENOTCONN);
    assert.equal(await readiness(a), OUT);
  } finally {
    close(a);
  }
});

Deno.test("the first send after the peer closed drops what the survivor had not read", () => {
  const [a, b] = pair();
  try {
    send(b, new Uint8Array([1]), 0);
    close(b);
    assert.equal(send(a, new Uint8Array(1), 0), -ECONNREFUSED);
    assert.equal(recv(a, new Uint8Array(4), 0), -EAGAIN);
  } finally {
    close(a);
  }
});

Deno.test("shutdown marks only this end: SHUT_WR makes sends EPIPE; SHUT_RD gives EPOLLRDHUP and the peer's sends EPIPE, reads stay EAGAIN", async () => {
  const [a, b] = pair();
  try {
    assert.equal(shutdown(a, SHUT_WR), 0);
    assert.equal(send(a, new Uint8Array(1), 0), -EPIPE);
    assert.equal(send(b, new Uint8Array(1), 0), 1, "the peer is not shut");
    assert.equal(recv(a, new Uint8Array(4), 0), 1);
    assert.equal(shutdown(a, SHUT_RD), 0);
    assert.equal(await readiness(a), IN | EPOLLRDHUP | EPOLLHUP | OUT);
    assert.equal(recv(a, new Uint8Array(4), 0), -EAGAIN);
    assert.equal(send(b, new Uint8Array(1), 0), -EPIPE);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("connect(AF_UNSPEC) forgets the peer; with datagrams queued it drops them and resets the peer (ECONNRESET)", async () => {
  const [a, b] = pair();
  try {
    send(b, new Uint8Array(1), 0);
    assert.equal(connect(a, { family: AF_UNSPEC }), 0);
    assert.equal(recv(a, new Uint8Array(4), 0), -EAGAIN);
    assert.equal(send(a, new Uint8Array(1), 0), -ENOTCONN);
    assert.equal((await readiness(b)) & EPOLLERR, EPOLLERR);
    assert.equal(getsockopt(b, SOL_SOCKET, SO_ERROR), ECONNRESET);
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("kqueue: EVFILT_READ data is the next datagram's size, and an empty datagram fires it too", async () => {
  const [a, b] = pair();
  const kq = kqueue();
  try {
    await change(kq, kev(b, EVFILT_READ, EV_ADD));
    send(a, new Uint8Array(0), 0);
    send(a, new Uint8Array(300), 0);
    let evs = await poll(kq);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].data, 0, "the empty datagram is next");
    recv(b, new Uint8Array(1), 0);
    evs = await poll(kq);
    assert.equal(evs[0].data, 300, "not the 300 + 0 bytes queued");
    recv(b, new Uint8Array(1), 0);
    assert.equal((await poll(kq)).length, 0);
    await change(kq, kev(a, EVFILT_WRITE, EV_ADD));
    evs = await poll(kq);
    assert.equal(
      evs[0].data,
      getsockopt(a, SOL_SOCKET, SO_SNDBUF),
      "EVFILT_WRITE: send-buffer room",
    );
  } finally {
    [a, b, kq].forEach(close);
  }
});
