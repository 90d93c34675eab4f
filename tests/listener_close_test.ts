/**
 * Closing a listening socket stops it accepting at once: a connect right
 * after `close` is refused, as on Linux (issue 9, item 8). Deno itself keeps
 * a listener with an accept in flight open until its event loop turns; the
 * raw-Deno tests below pin that down, the library tests show what the
 * library makes of it (net/deno/_listen_channel.ts).
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  connect,
  ECONNREFUSED,
  EINPROGRESS,
  EPOLLOUT,
  getsockopt,
  SO_ERROR,
  SOCK_STREAM,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { listenLoopback, waitFor } from "./_helpers.ts";

/** How a Deno.connect to `port` ends: "refused", "reset" or "open". */
async function denoConnectOutcome(port: number): Promise<string> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return "refused";
    if (err instanceof Deno.errors.ConnectionReset) return "reset";
    throw err;
  }
  try {
    // The handshake completed: the closing listener resets it, or it is live.
    const n = await conn.read(new Uint8Array(1)).catch((err) => {
      if (err instanceof Deno.errors.ConnectionReset) return "reset";
      throw err;
    });
    return n === "reset" || n === null ? "reset" : "open";
  } finally {
    conn.close();
  }
}

Deno.test("raw Deno: a listener closed with an accept in flight still completes handshakes until the loop turns", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const accepting = l.accept().then(() => "accepted", (err) => err.name);
  l.close();
  // Issued before the event loop turns: Deno has not dropped the socket yet.
  // If this assertion ever fails, Deno closes at once and the library's
  // wait in connect (listenersClosed) can go.
  assert.equal(await denoConnectOutcome(port), "reset");
  assert.equal(await accepting, "BadResource");
});

Deno.test("raw Deno: once the cancelled accept has settled, the port is refused", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const accepting = l.accept().then(() => "accepted", (err) => err.name);
  l.close();
  assert.equal(await accepting, "BadResource");
  assert.equal(await denoConnectOutcome(port), "refused");
});

Deno.test("a connect right after closing a listening socket fails with ECONNREFUSED", async () => {
  for (let round = 0; round < 5; round++) {
    const { fd: lfd, addr } = listenLoopback();
    const fd = socket(AF_INET, SOCK_STREAM, 0);
    try {
      assert.equal(close(lfd), 0);
      assert.equal(
        connect(fd, { family: AF_INET, address: "127.0.0.1", port: addr.port }),
        -EINPROGRESS,
      );
      await waitFor(fd, EPOLLOUT);
      assert.equal(getsockopt(fd, SOL_SOCKET, SO_ERROR), ECONNREFUSED, `round ${round}`);
    } finally {
      close(fd);
    }
  }
});
