/**
 * The strict HTTP/1.1 request reader of examples/http_server.ts
 * (examples/_http_head.ts): RFC 9112 framing rules, checked head by head.
 */

import assert from "node:assert/strict";
import { ChunkedSkipper, HeadReader, MAX_HEADER, parseHead } from "../examples/_http_head.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Feeds `text` to a fresh reader in chunks of `step` bytes; returns the last result. */
function feedAll(text: string, step = Infinity): { r: number; reader: HeadReader } {
  const reader = new HeadReader();
  const bytes = enc(text);
  let r = -1;
  for (let at = 0; at < bytes.length && r === -1;) {
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + step));
    r = reader.feed(chunk, 0);
    if (r >= 0) r += at;
    at += chunk.length;
  }
  return { r, reader };
}

/** Parses a whole request head given with its final blank line. */
function status(text: string): number {
  const { r, reader } = feedAll(text);
  if (r < 0) return -r;
  return parseHead(reader.head).error || 200;
}

const OK = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

Deno.test("a head is found whole or trickled a byte at a time, with the same bytes", () => {
  for (const step of [Infinity, 1, 2, 7]) {
    const { r, reader } = feedAll("\r\n" + OK + "GET", step);
    assert.equal(r, 2 + OK.length, `step ${step}`);
    assert.equal(new TextDecoder().decode(reader.head), "GET / HTTP/1.1\r\nHost: a");
  }
});

Deno.test("a head trickled byte by byte is scanned once: each byte looked at once, never rescanned", () => {
  const text = "GET / HTTP/1.1\r\nHost: a\r\n" + "X-Pad: 0123456789\r\n".repeat(800) + "\r\n";
  assert.ok(text.length > 14_000 && text.length <= MAX_HEADER);
  const { r, reader } = feedAll(text, 1);
  assert.equal(r, text.length);
  assert.equal(reader.scanned, text.length);
});

Deno.test("bare LF and bare CR line endings are rejected with 400, trickled or not", () => {
  for (const step of [Infinity, 1]) {
    assert.equal(feedAll("GET / HTTP/1.1\nHost: a\n\n", step).r, -400);
    assert.equal(feedAll("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", step).r, -400);
    assert.equal(feedAll("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", step).r, -400);
  }
});

Deno.test("a head past MAX_HEADER is 431, trickled or not; exactly MAX_HEADER is accepted", () => {
  const head = (size: number) => {
    const start = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    return start + "x".repeat(size - start.length - 4) + "\r\n\r\n";
  };
  for (const step of [Infinity, 1000]) {
    assert.equal(feedAll(head(MAX_HEADER + 1), step).r, -431);
    assert.equal(feedAll(head(MAX_HEADER), step).r, MAX_HEADER);
  }
});

Deno.test("request smuggling vectors and malformed heads get 400", () => {
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 36\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n b\r\n\r\n", 400], // obs-fold
    ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400],
    ["GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400],
    ["GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400],
    ["HELLO\r\n\r\n", 400],
  ];
  for (const [text, want] of cases) assert.equal(status(text), want, JSON.stringify(text));
});

Deno.test("valid heads: agreeing lengths, chunked, HTTP/1.0 without Host, absolute-form", () => {
  const ok = (text: string) => {
    const { r, reader } = feedAll(text);
    assert.ok(r > 0, JSON.stringify(text));
    const req = parseHead(reader.head);
    assert.equal(req.error, 0, JSON.stringify(text));
    return req;
  };
  let req = ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  assert.equal(req.body, "length");
  assert.equal(req.length, 5);
  req = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  assert.equal(req.body, "chunked");
  req = ok("GET /x HTTP/1.0\r\n\r\n");
  assert.equal(req.keepAlive, false);
  req = ok("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(req.path, "/");
  req = ok("GET HTTP://example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(req.path, "/a");
  req = ok("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(req.path, "/");
  req = ok("GET /?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  assert.equal(req.path, "/");
  assert.equal(req.keepAlive, false);
});

Deno.test("a chunked body is skipped across reads, extensions and trailers included", () => {
  const body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (const step of [Infinity, 1, 3]) {
    const s = new ChunkedSkipper();
    const bytes = enc(body);
    let r = -1;
    for (let at = 0; at < bytes.length && r === -1;) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + step));
      r = s.feed(chunk, 0);
      if (r >= 0) r += at;
      at += chunk.length;
    }
    assert.equal(r, body.length - 4, `step ${step}`);
  }
  for (
    const bad of [
      "X\r\n",
      "5\nhello\r\n",
      "5\r\nhelloXX",
      "0\r\nT: x\n\r\n",
      "1".repeat(14) + "\r\n",
    ]
  ) {
    assert.equal(new ChunkedSkipper().feed(enc(bad), 0), -400, JSON.stringify(bad));
  }
});
