/**
 * A Redis-protocol (RESP2) server on deno-epoll: enough of Redis for
 * `redis-cli` and `redis-benchmark`.
 *
 * ```sh
 * deno run --allow-net examples/resp_server.ts [--port 6379] [--stats]
 * redis-cli -p 6379 set greeting hello
 * redis-benchmark -p 6379 -t ping,set,get,incr,mset -P 16 -q
 * ```
 *
 * Commands: PING, ECHO, GET, SET (EX, PX, NX, XX, KEEPTTL), DEL, EXISTS,
 * INCR, DECR, INCRBY, DECRBY, MGET, MSET, EXPIRE, PEXPIRE, PERSIST, TTL,
 * PTTL, KEYS (glob), DBSIZE, FLUSHALL, FLUSHDB, SELECT 0, QUIT, INFO,
 * CONFIG GET, COMMAND (COUNT, DOCS, INFO, LIST). Strings only, one
 * database, nothing saved.
 *
 * One epoll set, level-triggered, one loop:
 *
 * - Requests are multibulk (`*N` `$len` ...) or inline (`PING\r\n`, for
 *   telnet and nc). Every complete request in the bytes read runs, in
 *   order, and all their replies go out in one write (pipelining).
 * - A bad command is a RESP error and the connection stays; a malformed
 *   request (`-ERR Protocol error: ...`) is answered, then the connection
 *   closes, as Redis does.
 * - Memory stays bounded against hostile clients: a bulk string may be at
 *   most `--max-bulk` bytes, a request at most `--max-args` arguments and
 *   its unparsed bytes at most `--max-query`; replies past 1 MiB stop the
 *   parsing until they are written (TCP pushes back on a client that does
 *   not read, as in the echo server: the connection is watched for
 *   `EPOLLOUT` only), and a connection whose unwritten replies pass
 *   `--max-output` is closed. The data itself is bounded by `--max-memory`
 *   (writes past it get `-OOM`).
 * - Expiry: a key past its time is deleted when touched, and a timerfd in
 *   the same epoll set fires every 100 ms to sweep up to 1,000 keys with a
 *   time to live (Redis's active expiry, on this library's timers).
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import {
  CLOCK_MONOTONIC,
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
  TFD_NONBLOCK,
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { intFlag } from "./_flags.ts";
import { parseServerArgs, SERVER_FLAGS } from "./_listen.ts";
import { startServer, workersFlag } from "./_workers.ts";
import { drainTimeoutFlag } from "./_graceful.ts";
import { startStats, Stats } from "./_stats.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { execute, type Session } from "./_resp_commands.ts";
import { Keyspace } from "./_resp_keyspace.ts";
import { ProtocolError, ReplyWriter, RequestParser } from "./_resp_protocol.ts";

const MiB = 2 ** 20;
/** Replies a connection may have waiting before its requests stop being parsed. */
const OUTPUT_PAUSE = MiB;
/** Sweep period and keys looked at per sweep. */
const SWEEP_MS = 100;
const SWEEP_BUDGET = 1000;

const opts = parseServerArgs({
  name: "resp_server",
  task: "resp",
  summary: "a Redis-protocol (RESP2) server: strings, expiry, pipelining",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: redis-cli -p 6379 ping, or redis-benchmark -p 6379 -t set,get -P 16 -q",
  ],
  flags: {
    port: { ...SERVER_FLAGS.port, default: 6379 },
    "drain-timeout": drainTimeoutFlag,
    workers: { ...workersFlag, help: `${workersFlag.help}; each Worker keeps its own keyspace` },
    "max-bulk": intFlag("BYTES", "longest bulk string a client may send", 16 * MiB, 1, 512 * MiB),
    "max-args": intFlag("N", "most arguments in one request", 1024 * 1024, 1, 2 ** 24),
    "max-query": intFlag("BYTES", "most unparsed bytes per connection", 64 * MiB, 1024, 2 ** 31),
    "max-output": intFlag(
      "BYTES",
      "unwritten replies that close a connection",
      64 * MiB,
      MiB,
      2 ** 31,
    ),
    "max-memory": intFlag(
      "BYTES",
      "data bytes past which writes fail with OOM; 0 none",
      1024 * MiB,
      0,
      2 ** 46,
    ),
  },
});
const limits = {
  maxBulk: opts["max-bulk"],
  maxArgs: opts["max-args"],
  maxQuery: Math.max(opts["max-query"], opts["max-bulk"] + 64),
};
const session: Session = { db: new Keyspace(opts["max-memory"]), quit: false, now: 0 };
const stats = new Stats();
const epfd = epollCreate1(0);
// --workers N: the main thread runs N Workers, each running this whole module; SIGTERM and
// SIGINT arrive in this loop as `stop`'s events (_workers.ts, _graceful.ts).
const { name, stop, listenFd } = await startServer("resp_server", opts, epfd);
const LISTENER = Symbol("listener");
const SWEEP = Symbol("sweep");
// Unwatches the listener while accept() gives EMFILE, until a connection closes.
const gate = new AcceptGate(epfd, listenFd, LISTENER);
const tfd = timerfdCreate(CLOCK_MONOTONIC, TFD_NONBLOCK);
const period = { sec: 0, nsec: SWEEP_MS * 1e6 };
timerfdSettime(tfd, 0, { value: period, interval: period });
epollCtl(epfd, EPOLL_CTL_ADD, tfd, { events: EPOLLIN, data: SWEEP });
if (opts.stats) startStats(name, stats, opts.interval, opts.backend);

/** Per-connection state. */
interface Conn {
  fd: number;
  parser: RequestParser;
  /** Replies not yet taken by the socket (watching EPOLLOUT while set). */
  pending: Uint8Array | null;
  /** Close once `pending` is written (QUIT or a protocol error). */
  closing: boolean;
}

const out = new ReplyWriter();
const events: EpollEvent[] = [];
const ticks = new Uint8Array(8);

/** Every open connection, for the graceful stop. */
const conns = new Set<Conn>();

function drop(c: Conn): void {
  conns.delete(c);
  close(c.fd); // also removes it from the epoll set
  stats.open--;
  gate.fdClosed();
}

/**
 * The graceful stop: what `c` still owes, with the replies to the complete
 * requests it has buffered but not yet run (they were read: they are
 * answered).
 */
function owed(c: Conn): Uint8Array[] {
  const parts = c.pending ? [c.pending] : [];
  out.reset();
  session.now = performance.now();
  for (let req = c.parser.next(); req !== null && !c.closing; req = c.parser.next()) {
    if (req instanceof ProtocolError) break;
    execute(req, out, session);
    c.closing = session.quit;
    session.quit = false;
  }
  if (out.length > 0) parts.push(out.bytes.slice());
  return parts;
}

/**
 * Runs the complete requests buffered on `c` and writes their replies in
 * one write, until none is left or the socket stops taking replies.
 * Returns false if the connection was closed.
 */
function serve(c: Conn): boolean {
  for (;;) {
    out.reset();
    session.now = performance.now();
    let more = false;
    while (!c.closing) {
      const req = c.parser.next();
      if (req === null) break;
      if (req instanceof ProtocolError) {
        out.error(`ERR Protocol error: ${req.message}`);
        c.closing = true;
        break;
      }
      execute(req, out, session);
      if (session.quit) {
        session.quit = false;
        c.closing = true;
      }
      if (out.length > opts["max-output"]) {
        drop(c); // one reply past the bound: Redis's output-buffer hard limit
        return false;
      }
      if (out.length >= OUTPUT_PAUSE) {
        more = true; // let the socket take these first
        break;
      }
    }
    if (out.length === 0) return true;
    const n = write(c.fd, out.bytes);
    if (n < 0 && n !== -EAGAIN) {
      drop(c);
      return false;
    }
    const written = Math.max(n, 0);
    stats.bytesOut += written; // bytes the socket took, counted once
    if (written < out.length) {
      c.pending = out.bytes.slice(written);
      epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLOUT, data: c });
      return true;
    }
    if (c.closing) {
      drop(c); // close still delivers what was written
      return false;
    }
    if (!more) return true;
  }
}

/** Writes what `c` still owes; once done, serves what it buffered and reads again. */
function flush(c: Conn): void {
  const rest = c.pending!;
  const n = write(c.fd, rest);
  if (n < 0 && n !== -EAGAIN) return drop(c);
  stats.bytesOut += Math.max(n, 0);
  if (n < rest.length) {
    c.pending = rest.subarray(Math.max(n, 0));
    return;
  }
  c.pending = null;
  if (c.closing) return drop(c);
  epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
  serve(c);
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      gate.acceptAll((fd) => {
        const c: Conn = { fd, parser: new RequestParser(limits), pending: null, closing: false };
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
        conns.add(c);
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    if (ev.data === SWEEP) {
      read(tfd, ticks);
      session.db.sweep(SWEEP_BUDGET);
      continue;
    }
    if (ev.data === stop) {
      stop.caught(); // the rest of this batch is served first
      continue;
    }
    const c = ev.data as Conn;
    if (c.pending !== null) {
      flush(c);
      continue;
    }
    const r = read(c.fd, c.parser.space());
    if (r === -EAGAIN) continue;
    if (r <= 0) {
      drop(c); // 0: the client closed; < 0: reset
      continue;
    }
    stats.bytesIn += r;
    c.parser.commit(r);
    serve(c);
  }
  if (stop.signal) {
    // Stop accepting; every connection gets the replies it is owed, then EOF (_graceful.ts).
    await stop.drain(listenFd, [...conns].map((c) => ({ fd: c.fd, pending: owed(c) })), stats);
  }
}
