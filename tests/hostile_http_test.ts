/**
 * Hostile clients against examples/http_server.ts (a child process, over
 * 127.0.0.1): malformed and smuggling requests get 400/431 and a close,
 * never silence and never a second answer; absolute-form targets are
 * served; every response has a Date; a head that trickles past the header
 * timeout gets 408 and a close; an idle keep-alive connection is closed.
 */

import assert from "node:assert/strict";
import { RunningExample } from "./_examples.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Each exchange gives up after this long (silence is a failure, never a hang). */
const EXCHANGE_MS = 8000;

/**
 * Sends `parts` (with `gapMs` between them) and reads until the server
 * closes or `ms` pass. `eof` says whether the server closed.
 */
async function exchange(
  port: number,
  parts: string[],
  gapMs = 0,
  ms = EXCHANGE_MS,
): Promise<{ text: string; eof: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let text = "";
  let eof = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  try {
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buf).catch((err) => {
          if (timedOut || err instanceof Deno.errors.ConnectionReset) return null;
          throw err;
        });
        if (n === null) break;
        text += dec.decode(buf.subarray(0, n));
      }
      eof = !timedOut;
    })();
    for (const p of parts) {
      if (gapMs > 0) await sleep(gapMs);
      if (timedOut || eof) break;
      await conn.write(enc(p)).catch(() => {}); // the server may have closed already
    }
    await reading;
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
  return { text, eof };
}

/** Status codes of every response in `text`. */
function statuses(text: string): number[] {
  return [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}

Deno.test("hostile HTTP: malformed and smuggling requests get 400/431 and a close, never silence", async (t) => {
  const server = await RunningExample.start("http_server.ts", ["--port", "0"], ["-A"]);
  const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  const cases: [string, string, number][] = [
    [
      "conflicting Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 36\r\n\r\n" + SMUGGLED,
      400,
    ],
    [
      "whitespace before the colon",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 36\r\n\r\n" + SMUGGLED,
      400,
    ],
    [
      "Transfer-Encoding with whitespace before the colon",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
      400,
    ],
    [
      "Transfer-Encoding and Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
      400,
    ],
    ["obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n" + SMUGGLED, 400],
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n" + SMUGGLED, 400],
    ["bare LF line endings", "GET / HTTP/1.1\nHost: a\n\n", 400],
    ["bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400],
    [
      "header section too large",
      "GET / HTTP/1.1\r\n" + `X: ${"x".repeat(1000)}\r\n`.repeat(20),
      431,
    ],
    ["not HTTP", "HELLO\r\n\r\n", 400],
  ];
  try {
    for (const [name, request, want] of cases) {
      await t.step(name, async () => {
        const { text, eof } = await exchange(server.port, [request]);
        assert.deepEqual(statuses(text), [want], `answer: ${JSON.stringify(text.slice(0, 200))}`);
        assert.match(text, /\r\nConnection: close\r\n/);
        assert.ok(eof, "the server did not close the connection");
        assert.ok(!text.includes("Hello"), "a smuggled request was answered");
      });
    }
    await t.step("a lone-CR trickle is refused at the first byte after the CR", async () => {
      const { text, eof } = await exchange(server.port, ["GET / HTTP/1.1\r\nHost: a\r", "X"], 20);
      assert.deepEqual(statuses(text), [400]);
      assert.ok(eof);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("hostile HTTP: chunked bodies are skipped, absolute-form served, Date on every response", async () => {
  const server = await RunningExample.start("http_server.ts", ["--port", "0"], ["-A"]);
  try {
    const { text } = await exchange(server.port, [
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "4\r\nGET \r\n0\r\n\r\n" +
      "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]);
    assert.deepEqual(statuses(text), [404, 200, 200]);
    const dates = [...text.matchAll(/^Date: (.*)\r$/gm)].map((m) => m[1]);
    assert.equal(dates.length, 3);
    for (const d of dates) {
      assert.match(d, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      assert.ok(Math.abs(Date.parse(d) - Date.now()) < 60_000);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("hostile HTTP: a slow head gets 408 and a close; an idle keep-alive connection is closed", async () => {
  const server = await RunningExample.start("http_server.ts", [
    "--port",
    "0",
    "--header-timeout",
    "0.4",
    "--idle-timeout",
    "0.6",
  ]);
  try {
    // Slowloris: a header line every 100 ms, never the blank line.
    const parts = ["GET / HTTP/1.1\r\nHost: a\r\n", ...Array(60).fill("X-A: b\r\n")];
    const slow = await exchange(server.port, parts, 100);
    assert.deepEqual(statuses(slow.text), [408]);
    assert.ok(slow.eof);
    // Idle after a request: closed with nothing more said.
    const idle = await exchange(server.port, ["GET / HTTP/1.1\r\nHost: a\r\n\r\n"]);
    assert.deepEqual(statuses(idle.text), [200]);
    assert.ok(idle.eof, "the idle connection was not closed");
    // A silent connection that never sends a byte is closed too.
    const silent = await exchange(server.port, []);
    assert.equal(silent.text, "");
    assert.ok(silent.eof);
  } finally {
    await server.stop();
  }
});
