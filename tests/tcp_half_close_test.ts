/**
 * TCP half-close: our `SHUT_WR` while the peer keeps sending, the peer's
 * FIN while we keep sending, and `SHUT_RD`.
 */

import assert from "node:assert/strict";
import {
  close,
  EPIPE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  read,
  SHUT_RD,
  SHUT_WR,
  shutdown,
  write,
} from "../mod.ts";
import {
  acceptedPair,
  assertBytes,
  connectLoopback,
  libReadExactly,
  libWriteAll,
  LOOPBACK,
  pattern,
  readAll,
  readExactly,
  readiness,
  TCP_IN,
  TCP_OUT,
  waitFor,
  writeAllDeno,
} from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Bytes sent after a FIN in the other direction. */
const MIB = 1 << 20;

Deno.test("shutdown(SHUT_WR) half-closes: the peer reads EOF and can still send", async () => {
  const server = Deno.listen({ hostname: LOOPBACK, port: 0 });
  let cfd = -1;
  let peer: Deno.Conn | undefined;
  try {
    cfd = await connectLoopback(server.addr.port);
    peer = await server.accept();
    await libWriteAll(cfd, enc.encode("request"));
    assert.equal(shutdown(cfd, SHUT_WR), 0);
    // Our write side is shut: EPOLLOUT stays up, writes fail with EPIPE.
    assert.equal(write(cfd, enc.encode("more")), -EPIPE);
    assert.equal(await readiness(cfd), TCP_OUT);
    assert.equal(dec.decode(await readAll(peer)), "request");
    // The other direction still flows: 1 MiB from the peer, verified.
    const data = pattern(MIB, 5);
    const sending = writeAllDeno(peer, data).then(() => peer!.closeWrite());
    const got = await libReadExactly(cfd, MIB);
    await sending;
    assertBytes(got, data);
    // Peer FIN after ours: both directions done.
    assert.equal(await waitFor(cfd, EPOLLRDHUP), EPOLLRDHUP | EPOLLHUP);
    assert.equal(read(cfd, new Uint8Array(8)), 0);
    assert.equal(await readiness(cfd), TCP_IN | TCP_OUT | EPOLLRDHUP | EPOLLHUP);
  } finally {
    if (cfd >= 0) close(cfd);
    peer?.close();
    server.close();
  }
});

Deno.test("the peer's closeWrite() gives EPOLLRDHUP and read 0, and we can still send", async () => {
  using pair = await acceptedPair();
  const { fd: sfd, peer } = pair;
  await peer.write(enc.encode("request"));
  await peer.closeWrite();
  assert.equal(dec.decode(await libReadExactly(sfd, 7)), "request");
  assert.equal(await waitFor(sfd, EPOLLRDHUP), EPOLLRDHUP);
  assert.equal(read(sfd, new Uint8Array(8)), 0);
  assert.equal(read(sfd, new Uint8Array(8)), 0);
  assert.equal(await readiness(sfd), TCP_IN | TCP_OUT | EPOLLRDHUP);
  // We still send 1 MiB after the peer's FIN, then our FIN.
  const data = pattern(MIB, 6);
  const receiving = readAll(peer);
  await libWriteAll(sfd, data);
  assert.equal(shutdown(sfd, SHUT_WR), 0);
  assertBytes(await receiving, data);
  assert.equal(await readiness(sfd), TCP_IN | TCP_OUT | EPOLLRDHUP | EPOLLHUP);
});

Deno.test("shutdown(SHUT_RD) keeps received bytes readable, then read gives 0 and EPOLLRDHUP", async () => {
  using pair = await acceptedPair();
  const { fd, peer } = pair;
  await peer.write(enc.encode("kept"));
  await waitFor(fd, EPOLLIN);
  assert.equal(shutdown(fd, SHUT_RD), 0);
  assert.equal(
    await waitFor(fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT),
    EPOLLIN | EPOLLRDHUP | EPOLLOUT,
  );
  const buf = new Uint8Array(16);
  assert.equal(read(fd, buf), 4);
  assert.equal(dec.decode(buf.subarray(0, 4)), "kept");
  assert.equal(read(fd, buf), 0, "then end of stream instead of EAGAIN");
  await libWriteAll(fd, enc.encode("still sending"));
  assert.equal(dec.decode(await readExactly(peer, 13)), "still sending");
});
