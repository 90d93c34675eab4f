/**
 * `DatagramSocket`, the object over a datagram socket: bind, connect,
 * sendTo and receiveFrom (null for would-block), the batch forms, `using`,
 * and ErrnoError for failures, on the current backend (the pair on memory).
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  DatagramSocket,
  EBADF,
  EDESTADDRREQ,
  EPOLLIN,
  ErrnoError,
  type RecvMessage,
} from "../mod.ts";
import { DATAGRAMS, errno, LOOPBACK, waitFor } from "./_helpers.ts";

const loopback = { family: AF_INET, address: LOOPBACK, port: 0 } as const;

Deno.test({
  name:
    "DatagramSocket: sendTo and receiveFrom carry a datagram and its sender; null when none is queued",
  ignore: !DATAGRAMS,
}, async () => {
  using a = DatagramSocket.bind(loopback);
  using b = DatagramSocket.bind(loopback);
  const buf = new Uint8Array(4);
  assert.equal(b.receiveFrom(buf), null);
  assert.equal(a.sendTo(new Uint8Array([1, 2, 3, 4, 5, 6]), b.localAddr), 6);
  await waitFor(b.fd, EPOLLIN);
  const got = b.receiveFrom(buf)!;
  assert.deepEqual(got, { length: 4, from: a.localAddr, truncated: true });
  assert.equal(b.receiveFrom(buf), null);
});

Deno.test({
  name: "DatagramSocket: connect sets the destination and disconnect dissolves it",
  ignore: !DATAGRAMS,
}, async () => {
  using a = DatagramSocket.bind(loopback);
  using b = DatagramSocket.bind(loopback);
  a.connect(b.localAddr);
  assert.deepEqual(a.remoteAddr, b.localAddr);
  assert.equal(a.sendTo(new Uint8Array([9])), 1);
  await waitFor(b.fd, EPOLLIN);
  assert.equal(b.receiveFrom(new Uint8Array(4))!.length, 1);
  a.disconnect();
  assert.throws(() => a.sendTo(new Uint8Array(1)), errno(EDESTADDRREQ));
});

Deno.test({
  name: "DatagramSocket: sendBatch and receiveBatch move several datagrams per call",
  ignore: !DATAGRAMS,
}, async () => {
  using a = DatagramSocket.bind(loopback);
  using b = DatagramSocket.bind(loopback);
  const to = b.localAddr;
  assert.equal(a.sendBatch([1, 2, 3].map((n) => ({ buf: new Uint8Array(n), addr: to }))), 3);
  const slots: RecvMessage[] = [0, 1, 2, 3].map(() => ({ buf: new Uint8Array(8) }));
  let got = 0;
  while (got < 3) {
    const n = b.receiveBatch(slots.slice(got));
    if (n === null) await waitFor(b.fd, EPOLLIN);
    else got += n;
  }
  assert.equal(b.receiveBatch(slots), null);
});

Deno.test("DatagramSocket.pair: in-memory ends; close makes every call EBADF, and using closes", () => {
  const [x, y] = DatagramSocket.pair();
  {
    using _y = y;
    assert.equal(x.sendTo(new Uint8Array([1])), 1);
    assert.equal(y.receiveFrom(new Uint8Array(2))!.length, 1);
  }
  assert.throws(() => y.sendTo(new Uint8Array(1)), errno(EBADF));
  x.close();
  x.close();
  assert.throws(
    () => x.receiveFrom(new Uint8Array(1)),
    (e) => e instanceof ErrnoError && e.errno === EBADF,
  );
});
