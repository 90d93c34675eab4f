/**
 * A level-triggered echo server on deno-epoll.
 *
 * ```sh
 * deno run -A examples/echo_server.ts [--host 127.0.0.1] [--port 8080] [--stats] [--max-fds N]
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
 * @module
 */

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
import { openListener, parseServerArgs, startStats, Stats } from "./_cli.ts";
import { AcceptGate } from "./_accept_gate.ts";

/** Per-connection state: the fd and the bytes still to echo. */
interface Conn {
  fd: number;
  pending: Uint8Array | null;
}

const opts = parseServerArgs();
const stats = new Stats();
const epfd = epollCreate1(0);
const listenFd = openListener("echo_server", opts);
const LISTENER = Symbol("listener");
// Unwatches the listener while accept() gives EMFILE, until a connection closes.
const gate = new AcceptGate(epfd, listenFd, LISTENER);
if (opts.stats) startStats("echo_server", stats, opts.interval);

const buf = new Uint8Array(65536);
const events: EpollEvent[] = [];

function drop(c: Conn): void {
  close(c.fd); // also removes it from the epoll set
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
        const c: Conn = { fd, pending: null };
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    const c = ev.data as Conn;
    if (c.pending !== null) {
      // Watching EPOLLOUT: flush what is left, then go back to reading.
      const rest = c.pending;
      c.pending = null;
      const w = write(c.fd, rest);
      if (w < 0 && w !== -EAGAIN) {
        drop(c);
      } else if (w < rest.length) {
        c.pending = rest.subarray(Math.max(w, 0));
      } else {
        stats.bytesOut += rest.length;
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
    if (!send(c, buf.subarray(0, r))) drop(c);
    else stats.bytesOut += r;
  }
}
