/**
 * The emulated datagram sockets' FIFO and receive copy
 * (net/_datagram_queue.ts): order, storage that stays bounded while the
 * queue never empties, and recv(2)'s truncation rules.
 */

import assert from "node:assert/strict";
import { DatagramQueue, deliver } from "../net/_datagram_queue.ts";
import { MSG_TRUNC, type RecvMessage } from "../mod.ts";

Deno.test("DatagramQueue keeps order and its storage bounded while it never empties", () => {
  const q = new DatagramQueue<{ bytes: Uint8Array; n: number }>();
  q.push({ bytes: new Uint8Array(0), n: 0 });
  for (let i = 1; i <= 100_000; i++) {
    q.push({ bytes: new Uint8Array(0), n: i });
    assert.equal(q.shift()!.n, i - 1);
    assert.equal(q.length, 1);
  }
  assert.ok(q.slots <= 2048, `storage grew to ${q.slots} slots for 1 datagram`);
  assert.equal(q.first!.n, 100_000);
  q.clear();
  assert.equal(q.shift(), undefined);
});

Deno.test("deliver copies what fits, returns the real length with MSG_TRUNC, and marks a cut datagram", () => {
  const msg: RecvMessage = { buf: new Uint8Array(2) };
  assert.equal(deliver(new Uint8Array([1, 2, 3]), msg.buf, 0, msg), 2);
  assert.deepEqual([msg.length, msg.flags, ...msg.buf], [2, MSG_TRUNC, 1, 2]);
  assert.equal(deliver(new Uint8Array([4, 5, 6]), msg.buf, MSG_TRUNC, msg), 3);
  assert.equal(deliver(new Uint8Array([7]), msg.buf, MSG_TRUNC, msg), 1);
  assert.deepEqual([msg.length, msg.flags, msg.buf[0]], [1, 0, 7]);
  assert.equal(deliver(new Uint8Array(0), new Uint8Array(4), 0, null), 0);
});
