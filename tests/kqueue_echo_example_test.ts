/**
 * examples/kqueue_echo_server.ts over real loopback TCP, as a subprocess:
 * concurrent clients get every byte back, the C load generator
 * (bench/echo/loadgen.c, built with gcc when present) verifies every byte,
 * `nc` (when installed) is served, and idle connections are closed after
 * the idle timeout, never before it.
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  closeQuietly,
  NATIVE,
  pattern,
  readExactly,
  writeAllDeno,
} from "./_helpers.ts";
import { RunningExample } from "./_examples.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/**
 * The servers' idle timeout in the idle tests: a stall of either process
 * longer than what it leaves after the test's last planned activity makes
 * an attempt inconclusive (see {@linkcode untilConclusive}), so it is not
 * much shorter than a loaded machine's stalls.
 */
const IDLE_S = 2;

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

/**
 * Attempts of a test whose precondition a stall can break: a test process
 * stalled for longer than the idle timeout lets a connection go idle that
 * the test meant to keep busy. Such an attempt proves nothing either way and
 * is run again; one that met its precondition decides.
 */
const ATTEMPTS = 5;

/** Runs `attempt` until it decides (returns `undefined`); its string is why it could not. */
async function untilConclusive(attempt: () => Promise<string | undefined>): Promise<void> {
  const stalls: string[] = [];
  for (let i = 0; i < ATTEMPTS; i++) {
    const stalled = await attempt();
    if (stalled === undefined) return;
    console.log(`inconclusive attempt ${i + 1}: ${stalled}`);
    stalls.push(stalled);
  }
  assert.fail(`no attempt of ${ATTEMPTS} met its precondition:\n${stalls.join("\n")}`);
}

/**
 * Closes `conns` past `ms`: a watchdog against a server that never closes
 * them (a pending read ends), not a speed claim. Returns its cancel.
 */
function watchdog(ms: number, ...conns: Deno.Conn[]): () => void {
  const timer = setTimeout(() => conns.forEach(closeQuietly), ms);
  return () => clearTimeout(timer);
}

Deno.test("kqueue_echo_server closes an idle connection after the idle timeout, not before", async () => {
  const server = await startServer(IDLE_S);
  try {
    await untilConclusive(async () => {
      // Measured before connecting: the server's timer starts at its accept, later.
      const opened = performance.now();
      const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const talker = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const cancel = watchdog(30_000, idle, talker);
      try {
        // The talker's message, sent before its timer can have expired, restarts it.
        await new Promise((r) => setTimeout(r, IDLE_S * 250));
        const sent = performance.now();
        await writeAllDeno(talker, pattern(10));
        const wrote = performance.now() - opened;
        if (wrote >= IDLE_S * 1000) return `the talker's message was written ${wrote} ms in`;
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
        cancel();
        closeQuietly(idle);
        closeQuietly(talker);
      }
    });
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
  try {
    await untilConclusive(async () => {
      const opened = performance.now();
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const cancel = watchdog(60_000, conn);
      try {
        // 16 MiB in and out, read in small bites with pauses: the transfer lasts
        // longer than the idle timeout, and every byte of traffic restarts it.
        const data = pattern(16 << 20, 3);
        const writing = writeAllDeno(conn, data);
        writing.catch(() => {}); // a failed read below reports first; the write's error is awaited after
        const got = new Uint8Array(data.length);
        const started = performance.now();
        // The longest time between two reads that returned data (from the
        // connect for the first): the server moves nothing while the test
        // does not read (its send side is full), so such a gap of the idle
        // timeout (a stall of either process) makes the connection idle for
        // real, and the attempt inconclusive. Of the read that ends in EOF
        // only the delay before it counts, not its wait: a server that stops
        // sending and then closes for idleness makes the test wait that long.
        let gap = 0;
        let last = opened;
        let at = 0;
        while (at < data.length) {
          const asked = performance.now();
          // The server closing with our bytes unread resets the connection.
          const n = await conn.read(got.subarray(at, Math.min(data.length, at + (256 << 10))))
            .catch((err) => {
              if (err instanceof Deno.errors.ConnectionReset) return null;
              throw err;
            });
          const now = performance.now();
          if (n === null) {
            gap = Math.max(gap, asked - last);
            if (gap >= IDLE_S * 1000) return `${gap.toFixed(0)} ms between two reads`;
            assert.fail(
              `closed after ${at} bytes, with at most ${
                gap.toFixed(0)
              } ms between reads; server: ${server.stderr.text}`,
            );
          }
          gap = Math.max(gap, now - last);
          last = now;
          at += n;
          if (now - started < IDLE_S * 2500) await new Promise((r) => setTimeout(r, IDLE_S * 40));
        }
        await writing;
        assertBytes(got, data, "16 MiB echoed");
        const took = performance.now() - started;
        assert.ok(
          took > IDLE_S * 1000,
          `the transfer took ${took} ms, not longer than the timeout`,
        );
      } finally {
        cancel();
        closeQuietly(conn);
      }
    });
  } finally {
    await server.stop();
  }
});

// The native backend only: on the deno backend bytes reach the library only
// through a read in flight, which Deno completes on a later turn of its event
// loop than a timer already due, so the server cannot see both in one batch.
// Without the fix this failed 2 of 9 runs on native (load ~20), with it 0 of 10.
Deno.test({
  name:
    "kqueue_echo_server echoes what arrived while it was stopped past the idle timeout, then times it out",
  ignore: !NATIVE,
  fn: async () => {
    const server = await startServer(IDLE_S);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const cancel = watchdog(60_000, conn);
    try {
      // Accepted and watched: the echo comes back.
      await writeAllDeno(conn, pattern(10, 1));
      assertBytes(await readExactly(conn, 10), pattern(10, 1));
      // The server stops (as a loaded machine may stop it) past the idle
      // timeout; the message arrives meanwhile. When it runs again, its timer
      // and the message are both due: the message is traffic, and is echoed.
      Deno.kill(server.child.pid, "SIGSTOP");
      try {
        await new Promise((r) => setTimeout(r, IDLE_S * 1500));
        await writeAllDeno(conn, pattern(10, 2));
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        Deno.kill(server.child.pid, "SIGCONT");
      }
      assertBytes(
        await readExactly(conn, 10),
        pattern(10, 2),
        "the message sent before it ran again",
      );
      assert.equal(await conn.read(new Uint8Array(16)), null, "then closed once idle");
    } finally {
      cancel();
      closeQuietly(conn);
      await server.stop();
    }
  },
});
