/**
 * examples/chat_server.ts over real loopback TCP (the server a subprocess,
 * the clients plain `Deno.connect`): a client that stops reading is
 * dropped, and the others get every message in order.
 */

import assert from "node:assert/strict";
import { closeQuietly, LOOPBACK as HOST, writeAllDeno } from "./_helpers.ts";
import { eventually, RunningExample } from "./_examples.ts";
import { TEST_DEADLINE_MS, withDeadline } from "./_watchdog.ts";

// ---------------------------------------------------------------------------
// chat_server

/** Active clients that talk; one more client connects and never reads. */
const ACTIVE = 4;
/** Messages each active client sends. */
const MESSAGES = 40000;
/** Bytes of padding per message line (~1 KiB lines). */
const PAD = 1000;
/** Messages sent together in one write. */
const BATCH = 16;
/** Most messages a sender is ahead of its slowest active receiver. */
const WINDOW = 64;

/** A chat client that reads every line and checks per-sender order. */
class ChatClient {
  readonly conn: Deno.TcpConn;
  readonly name: number;
  /** `received[s]`: messages from active client `s` seen, in order. */
  readonly received: number[] = new Array(ACTIVE).fill(0);
  /** Lines that are not numbered messages (the liveness check). */
  readonly other: string[] = [];
  /** The first ordering problem seen, if any. */
  problem: string | undefined;
  eof = false;
  #onProgress: () => void;

  constructor(conn: Deno.TcpConn, name: number, onProgress: () => void) {
    this.conn = conn;
    this.name = name;
    this.#onProgress = onProgress;
  }

  /** Starts the read loop; the promise settles when the stream ends or is closed. */
  startReading(): Promise<void> {
    return this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(65536);
    const decoder = new TextDecoder();
    let partial = "";
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) return;
        const text = partial + decoder.decode(buf.subarray(0, n), { stream: true });
        const lines = text.split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.#line(line);
        this.#onProgress();
      }
    } finally {
      this.eof = true; // end of stream, or the read failed (closed by the test)
      this.#onProgress();
    }
  }

  #line(line: string): void {
    const m = line.match(/^\[\d+\] c(\d+) (\d+) (x*)$/);
    if (!m) {
      this.other.push(line);
      return;
    }
    const s = Number(m[1]);
    const k = Number(m[2]);
    if (this.problem === undefined) {
      if (s === this.name) this.problem = `client ${this.name} got its own message`;
      else if (k !== this.received[s]) {
        this.problem = `client ${this.name} got message ${k} of c${s}, expected ${
          this.received[s]
        }`;
      } else if (m[3].length !== PAD) this.problem = `client ${this.name}: bad padding`;
    }
    this.received[s] = k + 1;
  }
}

/** Checks that `text` is complete in-order message lines, maybe cut short at the end. */
function checkPrefix(text: string): { lines: number } {
  const lines = text.split("\n");
  lines.pop(); // a line the server cut short when it dropped the client
  const next = new Array(ACTIVE).fill(0);
  for (const line of lines) {
    const m = line.match(/^\[\d+\] c(\d+) (\d+) x*$/);
    assert.ok(m, `unexpected line ${JSON.stringify(line.slice(0, 80))}`);
    const s = Number(m[1]);
    assert.equal(Number(m[2]), next[s], `order of c${s}`);
    next[s]++;
  }
  return { lines: lines.length };
}

Deno.test("chat_server: a stalled client is dropped; the others get every message in order", async () => {
  const server = await RunningExample.start("chat_server.ts", ["--port", "0"], ["-A"]);
  const conns: Deno.Conn[] = [];
  const clients: ChatClient[] = [];
  const readers: Promise<void>[] = [];
  let stalled: Deno.TcpConn | undefined;
  try {
    await withDeadline(TEST_DEADLINE_MS, () => conns.forEach(closeQuietly), async (alive) => {
      // Every read wakes whoever waits for progress (senders on their window).
      let waiters: (() => void)[] = [];
      const progress = () => {
        alive();
        const wake = waiters;
        waiters = [];
        wake.forEach((resolve) => resolve());
      };
      const waitUntil = async (cond: () => boolean) => {
        while (!cond()) await new Promise<void>((resolve) => waiters.push(resolve));
      };

      const fds = server.fds();
      for (let i = 0; i < ACTIVE; i++) {
        const conn = await Deno.connect({ hostname: HOST, port: server.port });
        conns.push(conn);
        clients.push(new ChatClient(conn, i, progress));
      }
      stalled = await Deno.connect({ hostname: HOST, port: server.port });
      conns.push(stalled);
      clients.forEach((c) => readers.push(c.startReading()));
      // The server has accepted all five (a descriptor each).
      const all = ACTIVE + 1;
      assert.ok(await eventually(() => server.fds() >= fds + all, 30_000), "all five accepted");
      const before = server.memory();

      const pad = "x".repeat(PAD);
      const encoder = new TextEncoder();
      const minSeen = (s: number) =>
        Math.min(...clients.filter((c) => c.name !== s).map((c) => c.received[s]));
      const failed = () => clients.some((c) => c.eof || c.problem !== undefined);
      const send = async (c: ChatClient) => {
        for (let k = 0; k < MESSAGES; k += BATCH) {
          await waitUntil(() => failed() || minSeen(c.name) >= k + BATCH - WINDOW);
          if (failed()) return;
          let batch = "";
          for (let j = k; j < Math.min(k + BATCH, MESSAGES); j++) {
            batch += `c${c.name} ${j} ${pad}\n`;
          }
          await writeAllDeno(c.conn, encoder.encode(batch));
        }
      };
      const started = performance.now();
      await Promise.all(clients.map(send));
      await waitUntil(() =>
        failed() || clients.every((c) => c.received.every((n, s) => s === c.name || n === MESSAGES))
      );
      const seconds = (performance.now() - started) / 1000;
      for (const c of clients) {
        assert.equal(c.problem, undefined);
        assert.equal(c.eof, false, `active client ${c.name} was disconnected`);
        assert.deepEqual(
          c.received.map((n, s) => (s === c.name ? 0 : n)),
          clients.map((_, s) => (s === c.name ? 0 : MESSAGES)),
        );
      }
      const after = server.memory();
      const total = ACTIVE * MESSAGES * (PAD + 16); // about, with the "[id] " prefix
      console.log(
        `chat: ${(total / 2 ** 20).toFixed(1)} MiB sent, each line to ${ACTIVE - 1} readers in ${
          seconds.toFixed(1)
        } s; server rss ${(before.rss / 2 ** 20).toFixed(0)} -> ${
          (after.rss / 2 ** 20).toFixed(0)
        } MiB, peak ${(after.hwm / 2 ** 20).toFixed(0)} MiB`,
      );

      // Bounded memory: every message for the stalled client (as much as
      // everything sent) would have stayed queued without the bound.
      assert.ok(
        after.hwm - before.rss < total / 2,
        `server peak rss grew by ${after.hwm - before.rss} bytes (sent ${total})`,
      );
      // The stalled client was dropped, nobody else was.
      const drops = await server.stderr.waitFor(
        /dropped client \d+: more than 262144 bytes queued/,
        30_000, // it came long ago; reading it back may wait on a loaded machine
      );
      assert.ok(drops);
      assert.equal(server.stderr.text.match(/dropped client/g)!.length, 1, server.stderr.text);

      // Still responsive: a newcomer is heard by everyone, and hears them.
      const late = await Deno.connect({ hostname: HOST, port: server.port });
      conns.push(late);
      const lateClient = new ChatClient(late, -1, progress);
      readers.push(lateClient.startReading());
      await writeAllDeno(late, encoder.encode("hello from the newcomer\n"));
      await waitUntil(() => failed() || clients.every((c) => c.other.length > 0));
      for (const c of clients) assert.match(c.other[0], /^\[\d+\] hello from the newcomer$/);
      await writeAllDeno(clients[0].conn, encoder.encode("welcome\n"));
      await waitUntil(() => lateClient.eof || lateClient.other.length > 0);
      assert.match(lateClient.other[0], /^\[\d+\] welcome$/);
      assert.equal(lateClient.received.every((n) => n === 0), true);

      // The stalled client, read at last: a prefix of the conversation, then EOF.
      const buf = new Uint8Array(65536);
      const decoder = new TextDecoder();
      let text = "";
      for (let n = await stalled.read(buf); n !== null; n = await stalled.read(buf)) {
        text += decoder.decode(buf.subarray(0, n), { stream: true });
      }
      const { lines } = checkPrefix(text);
      assert.ok(lines < (ACTIVE * MESSAGES) / 2, `stalled client got ${lines} lines`);
    });
  } finally {
    conns.forEach(closeQuietly);
    await Promise.allSettled(readers);
    await server.stop();
  }
});
