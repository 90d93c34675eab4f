/**
 * TCP close: unsent bytes still go out (then FIN), and a connection shared
 * by `dup`'d fds lives until the last one closes.
 */

import assert from "node:assert/strict";
import { close, dup, EAGAIN, EBADF, EPOLLERR, EPOLLHUP, EPOLLRDHUP, read, write } from "../mod.ts";
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
} from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("close() with unsent bytes still delivers them, then EOF", async () => {
  using pair = await acceptedPair();
  const { fd, peer } = pair;
  const data = pattern(100_000, 3);
  let off = 0;
  while (off < data.length) {
    const w = write(fd, data.subarray(off));
    if (w === -EAGAIN) break;
    assert.ok(w > 0, `write: ${w}`);
    off += w;
  }
  assert.ok(off > 0);
  assert.equal(pair.closeFd(), 0);
  assertBytes(await readAll(peer), data.subarray(0, off));
});

for (const order of ["original first", "dup first"] as const) {
  Deno.test(`dup'd socket closed ${order}: the connection lives until the last fd`, async () => {
    const server = Deno.listen({ hostname: LOOPBACK, port: 0 });
    /** The fds this test still has to close. */
    const open = new Set<number>();
    let peer: Deno.Conn | undefined;
    try {
      const cfd = await connectLoopback(server.addr.port);
      open.add(cfd);
      peer = await server.accept();
      const copy = dup(cfd);
      assert.ok(copy >= 0);
      open.add(copy);
      const [first, last] = order === "original first" ? [cfd, copy] : [copy, cfd];
      open.delete(first);
      assert.equal(close(first), 0);
      assert.equal(read(first, new Uint8Array(1)), -EBADF);
      // Still connected through `last`, both ways.
      await libWriteAll(last, enc.encode("still here"));
      assert.equal(dec.decode(await readExactly(peer, 10)), "still here");
      await peer.write(enc.encode("pong"));
      assert.equal(dec.decode(await libReadExactly(last, 4)), "pong");
      assert.equal((await readiness(last)) & (EPOLLHUP | EPOLLERR | EPOLLRDHUP), 0);
      // Unsent bytes still go out on the last close, then FIN.
      assert.equal(write(last, enc.encode("bye")), 3);
      open.delete(last);
      assert.equal(close(last), 0);
      assert.equal(dec.decode(await readAll(peer)), "bye");
    } finally {
      open.forEach((fd) => close(fd));
      peer?.close();
      server.close();
    }
  });
}
