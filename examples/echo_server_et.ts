/**
 * An edge-triggered echo server on deno-epoll: the mio recipe.
 *
 * ```sh
 * deno run --allow-net examples/echo_server_et.ts [--host 127.0.0.1] [--port 8080] [--stats] [--interval 5] [--max-fds 0]
 * ```
 *
 * Each connection is registered once with
 * `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`. On every event the
 * connection first flushes what it still owes, then reads until `-EAGAIN`,
 * echoing as it goes. When the send buffer fills, it stops reading and
 * waits for the next `EPOLLOUT` edge: the unread bytes stay in the
 * (bounded) receive buffer and TCP pushes back on the client.
 *
 * A client that sends as fast as it is read from would keep "until
 * `-EAGAIN`" from ever ending while the others wait, so after
 * `READS_PER_EVENT` reads the connection yields: `EPOLL_CTL_MOD` with the
 * same interest re-reports the readiness it still has (Linux's
 * `ep_modify`), and it is served again at the next wait, after the others.
 *
 * When descriptors run out (`accept` gives `EMFILE`; try `--max-fds 64`),
 * the listener is unwatched until a connection closes, and watching it again
 * re-polls it, so the connections still queued give a fresh edge
 * (`examples/_accept_gate.ts`).
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
  EPOLLET,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  epollWait,
  read,
  write,
} from "../mod.ts";
import { openListener, parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { drainTimeoutFlag, GracefulStop } from "./_graceful.ts";

/** Per-connection state: the fd and the bytes still to echo. */
interface Conn {
  fd: number;
  pending: Uint8Array | null;
}

const opts = parseServerArgs({
  name: "echo_server_et",
  task: "echo:et",
  summary: "an edge-triggered echo server (EPOLLET, drain until EAGAIN)",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: nc 127.0.0.1 8080",
  ],
  flags: { "drain-timeout": drainTimeoutFlag },
});
const stats = new Stats();
const epfd = epollCreate1(0);
// SIGTERM and SIGINT as an event in this loop, caught before the "listening" line.
const stop = new GracefulStop("echo_server_et", opts["drain-timeout"]);
epollCtl(epfd, EPOLL_CTL_ADD, stop.fd, { events: EPOLLIN, data: stop });
const listenFd = await openListener("echo_server_et", opts);
const LISTENER = Symbol("listener");
// Unwatches the listener while accept() gives EMFILE, until a connection closes.
const gate = new AcceptGate(epfd, listenFd, LISTENER, EPOLLIN | EPOLLET);
if (opts.stats) startStats("echo_server_et", stats, opts.interval, opts.backend);

const buf = new Uint8Array(65536);
/** What every connection is watched for. */
const CONN_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
/** Reads (of up to 64 KiB) one event serves before the connection yields to the others. */
const READS_PER_EVENT = 16;
const events: EpollEvent[] = [];
/** Every open connection, for the graceful stop. */
const conns = new Set<Conn>();

/** Writes `data` fully or keeps the rest in `c.pending`; false when the connection is gone. */
function send(c: Conn, data: Uint8Array): boolean {
  const n = write(c.fd, data);
  if (n === data.length) {
    stats.bytesOut += n;
    return true;
  }
  if (n < 0 && n !== -EAGAIN) return false;
  stats.bytesOut += Math.max(n, 0);
  c.pending = data.slice(Math.max(n, 0));
  return true;
}

/** Flushes, then drains reads until EAGAIN. Returns false when the connection is done. */
function serve(c: Conn): boolean {
  if (c.pending !== null) {
    const rest = c.pending;
    c.pending = null;
    if (!send(c, rest)) return false;
    if (c.pending !== null) return true; // still full: wait for the next EPOLLOUT edge
  }
  for (let reads = 0;; reads++) {
    if (reads === READS_PER_EVENT) {
      // A fast sender: re-arming reports it again at the next wait, after the others.
      epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: CONN_EVENTS, data: c });
      return true;
    }
    const r = read(c.fd, buf);
    if (r === -EAGAIN) return true;
    if (r <= 0) return false; // 0: the client closed; < 0: reset
    stats.bytesIn += r;
    if (!send(c, buf.subarray(0, r))) return false;
    if (c.pending !== null) return true;
  }
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      // Edge-triggered: accept until EAGAIN (or EMFILE), or later connections are missed;
      // after a batch of 64 the gate re-arms the listener for a fresh edge (_accept_gate.ts).
      gate.acceptAll((fd) => {
        const c: Conn = { fd, pending: null };
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: CONN_EVENTS, data: c });
        conns.add(c);
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    if (ev.data === stop) {
      stop.caught(); // the rest of this batch is served first
      continue;
    }
    const c = ev.data as Conn;
    if (!serve(c)) {
      close(c.fd);
      conns.delete(c);
      stats.open--;
      gate.fdClosed();
    }
  }
  if (stop.signal) {
    // Stop accepting; every connection gets what it is owed, then EOF (_graceful.ts).
    const owed = [...conns].map((c) => ({ fd: c.fd, pending: c.pending ? [c.pending] : [] }));
    await stop.drain(listenFd, owed, stats);
  }
}
