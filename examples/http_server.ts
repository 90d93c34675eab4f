/**
 * A minimal, strict HTTP/1.1 keep-alive server on deno-epoll, enough for `wrk`.
 *
 * ```sh
 * deno run --allow-net examples/http_server.ts [--host 127.0.0.1] [--port 8080] [--stats]
 *   [--interval 5] [--header-timeout 10] [--idle-timeout 15] [--max-fds 0]
 * wrk -t2 -c100 -d10s http://127.0.0.1:8080/
 * ```
 *
 * One epoll set, level-triggered, one loop. `GET /` (and `HEAD /`) answers
 * `200 Hello, World!\n`; other paths answer 404, other methods on `/` 405.
 * Every response has `Content-Length` and `Date`, so connections stay open:
 *
 * - HTTP/1.1 keeps the connection unless the request says
 *   `Connection: close`; HTTP/1.0 closes it unless the request says
 *   `Connection: keep-alive`. The response says which (`Connection:`).
 * - Pipelining: every complete request in the bytes read is answered, in
 *   order, with one write for all the responses.
 * - Bodies are not read but skipped, by `Content-Length` or chunked
 *   `Transfer-Encoding` (they may span reads).
 * - Requests are read strictly (RFC 9112, see `examples/_http_head.ts`):
 *   bare CR or LF line endings, whitespace before a colon, obsolete line
 *   folding, conflicting `Content-Length`s, `Transfer-Encoding` with
 *   `Content-Length` or without chunked last, a missing or repeated `Host`
 *   in HTTP/1.1 get 400 and a close; a head over {@linkcode MAX_HEADER}
 *   bytes gets 431 and a close. Each byte of a head is looked at once,
 *   however it trickles in.
 * - Timeouts (one timerfd for all connections): a request head must arrive
 *   whole within `--header-timeout` seconds of its first byte (else 408 and a
 *   close); a connection with no request under way is closed after
 *   `--idle-timeout` seconds, and so is one whose body or responses make no
 *   progress for that long.
 * - When descriptors run out (`accept` gives `EMFILE`), the listener is
 *   unwatched until a connection closes (`examples/_accept_gate.ts`).
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

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import {
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
import { secondsFlag } from "./_flags.ts";
import { parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { startServer, workersFlag } from "./_workers.ts";
import { drainTimeoutFlag } from "./_graceful.ts";
import { Deadlines, type Timed } from "./_deadlines.ts";
import { ChunkedSkipper, HeadReader, MAX_HEADER, parseHead } from "./_http_head.ts";

export { MAX_HEADER };

/** Per-connection state. */
interface Conn extends Timed {
  fd: number;
  /** The request head being read. */
  head: HeadReader;
  /** Body bytes still to skip (Content-Length). */
  skip: number;
  /** The chunked body being skipped. */
  chunked: ChunkedSkipper | null;
  /** Responses still to write. */
  pending: Uint8Array | null;
  /** Close once `pending` is written. */
  closing: boolean;
}

const opts = parseServerArgs({
  name: "http_server",
  task: "http",
  summary: "a minimal, strict HTTP/1.1 keep-alive server answering GET / with Hello, World!",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: curl http://127.0.0.1:8080/ or wrk -t2 -c100 -d10s http://127.0.0.1:8080/",
  ],
  flags: {
    workers: workersFlag,
    "drain-timeout": drainTimeoutFlag,
    "header-timeout": secondsFlag(
      "S",
      "a request head must arrive whole within S seconds of its first byte (else 408)",
      10,
    ),
    "idle-timeout": secondsFlag(
      "S",
      "close a connection with no request under way, or making no progress, after S seconds",
      15,
    ),
  },
});
const HEADER_TIMEOUT = opts["header-timeout"] * 1000;
const IDLE_TIMEOUT = opts["idle-timeout"] * 1000;
const stats = new Stats();
const epfd = epollCreate1(0);
// --workers N: the main thread runs N Workers, each running this whole module; SIGTERM and
// SIGINT arrive in this loop as `stop`'s events (_workers.ts, _graceful.ts).
const { name, stop, listenFd } = await startServer("http_server", opts, epfd);
const LISTENER = Symbol("listener");
const TIMER = Symbol("timer");
const gate = new AcceptGate(epfd, listenFd, LISTENER);
const deadlines = new Deadlines<Conn>();
epollCtl(epfd, EPOLL_CTL_ADD, deadlines.fd, { events: EPOLLIN, data: TIMER });
if (opts.stats) startStats(name, stats, opts.interval, opts.backend);

const encoder = new TextEncoder();
const buf = new Uint8Array(65536);
const events: EpollEvent[] = [];

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};
const responses = new Map<number, Uint8Array>();
let date = "";
let dateSecond = -1;

/** Refreshes the `Date` value (IMF-fixdate) once a second; responses are cached per second. */
function tickDate(): void {
  const second = Math.floor(Date.now() / 1000);
  if (second === dateSecond) return;
  dateSecond = second;
  date = new Date(second * 1000).toUTCString();
  responses.clear();
}

/** The encoded response for a status, cached (there are only a few). */
function response(status: number, keepAlive: boolean, head: boolean): Uint8Array {
  const key = status * 4 + (keepAlive ? 2 : 0) + (head ? 1 : 0);
  let res = responses.get(key);
  if (res === undefined) {
    const body = status === 200 ? "Hello, World!\n" : `${REASONS[status]}\n`;
    res = encoder.encode(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
        `Date: ${date}\r\n` +
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

/**
 * Answers every complete request in `data`, keeps the state of an
 * unfinished one, and returns the responses (empty when none is due).
 */
function serve(c: Conn, data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length && !c.closing) {
    if (c.skip > 0) {
      const n = Math.min(c.skip, data.length - at);
      c.skip -= n;
      at += n;
      continue;
    }
    if (c.chunked !== null) {
      const end = c.chunked.feed(data, at);
      if (end === -1) break;
      if (end < 0) return fail(c, out, 400);
      c.chunked = null;
      at = end;
      continue;
    }
    const wasStarted = c.head.started;
    const end = c.head.feed(data, at);
    if (end === -1) {
      // A head has begun: it must be whole within the header timeout.
      if (!wasStarted && c.head.started) deadlines.set(c, performance.now() + HEADER_TIMEOUT);
      break;
    }
    if (end < 0) return fail(c, out, -end);
    at = end;
    const req = parseHead(c.head.head);
    if (req.error !== 0) return fail(c, out, req.error);
    if (req.body === "length") c.skip = req.length;
    else if (req.body === "chunked") c.chunked = new ChunkedSkipper();
    let status = 404;
    if (req.path === "/") status = req.method === "GET" || req.method === "HEAD" ? 200 : 405;
    out.push(response(status, req.keepAlive, req.method === "HEAD"));
    if (!req.keepAlive) c.closing = true;
  }
  return out;
}

/** Answers `status`, and closes after it. */
function fail(c: Conn, out: Uint8Array[], status: number): Uint8Array[] {
  out.push(response(status, false, false));
  c.closing = true;
  return out;
}

/** Every open connection, for the graceful stop. */
const conns = new Set<Conn>();

function drop(c: Conn): void {
  conns.delete(c);
  close(c.fd); // also removes it from the epoll set; unsent responses still go out
  c.fd = -1; // events for it later in this batch are skipped
  c.head.release();
  deadlines.delete(c);
  stats.open--;
  gate.fdClosed();
}

/** The deadline for what `c` is doing now: a head under way keeps its own. */
function refresh(c: Conn): void {
  if (!c.head.started) deadlines.set(c, performance.now() + IDLE_TIMEOUT);
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

/** A deadline passed: a head that did not arrive in time gets 408; anything else just closes. */
function expired(c: Conn): void {
  if (c.head.started && c.pending === null) {
    write(c.fd, response(408, false, false));
  }
  drop(c);
}

function onConnection(fd: number): void {
  const c: Conn = {
    fd,
    head: new HeadReader(),
    skip: 0,
    chunked: null,
    pending: null,
    closing: false,
    deadline: Infinity,
    heapIndex: -1,
    heapKey: Infinity,
  };
  epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
  conns.add(c);
  deadlines.set(c, performance.now() + IDLE_TIMEOUT);
  stats.open++;
  stats.accepted++;
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  tickDate();
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      gate.acceptAll(onConnection);
      continue;
    }
    if (ev.data === TIMER) {
      deadlines.expire(expired);
      continue;
    }
    if (ev.data === stop) {
      stop.caught(); // the rest of this batch is served first
      continue;
    }
    const c = ev.data as Conn;
    if (c.fd < 0) continue; // closed earlier in this batch
    if (c.pending !== null) {
      // Watching EPOLLOUT: flush what is left, then close or go back to reading.
      const rest = c.pending;
      c.pending = null;
      if (!send(c, rest)) {
        drop(c);
        continue;
      }
      const left = c.pending as Uint8Array | null; // send() may have set it
      if (left === null) {
        if (c.closing) {
          drop(c);
          continue;
        }
        epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
      }
      if (left === null || left.length < rest.length) refresh(c); // progress
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
    else if (out.length > 0 || c.skip > 0 || c.chunked !== null) refresh(c);
  }
  if (stop.signal) {
    // Stop accepting; every connection gets the responses it is owed, then EOF (_graceful.ts).
    const owed = [...conns].map((c) => ({ fd: c.fd, pending: c.pending ? [c.pending] : [] }));
    await stop.drain(listenFd, owed, stats);
  }
}
