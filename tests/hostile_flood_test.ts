/**
 * Hostile clients against examples/echo_server.ts (a child process, over
 * 127.0.0.1): a flood of connections reset in the accept queue, and a flood
 * that fills the descriptor table and then leaves. Good clients keep echoing
 * verified bytes throughout with 0 errors; a fresh client is served after
 * each flood (its wait is printed; latency belongs to benchmarks); the
 * server's descriptors and memory come back.
 */

import assert from "node:assert/strict";
import { eventually, RunningExample } from "./_examples.ts";
import { resetClientsAvailable, resetFlood } from "./_reset_clients.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/**
 * How long a fresh client may wait for its echo before the test gives up: a
 * watchdog against a starved or stuck server, not a speed claim (the issue's
 * "served at once" is a latency, measured by benchmarks, never by a test: a
 * loaded machine stalls either process for longer than any such bound). The
 * wait is printed.
 */
const FRESH_DEADLINE_MS = 30_000;
/**
 * How long the server may take to close the flood's dead connections before
 * the test calls them leaked: a watchdog, not a speed claim (one CI run on
 * a loaded machine still held 1,225 of them 5 s after the flood, on the
 * native backend, while it served every client; the time it took is
 * printed, so a slow run and a leak can be told apart).
 */
const SETTLE_MS = 30_000;

/** Waits until the server holds at most `fds` descriptors; prints how long it took. */
async function settled(server: RunningExample, fds: number, what: string): Promise<void> {
  const start = performance.now();
  const ok = await eventually(() => server.fds() <= fds, SETTLE_MS);
  const ms = (performance.now() - start).toFixed(0);
  console.log(`${what}: descriptors back to ${fds} after ${ms} ms`);
  assert.ok(ok, `fds ${server.fds()} > ${fds} after ${ms} ms`);
}

/**
 * Echoes one verified message on a new connection; returns how long it took
 * (ms). Fails past {@linkcode FRESH_DEADLINE_MS} (a starved server never
 * answers).
 */
async function freshEcho(port: number): Promise<number> {
  const start = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), FRESH_DEADLINE_MS);
  try {
    const msg = new TextEncoder().encode("fresh client\n");
    await conn.write(msg);
    const got = new Uint8Array(msg.length);
    for (let at = 0; at < got.length;) {
      const n = await conn.read(got.subarray(at));
      if (n === null) throw new Error("EOF before the echo");
      at += n;
    }
    assert.deepEqual(got, msg);
    return performance.now() - start;
  } catch (err) {
    throw new Error(`no echo within ${(performance.now() - start).toFixed(0)} ms`, { cause: err });
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** A client that echoes numbered 1 KiB messages, verifying every byte, until stopped. */
class GoodClient {
  rounds = 0;
  errors: string[] = [];
  #stop = false;
  #done: Promise<void>;
  #conn: Deno.Conn;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#done = this.#run();
  }

  static async start(port: number): Promise<GoodClient> {
    return new GoodClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async #run(): Promise<void> {
    const msg = new Uint8Array(1024);
    const got = new Uint8Array(1024);
    try {
      while (!this.#stop) {
        for (let i = 0; i < msg.length; i++) msg[i] = (this.rounds + i) & 0xff;
        await this.#conn.write(msg);
        for (let at = 0; at < got.length;) {
          const n = await this.#conn.read(got.subarray(at));
          if (n === null) throw new Error("EOF");
          at += n;
        }
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== msg[i]) throw new Error(`byte ${i} of round ${this.rounds} differs`);
        }
        this.rounds++;
        await sleep(5);
      }
    } catch (err) {
      this.errors.push(String(err));
    }
  }

  /** Stops the client; a read or write still pending ends with the close. */
  async stop(): Promise<void> {
    this.#stop = true;
    this.#conn.close();
    await this.#done;
  }
}

/** Starts `n` good clients and waits until each has echoed a few rounds. */
async function goodClients(port: number, n: number): Promise<GoodClient[]> {
  const clients: GoodClient[] = [];
  for (let i = 0; i < n; i++) clients.push(await GoodClient.start(port));
  assert.ok(await eventually(() => clients.every((c) => c.rounds >= 3), 10_000), "warm-up");
  return clients;
}

/** Asserts every good client made progress since `before` and saw no error. */
async function assertServed(clients: GoodClient[], what: string): Promise<void> {
  const before = clients.map((c) => c.rounds);
  const moved = await eventually(() => clients.every((c, i) => c.rounds >= before[i] + 3), 10_000);
  for (const c of clients) assert.deepEqual(c.errors, [], what);
  assert.ok(moved, `good clients stalled ${what}`);
}

Deno.test({
  name: "hostile: after a reset flood in the accept queue, a fresh client is served",
  ignore: !resetClientsAvailable() || Deno.build.os !== "linux",
  async fn() {
    const server = await RunningExample.start("echo_server.ts", ["--port", "0"], ["-A"]);
    let good: GoodClient[] = [];
    try {
      good = await goodClients(server.port, 3);
      const fds = server.fds();
      const rss = server.memory().rss;
      // 1,500 clients connect, then all reset at once, while the server
      // (another process) is still accepting: most die in the queue.
      assert.equal(resetFlood(server.port, 1500), 1500);
      const ms = await freshEcho(server.port);
      console.log(`reset flood: a fresh client served ${ms.toFixed(0)} ms after (shared machine)`);
      await assertServed(good, "after the reset flood");
      // The dead connections leave no descriptors behind, and memory settles.
      await settled(server, fds, "reset flood");
      const grown = server.memory().rss - rss;
      assert.ok(grown < 64 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      for (const c of good) await c.stop();
      await server.stop();
    }
  },
});

for (const script of ["echo_server.ts", "echo_server_et.ts"]) {
  Deno.test({
    name:
      `hostile: examples/${script}: when the descriptor table fills, good clients are still served; after, a fresh one too`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      const LIMIT = 64;
      const FLOOD = 300;
      const server = await RunningExample.start(script, ["--port", "0", "--max-fds", `${LIMIT}`], [
        "-A",
      ]);
      let good: GoodClient[] = [];
      const flood: Deno.Conn[] = [];
      try {
        good = await goodClients(server.port, 3);
        const fds = server.fds();
        const rss = server.memory().rss;
        // FLOOD clients connect (the kernel completes every handshake) and sit.
        for (let i = 0; i < FLOOD; i++) {
          flood.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
        }
        await sleep(300);
        // The table is full: the server holds at most LIMIT descriptors in its
        // table plus the one connection its listener may hold, and keeps serving.
        const held = server.fds() - fds;
        assert.ok(held <= LIMIT + 1, `${held} more descriptors with a limit of ${LIMIT}`);
        await assertServed(good, "with the descriptor table full");
        // The flood leaves; the server drains its backlog and serves a newcomer.
        for (const c of flood.splice(0)) c.close();
        const ms = await freshEcho(server.port);
        console.log(`${script}: a fresh client served ${ms.toFixed(0)} ms after the flood left`);
        await assertServed(good, "after the flood left");
        await settled(server, fds, script);
        const grown = server.memory().rss - rss;
        assert.ok(grown < 64 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      } finally {
        for (const c of flood) c.close();
        for (const c of good) await c.stop();
        await server.stop();
      }
    },
  });
}
