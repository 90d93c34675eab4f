/**
 * Integration tests of the example servers over real loopback TCP: each
 * server runs as a subprocess, the clients are plain `Deno.connect`.
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  closeQuietly,
  LOOPBACK as HOST,
  pattern,
  readExactly,
  sleep as delay,
  writeAllDeno,
} from "./_helpers.ts";
import { RunningExample } from "./_examples.ts";

/**
 * Each test gives up (and fails) past this: a watchdog against a hang, not a
 * speed claim, so it leaves room for a loaded machine (the chat test takes
 * 15-17 s on 2 shared cores at load 20).
 */
const TEST_DEADLINE_MS = 60_000;

/**
 * Runs `body` with a watchdog: past `ms`, `onTimeout` runs (it should close
 * the connections and kill the server so pending reads end) and the test
 * fails with a timeout.
 */
async function withDeadline<T>(
  ms: number,
  onTimeout: () => void,
  body: () => Promise<T>,
): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    onTimeout();
  }, ms);
  try {
    return await body();
  } catch (err) {
    if (timedOut) throw new Error(`test timed out after ${ms} ms`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

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
    await withDeadline(TEST_DEADLINE_MS, () => conns.forEach(closeQuietly), async () => {
      // Every read wakes whoever waits for progress (senders on their window).
      let waiters: (() => void)[] = [];
      const progress = () => {
        const wake = waiters;
        waiters = [];
        wake.forEach((resolve) => resolve());
      };
      const waitUntil = async (cond: () => boolean) => {
        while (!cond()) await new Promise<void>((resolve) => waiters.push(resolve));
      };

      for (let i = 0; i < ACTIVE; i++) {
        const conn = await Deno.connect({ hostname: HOST, port: server.port });
        conns.push(conn);
        clients.push(new ChatClient(conn, i, progress));
      }
      stalled = await Deno.connect({ hostname: HOST, port: server.port });
      conns.push(stalled);
      clients.forEach((c) => readers.push(c.startReading()));
      await delay(100); // let the server accept all five
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
        2000,
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

// ---------------------------------------------------------------------------
// http_server

/** One parsed HTTP response. */
interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Reads HTTP responses (with `Content-Length` bodies) off a connection. */
class HttpClient {
  readonly conn: Deno.TcpConn;
  #buf = new Uint8Array(0);
  #encoder = new TextEncoder();
  #decoder = new TextDecoder("latin1");

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(port: number, conns: Deno.Conn[]): Promise<HttpClient> {
    const conn = await Deno.connect({ hostname: HOST, port });
    conns.push(conn);
    return new HttpClient(conn);
  }

  send(text: string): Promise<void> {
    return writeAllDeno(this.conn, this.#encoder.encode(text));
  }

  /** Reads more bytes; false at end of stream. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buf.length + n);
    joined.set(this.#buf);
    joined.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = joined;
    return true;
  }

  /** Reads one response (`head`: the answer to a HEAD, without a body); throws at end of stream. */
  async response(head = false): Promise<Response> {
    let end: number;
    while ((end = this.#decoder.decode(this.#buf).indexOf("\r\n\r\n")) < 0) {
      if (!(await this.#fill())) throw new Error("connection closed before a response");
    }
    const [statusLine, ...lines] = this.#decoder.decode(this.#buf.subarray(0, end)).split("\r\n");
    const m = statusLine.match(/^HTTP\/1\.1 (\d{3}) [^\r\n]+$/);
    assert.ok(m, `bad status line ${statusLine}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length"));
    assert.ok(Number.isInteger(length), "Content-Length");
    const total = end + 4 + (head ? 0 : length);
    while (this.#buf.length < total) {
      if (!(await this.#fill())) throw new Error("connection closed inside a body");
    }
    const body = this.#decoder.decode(this.#buf.subarray(end + 4, total));
    this.#buf = this.#buf.slice(total);
    return { status: Number(m[1]), headers, body };
  }

  /** Waits for the server to close; asserts nothing else arrives. */
  async expectEof(): Promise<void> {
    while (await this.#fill()) {
      // keep reading: anything left over is checked below
    }
    assert.equal(this.#buf.length, 0, `unexpected bytes ${this.#decoder.decode(this.#buf)}`);
  }
}

function assertHello(res: Response, connection = "keep-alive"): void {
  assert.equal(res.status, 200);
  assert.equal(res.body, "Hello, World!\n");
  assert.equal(res.headers.get("content-length"), "14");
  assert.equal(res.headers.get("connection"), connection);
}

Deno.test("http_server: keep-alive, pipelining, 404, bodies, Connection: close", async (t) => {
  const server = await RunningExample.start("http_server.ts", ["--port", "0"], ["-A"]);
  const conns: Deno.Conn[] = [];
  const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
  try {
    await withDeadline(TEST_DEADLINE_MS, () => conns.forEach(closeQuietly), async () => {
      await t.step("several requests on one keep-alive connection", async () => {
        const c = await HttpClient.connect(server.port, conns);
        for (let i = 0; i < 5; i++) {
          await c.send(GET("/"));
          assertHello(await c.response());
        }
        await c.send(GET("/missing"));
        const res = await c.response();
        assert.equal(res.status, 404);
        assert.equal(res.headers.get("connection"), "keep-alive");
        await c.send(GET("/?q=1"));
        assertHello(await c.response());
        await c.send("HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
        const head = await c.response(true);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), "14");
        assert.equal(head.body, "");
        await c.send("DELETE / HTTP/1.1\r\nHost: test\r\n\r\n");
        const del = await c.response();
        assert.equal(del.status, 405);
        assert.equal(del.headers.get("allow"), "GET, HEAD");
        await c.send(GET("/"));
        assertHello(await c.response());
      });

      await t.step("pipelined requests in one write are answered in order", async () => {
        const c = await HttpClient.connect(server.port, conns);
        const paths = ["/", "/a", "/", "/b/c", "/", "/", "/zz", "/"];
        let batch = "";
        for (let i = 0; i < 20; i++) batch += paths.map((p) => GET(p)).join("");
        await c.send(batch);
        for (let i = 0; i < 20; i++) {
          for (const p of paths) {
            const res = await c.response();
            if (p === "/") assertHello(res);
            else assert.equal(res.status, 404, p);
          }
        }
        // and the connection is still usable
        await c.send(GET("/"));
        assertHello(await c.response());
      });

      await t.step("bodies are skipped by Content-Length, also across writes", async () => {
        const c = await HttpClient.connect(server.port, conns);
        const body = "GET / HTTP/1.1\r\n\r\n".repeat(10); // looks like requests: must be skipped
        await c.send(
          `POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
            GET("/"),
        );
        assert.equal((await c.response()).status, 404);
        assertHello(await c.response());
        const big = 200_000;
        await c.send(`PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: ${big}\r\n\r\n`);
        for (let sent = 0; sent < big; sent += 50_000) await c.send("y".repeat(50_000));
        await c.send(GET("/"));
        assert.equal((await c.response()).status, 404);
        assertHello(await c.response());
        // a request split across writes, mid-header
        await c.send("GET / HT");
        await delay(20);
        await c.send("TP/1.1\r\nHost: te");
        await delay(20);
        await c.send("st\r\n\r\n");
        assertHello(await c.response());
      });

      await t.step("Connection: close answers, then closes", async () => {
        const c = await HttpClient.connect(server.port, conns);
        await c.send(GET("/") + GET("/", "Connection: close\r\n") + GET("/never"));
        assertHello(await c.response());
        assertHello(await c.response(), "close");
        await c.expectEof(); // the request after the close is not answered
      });

      await t.step("HTTP/1.0 closes unless it asks for keep-alive", async () => {
        const c = await HttpClient.connect(server.port, conns);
        await c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assertHello(await c.response());
        await c.send("GET / HTTP/1.0\r\n\r\n");
        assertHello(await c.response(), "close");
        await c.expectEof();
      });

      await t.step("headers past 16 KiB get 431 and a close", async () => {
        const c = await HttpClient.connect(server.port, conns);
        await c.send(GET("/"));
        assertHello(await c.response());
        const filler = `X-Filler: ${"f".repeat(1000)}\r\n`;
        await c.send(`GET / HTTP/1.1\r\n${filler.repeat(17)}`); // no blank line yet
        const res = await c.response();
        assert.equal(res.status, 431);
        assert.equal(res.headers.get("connection"), "close");
        await c.expectEof();
      });

      await t.step("malformed request gets 400 and a close", async () => {
        const c = await HttpClient.connect(server.port, conns);
        await c.send("HELLO\r\n\r\n");
        const res = await c.response();
        assert.equal(res.status, 400);
        await c.expectEof();
      });

      await t.step("many connections at once", async () => {
        const clients = await Promise.all(
          Array.from({ length: 50 }, () => HttpClient.connect(server.port, conns)),
        );
        for (let round = 0; round < 3; round++) {
          await Promise.all(clients.map((c) => c.send(GET("/"))));
          for (const c of clients) assertHello(await c.response());
        }
      });
    });
  } finally {
    conns.forEach(closeQuietly);
    await server.stop();
  }
});

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
