/**
 * examples/kqueue_echo_server.ts over real loopback TCP, as a subprocess:
 * concurrent clients get every byte back, the C load generator
 * (bench/echo/loadgen.c, built with gcc when present) verifies every byte,
 * `nc` (when installed) is served, and idle connections are closed after
 * the idle timeout, never before it.
 */

import assert from "node:assert/strict";
import { assertBytes, closeQuietly, pattern, readExactly, writeAllDeno } from "./_helpers.ts";
import { RunningExample } from "./_examples.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const IDLE_S = 1;

/** The example running as a subprocess, with the port it printed. */
function startServer(idle = 30): Promise<RunningExample> {
  const args = ["--port", "0", "--idle-timeout", String(idle)];
  return RunningExample.start("kqueue_echo_server.ts", args, ["-A"]);
}

Deno.test("kqueue_echo_server echoes every byte to 50 concurrent clients, small and large messages", async () => {
  const server = await startServer();
  try {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        for (const size of [1, 100, 70_000 + i * 997]) {
          const data = pattern(size, i + size);
          const echoed = readExactly(conn, size);
          await writeAllDeno(conn, data);
          assertBytes(await echoed, data, `client ${i}, ${size} bytes`);
        }
      } finally {
        closeQuietly(conn);
      }
    }));
  } finally {
    await server.stop();
  }
});

Deno.test("kqueue_echo_server applies backpressure to a client that reads late and loses no byte", async () => {
  const server = await startServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const data = pattern(16 << 20, 7);
    const writing = writeAllDeno(conn, data);
    writing.catch(() => {}); // a failure surfaces at the await below, not as an uncaught rejection
    // Read nothing for a while: the server's send side fills, it stops reading (EV_DISABLE).
    await new Promise((r) => setTimeout(r, 200));
    const echoed = await readExactly(conn, data.length);
    await writing;
    assertBytes(echoed, data, "16 MiB echoed");
  } finally {
    closeQuietly(conn);
    await server.stop();
  }
});

Deno.test("kqueue_echo_server closes an idle connection after the idle timeout, not before", async () => {
  const server = await startServer(IDLE_S);
  try {
    // Measured before connecting: the server's timer starts at its accept, later.
    const opened = performance.now();
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const talker = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      // The talker's last message restarts its timer.
      await new Promise((r) => setTimeout(r, IDLE_S * 500));
      const sent = performance.now();
      await writeAllDeno(talker, pattern(10));
      assertBytes(await readExactly(talker, 10), pattern(10));
      const buf = new Uint8Array(16);
      assert.equal(await idle.read(buf), null, "the idle connection was closed (EOF)");
      const idleFor = performance.now() - opened;
      assert.equal(await talker.read(buf), null, "the talker is closed once idle too");
      const talkerIdleFor = performance.now() - sent;
      assert.ok(idleFor >= IDLE_S * 1000 - 5, `closed after ${idleFor} ms`);
      assert.ok(
        talkerIdleFor >= IDLE_S * 1000 - 5,
        `talker closed ${talkerIdleFor} ms after its message`,
      );
    } finally {
      closeQuietly(idle);
      closeQuietly(talker);
    }
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "kqueue_echo_server passes the C load generator with every byte verified",
  ignore: (await new Deno.Command("sh", { args: ["-c", "command -v gcc"] }).output()).code !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const server = await startServer();
    try {
      const bin = `${dir}/loadgen`;
      const cc = await new Deno.Command("gcc", {
        args: ["-O2", "-o", bin, `${ROOT}bench/echo/loadgen.c`],
      }).output();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      // 32 connections, 4 KiB messages, 4 in flight each, 1 s measured after 0.2 s warm-up.
      const run = await new Deno.Command(bin, {
        args: ["127.0.0.1", String(server.port), "32", "4096", "4", "1", "0.2"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const r = JSON.parse(new TextDecoder().decode(run.stdout).trim().split("\n").pop()!);
      assert.equal(r.mismatch_bytes, 0);
      assert.equal(r.errors, 0);
      assert.equal(r.conn_errors, 0);
      assert.ok(r.msgs > 0, "messages were echoed");
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "kqueue_echo_server serves nc",
  ignore: (await new Deno.Command("sh", { args: ["-c", "command -v nc"] }).output()).code !== 0,
  fn: async () => {
    const server = await startServer();
    try {
      const out = await new Deno.Command("sh", {
        args: ["-c", `printf 'hello kqueue\\n' | nc -q1 127.0.0.1 ${server.port}`],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout), "hello kqueue\n");
    } finally {
      await server.stop();
    }
  },
});

Deno.test("kqueue_echo_server keeps a connection open while traffic flows for longer than the idle timeout", async () => {
  const server = await startServer(IDLE_S);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // 16 MiB in and out, read in small bites with pauses: the transfer lasts
    // longer than the idle timeout, and every byte of traffic restarts it.
    const data = pattern(16 << 20, 3);
    const writing = writeAllDeno(conn, data);
    writing.catch(() => {}); // a failed read below reports first; the write's error is awaited after
    const got = new Uint8Array(data.length);
    const started = performance.now();
    let at = 0;
    while (at < data.length) {
      const n = await conn.read(got.subarray(at, Math.min(data.length, at + (256 << 10))));
      assert.notEqual(n, null, `closed after ${at} bytes`);
      at += n!;
      if (performance.now() - started < IDLE_S * 2500) await new Promise((r) => setTimeout(r, 40));
    }
    await writing;
    assertBytes(got, data, "16 MiB echoed");
  } finally {
    closeQuietly(conn);
    await server.stop();
  }
});
