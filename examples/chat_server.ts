/**
 * A line-based chat server on deno-epoll: every line a client sends goes to
 * every other connected client, prefixed with the sender's id.
 *
 * ```sh
 * deno run --allow-net examples/chat_server.ts [--host 127.0.0.1] [--port 8080] [--stats] [--interval 5]
 * ```
 *
 * One epoll set, level-triggered, one loop. Clients get ids 1, 2, 3, ... in
 * the order they are accepted; `hello\n` from client 3 reaches the others
 * as `[3] hello\n` (a trailing `\r` is dropped, so telnet works). All the
 * complete lines of one read become one message, built once and shared by
 * every recipient's queue.
 *
 * Memory stays bounded whatever the clients do:
 *
 * - Outgoing: a message is written at once when the client's queue is
 *   empty; what the socket does not take waits in the client's queue (at
 *   most {@linkcode MAX_QUEUED} bytes), and the client is watched for
 *   `EPOLLOUT` as well as `EPOLLIN` until the queue is flushed. A message
 *   that would push the queue past the bound **drops the client**: it is
 *   closed and told why on stderr (`dropped client N: ...`). Dropping, not
 *   skipping messages, is the choice here because a chat transcript with
 *   silent holes is worse than a disconnect the client can see and recover
 *   from by reconnecting. Nobody else waits for a slow client: the others
 *   keep chatting at full speed.
 * - Incoming: a line longer than {@linkcode MAX_LINE} bytes also drops its
 *   sender, so a client that never sends `\n` cannot grow its buffer.
 *
 * A partial line left when a client disconnects is discarded.
 *
 * When descriptors run out (`accept` gives `EMFILE`; try `--max-fds 64`),
 * the listener is unwatched until a client leaves (`examples/_accept_gate.ts`). *
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
import { openListener, parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { AcceptGate } from "./_accept_gate.ts";
import { drainTimeoutFlag, GracefulStop } from "./_graceful.ts";

/** Most bytes waiting for one client before it is dropped. */
export const MAX_QUEUED = 256 * 1024;
/** Longest line a client may send (without its `\n`). */
export const MAX_LINE = 16 * 1024;

/** Per-client state. */
interface Client {
  fd: number;
  id: number;
  /** `"[id] "`, encoded once. */
  prefix: Uint8Array;
  /** Start of a line whose `\n` has not arrived yet. */
  partial: Uint8Array | null;
  /** Messages waiting for `EPOLLOUT`; `queue[0]` starts at `head`. */
  queue: Uint8Array[];
  head: number;
  /** Bytes in `queue` not yet written. */
  queued: number;
  closed: boolean;
}

const opts = parseServerArgs({
  name: "chat_server",
  task: "chat",
  summary: "a line-based chat: every line a client sends goes to every other client",
  details: [
    "Prints one line with the address it listens on, one line per dropped client (stderr),",
    "and --stats lines; stop it with Ctrl-C. Try: nc 127.0.0.1 8080 in two terminals.",
  ],
  flags: { "drain-timeout": drainTimeoutFlag },
});
const stats = new Stats();
const epfd = epollCreate1(0);
// SIGTERM and SIGINT as an event in this loop, caught before the "listening" line.
const stop = new GracefulStop("chat_server", opts["drain-timeout"]);
epollCtl(epfd, EPOLL_CTL_ADD, stop.fd, { events: EPOLLIN, data: stop });
const listenFd = await openListener("chat_server", opts);
const LISTENER = Symbol("listener");
// Unwatches the listener while accept() gives EMFILE, until a connection closes.
const gate = new AcceptGate(epfd, listenFd, LISTENER);
if (opts.stats) startStats("chat_server", stats, opts.interval, opts.backend);

const encoder = new TextEncoder();
const buf = new Uint8Array(65536);
const events: EpollEvent[] = [];
const clients = new Set<Client>();
let nextId = 1;

function drop(c: Client, why?: string): void {
  if (c.closed) return;
  if (why) console.error(`chat_server: dropped client ${c.id}: ${why}`);
  c.closed = true;
  c.queue = [];
  c.queued = 0;
  clients.delete(c);
  close(c.fd); // also removes it from the epoll set
  stats.open--;
  gate.fdClosed();
}

/** Writes what it can of the queue; back to `EPOLLIN` only once it is empty. */
function flush(c: Client): void {
  while (c.queue.length > 0) {
    const msg = c.queue[0];
    const w = write(c.fd, c.head === 0 ? msg : msg.subarray(c.head));
    if (w === -EAGAIN) return;
    if (w < 0) return drop(c);
    stats.bytesOut += w;
    c.queued -= w;
    c.head += w;
    if (c.head < msg.length) return; // the socket is full: wait for EPOLLOUT
    c.queue.shift();
    c.head = 0;
  }
  epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
}

/** Sends `msg` to `c` now, or queues it (watching EPOLLOUT), or drops `c` when full. */
function deliver(c: Client, msg: Uint8Array): void {
  if (c.queued > 0) {
    if (c.queued + msg.length > MAX_QUEUED) {
      return drop(c, `more than ${MAX_QUEUED} bytes queued`);
    }
    c.queue.push(msg);
    c.queued += msg.length;
    return;
  }
  const w = write(c.fd, msg);
  if (w === msg.length) {
    stats.bytesOut += w;
    return;
  }
  if (w < 0 && w !== -EAGAIN) return drop(c);
  const sent = Math.max(w, 0);
  stats.bytesOut += sent;
  if (msg.length - sent > MAX_QUEUED) return drop(c, `more than ${MAX_QUEUED} bytes queued`);
  c.queue.push(msg);
  c.head = sent;
  c.queued = msg.length - sent;
  epollCtl(epfd, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN | EPOLLOUT, data: c });
}

/**
 * Turns the complete lines in `data` (after `c.partial`) into one message
 * of `[id] line\n` entries, keeps the unfinished tail, and returns the
 * message (null when no line is complete, or when the tail is too long and
 * `c` was dropped).
 */
function frame(c: Client, data: Uint8Array): Uint8Array | null {
  if (c.partial !== null) {
    const joined = new Uint8Array(c.partial.length + data.length);
    joined.set(c.partial);
    joined.set(data, c.partial.length);
    data = joined;
    c.partial = null;
  }
  // First pass: count the bytes of the message.
  let size = 0;
  let start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
    if (end - start > MAX_LINE) {
      drop(c, `line longer than ${MAX_LINE} bytes`);
      return null;
    }
    size += c.prefix.length + (end - start) + 1;
    start = nl + 1;
  }
  if (data.length - start > MAX_LINE) {
    drop(c, `line longer than ${MAX_LINE} bytes`);
    return null;
  }
  if (start < data.length) c.partial = data.slice(start);
  if (size === 0) return null;
  // Second pass: copy the lines in.
  const msg = new Uint8Array(size);
  let at = 0;
  start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
    msg.set(c.prefix, at);
    at += c.prefix.length;
    msg.set(data.subarray(start, end), at);
    at += end - start;
    msg[at++] = 10;
    start = nl + 1;
  }
  return msg;
}

for (;;) {
  const n = await epollWait(epfd, events, 1024, -1);
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      gate.acceptAll((fd) => {
        const id = nextId++;
        const c: Client = {
          fd,
          id,
          prefix: encoder.encode(`[${id}] `),
          partial: null,
          queue: [],
          head: 0,
          queued: 0,
          closed: false,
        };
        clients.add(c);
        epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: c });
        stats.open++;
        stats.accepted++;
      });
      continue;
    }
    if (ev.data === stop) {
      stop.caught(); // the rest of this batch is relayed first
      continue;
    }
    const c = ev.data as Client;
    if (c.closed) continue; // dropped earlier in this batch
    if (ev.events & EPOLLOUT && c.queued > 0) {
      flush(c);
      if (c.closed) continue;
    }
    if ((ev.events & ~EPOLLOUT) === 0) continue;
    const r = read(c.fd, buf);
    if (r === -EAGAIN) continue;
    if (r <= 0) {
      drop(c); // 0: the client closed; < 0: reset
      continue;
    }
    stats.bytesIn += r;
    const msg = frame(c, buf.subarray(0, r));
    if (msg === null) continue;
    for (const other of clients) {
      if (other !== c) deliver(other, msg);
    }
  }
  if (stop.signal) {
    // Stop accepting; every client gets the lines queued for it, then EOF (_graceful.ts).
    const owed = [...clients].map((c) => ({
      fd: c.fd,
      pending: c.queue.map((msg, i) => (i === 0 ? msg.subarray(c.head) : msg)),
    }));
    await stop.drain(listenFd, owed, stats);
  }
}
