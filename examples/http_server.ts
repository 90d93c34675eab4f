/**
 * A minimal HTTP/1.1 keep-alive server on deno-epoll, enough for `wrk`.
 *
 * ```sh
 * deno run --allow-net examples/http_server.ts [--host 127.0.0.1] [--port 8080] [--stats] [--interval 5]
 * wrk -t2 -c100 -d10s http://127.0.0.1:8080/
 * ```
 *
 * One epoll set, level-triggered, one loop. `GET /` (and `HEAD /`) answers
 * `200 Hello, World!\n`; other paths answer 404, other methods on `/` 405.
 * Every response has `Content-Length`, so connections stay open:
 *
 * - HTTP/1.1 keeps the connection unless the request says
 *   `Connection: close`; HTTP/1.0 closes it unless the request says
 *   `Connection: keep-alive`. The response says which (`Connection:`).
 * - Pipelining: every complete request in the bytes read is answered, in
 *   order, with one write for all the responses.
 * - Bodies are not read but skipped, by `Content-Length` (they may span
 *   reads). A chunked body (`Transfer-Encoding`) gets 501 and a close.
 * - The request line and headers together may take at most
 *   {@linkcode MAX_HEADER} bytes: past that the server answers 431 and
 *   closes. A malformed request gets 400 and a close.
 *
 * Like the echo server, a connection whose responses do not fit in the send
 * buffer keeps the rest and is watched for `EPOLLOUT` only: it is not read
 * from until it has taken its responses, so a client that pipelines without
 * reading gets TCP backpressure, not a growing buffer. A connection to be
 * closed is closed once its responses are handed to the socket (`close`
 * still delivers them).
 *
 * @module
 */

import {
  accept,
  close,
  EAGAIN,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  read,
  write,
} from "../mod.ts";
import { openListener, parseServerArgs, startStats, Stats } from "./_cli.ts";

/** Most bytes of request line plus headers (with the blank line). */
export const MAX_HEADER = 16 * 1024;

/** Per-connection state. */
interface Conn {
  fd: number;
  /** Bytes of an unfinished request. */
  partial: Uint8Array | null;
  /** Body bytes still to skip. */
  skip: number;
  /** Responses still to write. */
  pending: Uint8Array | null;
  /** Close once `pending` is written. */
  closing: boolean;
}

const opts = parseServerArgs({
  name: "http_server",
  summary: "a minimal HTTP/1.1 keep-alive server answering GET / with Hello, World!",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: curl http://127.0.0.1:8080/ or wrk -t2 -c100 -d10s http://127.0.0.1:8080/",
  ],
});
const stats = new Stats();
const epfd = epollCreate1(0);
const listenFd = await openListener("http_server", opts);
const LISTENER = Symbol("listener");
epollCtl(epfd, EPOLL_CTL_ADD, listenFd, { events: EPOLLIN, data: LISTENER });
if (opts.stats) startStats("http_server", stats, opts.interval);

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const buf = new Uint8Array(65536);
const events: EpollEvent[] = [];

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
};
const responses = new Map<string, Uint8Array>();

/** The encoded response for a status, cached (there are only a few). */
function response(status: number, keepAlive: boolean, head: boolean): Uint8Array {
  const key = `${status} ${keepAlive} ${head}`;
  let res = responses.get(key);
  if (res === undefined) {
    const body = status === 200 ? "Hello, World!\n" : `${REASONS[status]}\n`;
    res = encoder.encode(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        `Content-Length: ${body.length}\r\n` +
        (status === 405 ? "Allow: GET, HEAD\r\n" : "") +
        `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n` +
        (head ? "" : body),
    );
    responses.set(key, res);
  }
  return res;
}

/** Index of the `\r\n\r\n` ending the headers at or after `from`, or -1. */
function headerEnd(data: Uint8Array, from: number): number {
  for (let i = data.indexOf(13, from); i >= 0 && i + 3 < data.length; i = data.indexOf(13, i + 1)) {
    if (data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}

/** What one request asks for. */
interface Request {
  status: number;
  keepAlive: boolean;
  head: boolean;
  /** Body bytes that follow the headers. */
  bodyLength: number;
}

/** Parses the request line and headers in `text` (without the blank line). */
function parse(text: string): Request {
  const lines = text.split("\r\n");
  const parts = lines[0].split(" ");
  const bad = { status: 400, keepAlive: false, head: false, bodyLength: 0 };
  if (parts.length !== 3 || !/^HTTP\/1\.[01]$/.test(parts[2])) return bad;
  const [method, target, version] = parts;
  let keepAlive = version === "HTTP/1.1";
  let bodyLength = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) return bad;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "connection") {
      const tokens = value.split(",").map((t) => t.trim());
      if (tokens.includes("close")) keepAlive = false;
      else if (tokens.includes("keep-alive")) keepAlive = true;
    } else if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) return bad;
      bodyLength = Number(value);
    } else if (name === "transfer-encoding") {
      return { status: 501, keepAlive: false, head: false, bodyLength: 0 };
    }
  }
  const head = method === "HEAD";
  const path = target.split("?")[0];
  let status = 404;
  if (path === "/") status = method === "GET" || head ? 200 : 405;
  return { status, keepAlive, head, bodyLength };
}

/**
 * Answers every complete request in `data` (after `c.partial`), keeps an
 * unfinished one, and returns the responses (empty when none is due).
 */
function serve(c: Conn, data: Uint8Array): Uint8Array[] {
  if (c.partial !== null) {
    const joined = new Uint8Array(c.partial.length + data.length);
    joined.set(c.partial);
    joined.set(data, c.partial.length);
    data = joined;
    c.partial = null;
  }
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length && !c.closing) {
    if (c.skip > 0) {
      const n = Math.min(c.skip, data.length - at);
      c.skip -= n;
      at += n;
      continue;
    }
    // Tolerate stray CRLFs between requests (RFC 9112 section 2.2).
    if (data[at] === 13 || data[at] === 10) {
      at++;
      continue;
    }
    const end = headerEnd(data, at);
    if (end < 0 || end + 4 - at > MAX_HEADER) {
      if (end < 0 && data.length - at <= MAX_HEADER) {
        c.partial = data.slice(at); // wait for the rest
        break;
      }
      out.push(response(431, false, false));
      c.closing = true;
      break;
    }
    const req = parse(latin1.decode(data.subarray(at, end)));
    at = end + 4;
    c.skip = req.bodyLength;
    out.push(response(req.status, req.keepAlive, req.head));
    if (!req.keepAlive) c.closing = true;
  }
  return out;
}

function drop(c: Conn): void {
  close(c.fd); // also removes it from the epoll set; unsent responses still go out
  stats.open--;
}

/** Writes `data`; keeps what does not fit and switches to EPOLLOUT. Returns false on error. */
function send(c: Conn, data: Uint8Array): boolean {
  const n = write(c.fd, data);
  if (n === data.length) {
    stats.bytesOut += n;
    return true;
  }
  if (n < 0 && n !== -EAGAIN) return false;
  stats.bytesOut += Math.max(n, 0);
  c.pending = data.slice(Math.max(n, 0));
  epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLOUT, data: c });
  return true;
}

/** Joins the responses of one read into one buffer. */
function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let size = 0;
  for (const p of parts) size += p.length;
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      for (let fd = accept(listenFd); fd >= 0; fd = accept(listenFd)) {
        const c: Conn = { fd, partial: null, skip: 0, pending: null, closing: false };
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
        stats.open++;
        stats.accepted++;
      }
      continue;
    }
    const c = ev.data as Conn;
    if (c.pending !== null) {
      // Watching EPOLLOUT: flush what is left, then close or go back to reading.
      const rest = c.pending;
      c.pending = null;
      if (!send(c, rest)) drop(c);
      else if (c.pending === null) {
        if (c.closing) drop(c);
        else epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
      }
      continue;
    }
    const r = read(c.fd, buf);
    if (r === -EAGAIN) continue;
    if (r <= 0) {
      drop(c); // 0: the client closed; < 0: reset
      continue;
    }
    stats.bytesIn += r;
    const out = serve(c, buf.subarray(0, r));
    if (out.length > 0 && !send(c, concat(out))) drop(c);
    else if (c.closing && c.pending === null) drop(c);
  }
}
