/**
 * examples/http_server.ts over real loopback TCP (the server a subprocess,
 * the clients plain `Deno.connect`): keep-alive, pipelining, 404, bodies,
 * `Connection: close`.
 */

import assert from "node:assert/strict";
import { closeQuietly, LOOPBACK as HOST, sleep as delay, writeAllDeno } from "./_helpers.ts";
import { RunningExample } from "./_examples.ts";
import { TEST_DEADLINE_MS, withDeadline } from "./_watchdog.ts";

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
