/**
 * examples/echo_server.ts over real loopback TCP (the server a subprocess,
 * the clients plain `Deno.connect`): many concurrent clients, and the idle
 * timeout.
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  closeQuietly,
  LOOPBACK as HOST,
  pattern,
  readExactly,
  writeAllDeno,
} from "./_helpers.ts";
import { RunningExample } from "./_examples.ts";

Deno.test("200 concurrent clients against examples/echo_server.ts get every byte back", async () => {
  const server = await RunningExample.start("echo_server.ts", ["--port", "0"], ["-A"]);
  const port = server.port;
  try {
    const clients = Array.from({ length: 200 }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const data = pattern(20_000 + i * 97, i + 1);
        const echoed = readExactly(conn, data.length);
        for (let off = 0; off < data.length; off += 4096) {
          await conn.write(data.subarray(off, Math.min(off + 4096, data.length)));
        }
        assertBytes(await echoed, data, `client ${i}`);
      } finally {
        conn.close();
      }
    });
    await Promise.all(clients);
  } finally {
    await server.stop();
  }
});

Deno.test("echo_server.ts --idle-timeout closes a silent connection (timerfd sweep), not before the timeout", async () => {
  const IDLE_MS = 400;
  const server = await RunningExample.start("echo_server.ts", [
    "--port",
    "0",
    "--idle-timeout",
    String(IDLE_MS / 1000),
  ], ["-A"]);
  // Measured before connecting: the server starts counting at its accept, later.
  const opened = performance.now();
  const conn = await Deno.connect({ hostname: HOST, port: server.port });
  try {
    await writeAllDeno(conn, pattern(5));
    assertBytes(await readExactly(conn, 5), pattern(5));
    const buf = new Uint8Array(8);
    assert.equal(await conn.read(buf), null, "closed by the server");
    assert.ok(performance.now() - opened >= IDLE_MS - 5);
  } finally {
    closeQuietly(conn);
    await server.stop();
  }
});
