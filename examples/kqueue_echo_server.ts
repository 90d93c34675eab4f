/**
 * An echo server written the BSD way, on deno-epoll's kqueue.
 *
 * ```sh
 * deno run --allow-net examples/kqueue_echo_server.ts [--host 127.0.0.1] [--port 8080] [--stats] [--interval 5] [--idle-timeout 60]
 * ```
 *
 * One kqueue, one loop, changes submitted with the next wait:
 *
 * - The listener is watched with `EVFILT_READ`; `data` is the number of
 *   pending connections, so the loop accepts exactly that many.
 * - A connection is watched with `EVFILT_READ | EV_CLEAR`: an event comes
 *   once per arrival, and its `data` is the byte count to read, which the
 *   loop reads whole (with `EV_CLEAR` nothing is reported again until more
 *   bytes arrive). `EV_EOF` with nothing left closes the connection.
 * - What the send buffer cannot take waits in a per-connection buffer: the
 *   connection's `EVFILT_READ` is disabled (`EV_DISABLE`, so a client that
 *   does not read stops being read from) and an `EVFILT_WRITE | EV_ONESHOT`
 *   knote waits for room; once flushed, `EV_ENABLE` re-evaluates the read
 *   side.
 * - Each connection has an idle timer, `EVFILT_TIMER | EV_ONESHOT` with the
 *   connection's fd as ident and `data` the timeout in milliseconds. Traffic
 *   either way (bytes read, or a backlog flushed) re-adds it, which restarts
 *   it; when it fires, the connection is closed.
 *   Timer knotes are not descriptors: the loop deletes them itself before
 *   `close(fd)` (which deletes the fd's READ and WRITE knotes).
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import {
  close,
  EAGAIN,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_ENABLE,
  EV_EOF,
  EV_ERROR,
  EV_ONESHOT,
  EVFILT_READ,
  EVFILT_SIGNAL,
  EVFILT_TIMER,
  EVFILT_WRITE,
  type KEvent,
  kevent,
  kqueue,
  NOTE_MSECONDS,
  read,
  write,
} from "../mod.ts";
import { idleTimeoutFlag } from "./_flags.ts";
import { openListener, parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { KqueueAcceptGate } from "./_accept_gate.ts";
import { drainTimeoutFlag, GracefulStop, STOP_SIGNALS } from "./_graceful.ts";

/** Per-connection state: the fd and the bytes still to echo. */
interface Conn {
  fd: number;
  pending: Uint8Array | null;
  open: boolean;
}

const opts = parseServerArgs({
  name: "kqueue_echo_server",
  task: "echo:kqueue",
  summary: "an echo server written the BSD way (kqueue), closing idle connections",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: nc 127.0.0.1 8080",
  ],
  flags: { "idle-timeout": idleTimeoutFlag(60), "drain-timeout": drainTimeoutFlag },
});
const idleMs = Math.round(opts["idle-timeout"] * 1000);
const stats = new Stats();
const kq = kqueue();
// SIGTERM and SIGINT as EVFILT_SIGNAL events, caught before the "listening" line.
const stop = new GracefulStop("kqueue_echo_server", opts["drain-timeout"], false);
const stopKnotes = STOP_SIGNALS.map((signo) => ({
  ident: signo,
  filter: EVFILT_SIGNAL,
  flags: EV_ADD,
  fflags: 0,
  data: 0,
  udata: stop,
}));
if (await kevent(kq, stopKnotes, [], 0, null) < 0) throw new Error("cannot catch SIGTERM");
const listenFd = await openListener("kqueue_echo_server", opts);
const LISTENER = Symbol("listener");
if (opts.stats) startStats("kqueue_echo_server", stats, opts.interval, opts.backend);

/** Changes collected during one batch of events, submitted with the next wait. */
let changes: KEvent[] = [];
// Disables the listener while accept() gives EMFILE (EV_DISABLE), until a connection closes.
const gate = new KqueueAcceptGate(listenFd, LISTENER, (change) => changes.push(change));

function queue(ident: number, filter: number, flags: number, data: number, udata: unknown): void {
  changes.push({
    ident,
    filter,
    flags,
    fflags: filter === EVFILT_TIMER ? NOTE_MSECONDS : 0,
    data,
    udata,
  });
}

/** (Re)starts the idle timer: re-adding a timer restarts it. */
function touch(c: Conn): void {
  if (idleMs > 0) queue(c.fd, EVFILT_TIMER, EV_ADD | EV_ONESHOT, idleMs, c);
}

/** Every open connection, for the graceful stop. */
const conns = new Set<Conn>();

function drop(c: Conn): void {
  if (!c.open) return;
  c.open = false;
  conns.delete(c);
  // The timer is not a descriptor knote: delete it now (close only deletes READ/WRITE).
  if (idleMs > 0) {
    void kevent(
      kq,
      [{ ident: c.fd, filter: EVFILT_TIMER, flags: EV_DELETE, fflags: 0, data: 0, udata: c }],
      [],
      0,
      null,
    );
  }
  close(c.fd);
  stats.open--;
  gate.fdClosed();
}

/** Writes `data`; keeps what does not fit, pauses reading and waits for room. */
function send(c: Conn, data: Uint8Array): boolean {
  const n = write(c.fd, data);
  if (n === data.length) return true;
  if (n < 0 && n !== -EAGAIN) return false;
  c.pending = data.slice(Math.max(n, 0));
  queue(c.fd, EVFILT_READ, EV_DISABLE, 0, c);
  queue(c.fd, EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, c);
  return true;
}

const buf = new Uint8Array(65536);
const events: KEvent[] = [];

for (;;) {
  const submit = changes;
  changes = [];
  const n = await kevent(kq, submit, events, 1024, null);
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    // A change that failed (its connection was closed meanwhile): nothing to do.
    if (ev.flags & EV_ERROR) continue;
    if (ev.udata === LISTENER) {
      // data: the connections waiting to be accepted.
      gate.acceptAll(ev.data, (fd) => {
        const c: Conn = { fd, pending: null, open: true };
        conns.add(c);
        queue(fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, c);
        touch(c);
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    if (ev.udata === stop) {
      stop.caughtSignal(ev.ident); // the rest of this batch is served first
      continue;
    }
    const c = ev.udata as Conn;
    if (!c.open) continue;
    if (ev.filter === EVFILT_TIMER) {
      stats.timedOut++;
      drop(c);
      continue;
    }
    if (ev.filter === EVFILT_WRITE) {
      const rest = c.pending!;
      const w = write(c.fd, rest);
      if (w < 0 && w !== -EAGAIN) {
        drop(c);
        continue;
      }
      if (w > 0) touch(c); // the client is reading: not idle
      stats.bytesOut += Math.max(w, 0); // bytes the socket took, counted once
      if (w < rest.length) {
        c.pending = rest.subarray(Math.max(w, 0));
        queue(c.fd, EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, c);
      } else {
        c.pending = null;
        queue(c.fd, EVFILT_READ, EV_ENABLE, 0, c);
      }
      continue;
    }
    // EVFILT_READ: data is the byte count to read; read it all (EV_CLEAR).
    let left = ev.data;
    let failed = false;
    while (left > 0 && c.pending === null) {
      const r = read(c.fd, buf.subarray(0, Math.min(left, buf.length)));
      if (r <= 0) {
        failed = r !== -EAGAIN;
        break;
      }
      left -= r;
      stats.bytesIn += r;
      if (!send(c, buf.subarray(0, r))) {
        failed = true;
        break;
      }
      stats.bytesOut += c.pending === null ? r : r - (c.pending as Uint8Array).length;
    }
    // EV_EOF: the client shut its side; close once what it sent is echoed
    // (with a backlog, EV_ENABLE re-reports the EOF after the flush).
    if (failed || (ev.flags & EV_EOF && left === 0 && c.pending === null)) {
      drop(c);
      continue;
    }
    if (ev.data > 0) touch(c);
  }
  if (stop.signal) {
    // Stop accepting; every connection gets what it is owed, then EOF (_graceful.ts).
    const owed = [...conns].map((c) => ({ fd: c.fd, pending: c.pending ? [c.pending] : [] }));
    await stop.drain(listenFd, owed, stats);
  }
}
