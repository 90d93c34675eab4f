/**
 * A level-triggered echo server on deno-epoll.
 *
 * ```sh
 * deno run --allow-net examples/echo_server.ts [--host 127.0.0.1] [--port 8080] [--stats] [--interval 5] [--idle-timeout 0] [--max-fds 0]
 * ```
 *
 * One epoll set, one loop. A connection is watched for `EPOLLIN`; what it
 * reads it writes back. When the send buffer cannot take everything, the
 * rest waits in a per-connection buffer and the connection is watched for
 * `EPOLLOUT` only, so a client that does not read stops being read from
 * (bounded memory, backpressure through TCP).
 *
 * When descriptors run out (`accept` gives `EMFILE`; try `--max-fds 64`),
 * the listener is unwatched until a connection closes, so the loop does not
 * spin on a listener it cannot accept from (`examples/_accept_gate.ts`).
 *
 * With `--idle-timeout S` (seconds; 0, the default, disables it) a
 * connection that has sent nothing for `S` seconds is closed. One periodic
 * timerfd in the same epoll set ticks four times per timeout; each tick
 * closes the connections whose last read is at least `S` old (so a
 * connection is closed between `S` and `1.25 S` after its last message).
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
  timerfdCreate,
  timerfdSettime,
  write,
} from "../mod.ts";
import { idleTimeoutFlag } from "./_flags.ts";
import { parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { startServer, workersFlag } from "./_workers.ts";
import { drainTimeoutFlag } from "./_graceful.ts";

/** Per-connection state: the fd and the bytes still to echo. */
interface Conn {
  fd: number;
  pending: Uint8Array | null;
  /** When the client last sent something (`performance.now()`), for the idle timeout. */
  lastActive: number;
}

const opts = parseServerArgs({
  name: "echo_server",
  task: "echo",
  summary: "a level-triggered echo server: every byte a client sends comes back",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: nc 127.0.0.1 8080",
  ],
  flags: {
    "idle-timeout": idleTimeoutFlag(0),
    "drain-timeout": drainTimeoutFlag,
    workers: workersFlag,
  },
});
const stats = new Stats();
const epfd = epollCreate1(0);
// --workers N: the main thread runs N Workers, each running this whole module; SIGTERM and
// SIGINT arrive in this loop as `stop`'s events (_workers.ts, _graceful.ts).
const { name, stop, listenFd } = await startServer("echo_server", opts, epfd);
const LISTENER = Symbol("listener");
// Unwatches the listener while accept() gives EMFILE, until a connection closes.
const gate = new AcceptGate(epfd, listenFd, LISTENER);
if (opts.stats) startStats(name, stats, opts.interval, opts.backend);

const buf = new Uint8Array(65536);
const events: EpollEvent[] = [];

// The idle timeout: one periodic timerfd, watched like any other fd.
const idleMs = opts["idle-timeout"] * 1000;
/** Every open connection (the idle sweep and the graceful stop walk it). */
const conns = new Set<Conn>();
const ticker = { fd: -1 };
if (idleMs > 0) {
  ticker.fd = timerfdCreate(CLOCK_MONOTONIC, 0);
  const tick = idleMs / 4;
  const spec = { sec: Math.floor(tick / 1000), nsec: Math.round((tick % 1000) * 1e6) };
  timerfdSettime(ticker.fd, 0, { value: spec, interval: spec });
  epollCtl(epfd, EPOLL_CTL_ADD, ticker.fd, { events: EPOLLIN, data: ticker });
}

/** A tick of the idle timer: close the connections idle for the whole timeout. */
function sweep(tfd: number): void {
  read(tfd, buf.subarray(0, 8)); // the expiration count; one sweep covers them all
  const now = performance.now();
  for (const c of conns) {
    if (now - c.lastActive >= idleMs) {
      stats.timedOut++;
      drop(c);
    }
  }
}

function drop(c: Conn): void {
  close(c.fd); // also removes it from the epoll set
  c.fd = -1; // events of this batch for it are skipped
  conns.delete(c);
  stats.open--;
  gate.fdClosed();
}

/** Writes `data`; keeps what does not fit and switches to EPOLLOUT. Returns false on error. */
function send(c: Conn, data: Uint8Array): boolean {
  const n = write(c.fd, data);
  if (n === data.length) return true;
  if (n < 0 && n !== -EAGAIN) return false;
  c.pending = data.slice(Math.max(n, 0));
  epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLOUT, data: c });
  return true;
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      gate.acceptAll((fd) => {
        const c: Conn = { fd, pending: null, lastActive: idleMs > 0 ? performance.now() : 0 };
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
        conns.add(c);
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    if (ev.data === ticker) {
      sweep(ticker.fd);
      continue;
    }
    if (ev.data === stop) {
      stop.caught(); // the rest of this batch is served first
      continue;
    }
    const c = ev.data as Conn;
    if (c.fd < 0) continue; // closed by the idle sweep earlier in this batch
    if (c.pending !== null) {
      // Watching EPOLLOUT: flush what is left, then go back to reading.
      const rest = c.pending;
      c.pending = null;
      const w = write(c.fd, rest);
      if (w < 0 && w !== -EAGAIN) {
        drop(c);
        continue;
      }
      stats.bytesOut += Math.max(w, 0); // bytes the socket took, counted once
      if (w < rest.length) {
        c.pending = rest.subarray(Math.max(w, 0));
      } else {
        epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
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
    if (idleMs > 0) c.lastActive = performance.now();
    if (!send(c, buf.subarray(0, r))) drop(c);
    else stats.bytesOut += r - ((c.pending as Uint8Array | null)?.length ?? 0); // send() may set it
  }
  if (stop.signal) {
    // Stop accepting; every connection gets what it is owed, then EOF (_graceful.ts).
    const owed = [...conns].map((c) => ({ fd: c.fd, pending: c.pending ? [c.pending] : [] }));
    await stop.drain(listenFd, owed, stats);
  }
}
