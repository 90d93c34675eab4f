/**
 * TCP backpressure: a peer that does not read stops our writes with
 * `-EAGAIN` after a bounded amount, and edge-triggered `EPOLLOUT` fires once
 * it drains.
 */

import assert from "node:assert/strict";
import {
  close,
  EAGAIN,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  type EpollEvent,
  EPOLLOUT,
  epollWait,
  EV_ADD,
  EVFILT_READ,
  getsockopt,
  kqueue,
  read,
  setsockopt,
  SHUT_WR,
  shutdown,
  SO_RCVBUF,
  SO_SNDBUF,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import {
  acceptedPair,
  assertBytes,
  change,
  kev,
  libReadExactly,
  libWriteAll,
  NATIVE,
  pattern,
  poll,
  readAll,
  readiness,
  sleep,
  writeAllDeno,
} from "./_helpers.ts";

/** The kernel's largest TCP send and receive buffers (`tcp_wmem[2]`, `tcp_rmem[2]`). */
function kernelBufferMax(): number {
  return ["tcp_wmem", "tcp_rmem"]
    .map((f) => Number(Deno.readTextFileSync(`/proc/sys/net/ipv4/${f}`).trim().split(/\s+/)[2]))
    .reduce((a, b) => a + b);
}

Deno.test("slow reader: -EAGAIN after a bounded amount, EPOLLOUT once the peer drains", async () => {
  using pair = await acceptedPair();
  const { fd: sfd, peer } = pair;
  const sndbuf = getsockopt(sfd, SOL_SOCKET, SO_SNDBUF);
  assert.ok(sndbuf > 0);
  // Userspace holds at most SO_SNDBUF; the rest sits in the kernel's socket
  // buffers (ours and the peer's). More than that accepted: unbounded.
  const bound = sndbuf + kernelBufferMax();
  const data = pattern(bound + 65536, 7);
  // Write until the library and the kernel are both full (several -EAGAIN in a row).
  let sent = 0;
  let eagain = 0;
  while (eagain < 3) {
    assert.ok(sent <= bound, `accepted ${sent} bytes, more than ${bound}`);
    const w = write(sfd, data.subarray(sent, sent + 65536 * 4));
    if (w === -EAGAIN) {
      eagain++;
      await sleep(30);
      continue;
    }
    assert.ok(w > 0, `write: ${w}`);
    assert.ok(w <= sndbuf, `one write took ${w} bytes, more than SO_SNDBUF ${sndbuf}`);
    eagain = 0;
    sent += w;
  }
  assert.ok(sent > sndbuf, `only ${sent} bytes accepted`);
  assert.equal(read(sfd, new Uint8Array(8)), -EAGAIN, "nothing came the other way");
  assert.equal((await readiness(sfd)) & EPOLLOUT, 0);
  // Edge-triggered EPOLLOUT fires once the peer drains.
  const ep = epollCreate1(0);
  try {
    epollCtl(ep, EPOLL_CTL_ADD, sfd, { events: EPOLLOUT | EPOLLET, data: "out" });
    const ev: EpollEvent[] = [];
    assert.equal(await epollWait(ep, ev, 1, 0), 0, "send buffer full: not writable");
    const waiting = epollWait(ep, ev, 1, 10000);
    const received = readAll(peer);
    assert.equal(await waiting, 1);
    assert.deepEqual(ev[0], { events: EPOLLOUT, data: "out" });
    // Finish: a last chunk, our FIN, and every byte checked at the peer.
    await libWriteAll(sfd, data.subarray(sent, sent + 1000));
    sent += 1000;
    assert.equal(shutdown(sfd, SHUT_WR), 0);
    assertBytes(await received, data.subarray(0, sent));
  } finally {
    close(ep);
  }
});

Deno.test("a receive buffer filled on purpose: once the program drains it, reading restarts and every byte arrives", async () => {
  using pair = await acceptedPair();
  const { fd, peer } = pair;
  assert.equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 4096), 0);
  const rcvbuf = getsockopt(fd, SOL_SOCKET, SO_RCVBUF);
  const TOTAL = 64 * 1024; // far more than the buffer: the sender is held back
  const data = pattern(TOTAL, 3);
  const writing = writeAllDeno(peer, data);
  writing.catch(() => {}); // a failure surfaces at the await below
  const kq = kqueue();
  try {
    // Wait until the buffer is full (EVFILT_READ's data: the bytes queued).
    // The Deno backend then stops reading from Deno until the program reads.
    assert.equal(await change(kq, kev(fd, EVFILT_READ, EV_ADD)), 0);
    let queued = 0;
    for (let i = 0; i < 500 && (queued === 0 || (!NATIVE && queued < rcvbuf)); i++) {
      queued = (await poll(kq))[0]?.data ?? 0;
      if (queued === 0 || (!NATIVE && queued < rcvbuf)) await sleep(10);
    }
    if (!NATIVE) assert.equal(queued, rcvbuf, "the receive buffer filled to SO_RCVBUF");
    assert.ok(queued > 0, "nothing arrived");
    // Drain it to EAGAIN: the full buffer is now empty.
    const got = new Uint8Array(TOTAL);
    let at = 0;
    for (let n; (n = read(fd, got.subarray(at))) !== -EAGAIN;) {
      assert.ok(n > 0, `read gave ${n}`);
      at += n;
    }
    assert.ok(at >= queued);
    // The rest arrives only if reading was restarted by that drain.
    got.set(await libReadExactly(fd, TOTAL - at, 20_000), at);
    await writing;
    assertBytes(got, data, "every byte, in order");
  } finally {
    close(kq);
  }
});
