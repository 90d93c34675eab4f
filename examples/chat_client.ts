/**
 * A line chat client on deno-epoll: the keyboard (descriptor 0) and a TCP
 * socket in one epoll loop, the C classic (`telnet`, `nc`), for
 * `examples/chat_server.ts`.
 *
 * ```sh
 * deno run --allow-net examples/chat_client.ts [--host 127.0.0.1] [--port 8080]
 * ```
 *
 * `openStdio()` makes descriptors 0, 1 and 2 the standard streams; the loop
 * watches 0 and the socket. What is typed goes to the server; what the
 * server sends goes to descriptor 1. Both directions have backpressure, as
 * a careful C client has: a direction whose destination is full (more than
 * {@linkcode MAX_PENDING} bytes waiting for the socket, or standard output
 * not taking more) stops reading its source until `EPOLLOUT` says the
 * destination has room, so a fast paste into a slow server or a flood from
 * the server to a slow terminal never grows memory.
 *
 * The end of the input (Ctrl-D, or the end of a piped file) shuts the
 * socket's write side (`shutdown(SHUT_WR)`): the server sees the client
 * leave, and the client keeps printing what still arrives until the server
 * closes. The server closing ends the client with status 0, after its last
 * bytes are printed; a failure to connect prints one line and exits 1.
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import {
  close,
  connect,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  errnoName,
  getsockopt,
  openStdio,
  read,
  SHUT_WR,
  shutdown,
  SO_ERROR,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  socket,
  SOL_SOCKET,
  strerror,
  write,
} from "../mod.ts";
import { fail } from "./_trap.ts";
import { intFlag, parseCommand, stringFlag } from "./_flags.ts";
import { resolveHost } from "./_listen.ts";

/** Most bytes typed but not yet taken by the socket before the keyboard is paused. */
export const MAX_PENDING = 64 * 1024;

const NAME = "chat_client";
const opts = parseCommand({
  name: NAME,
  summary: "a line chat client: the keyboard and the server in one epoll loop",
  details: [
    "Connects to examples/chat_server.ts. Lines typed go to the server; lines from others",
    "are printed. Ctrl-D (or the end of piped input) leaves; the server closing ends it.",
  ],
  flags: {
    host: stringFlag("HOST", "server address or host name", "127.0.0.1"),
    port: intFlag("N", "server port", 8080, 1, 65535),
  },
});

const e = openStdio();
if (e < 0) fail(NAME, `cannot open the standard streams: ${strerror(e)}`);
const { family, address } = await resolveHost(opts.host);
const sock = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
if (sock < 0) fail(NAME, `cannot open a socket: ${strerror(sock)} (${errnoName(sock)})`);
const epfd = epollCreate1(0);
const events: EpollEvent[] = [];

// Connect without blocking: EINPROGRESS, then EPOLLOUT, then SO_ERROR says how it went.
let r = connect(sock, { family, address, port: opts.port });
if (r === -EINPROGRESS) {
  epollCtl(epfd, EPOLL_CTL_ADD, sock, { events: EPOLLOUT, data: sock });
  await epollWait(epfd, events, 1, -1);
  r = -getsockopt(sock, SOL_SOCKET, SO_ERROR);
} else if (r === 0) {
  epollCtl(epfd, EPOLL_CTL_ADD, sock, { events: EPOLLOUT, data: sock });
}
if (r < 0) fail(NAME, `cannot connect to ${opts.host}:${opts.port}: ${strerror(r)}`);

/**
 * One direction of the copy: bytes read from `from`, waiting to be written
 * to `to`. The state machine of each side is spelt out in `interest()`.
 */
class Direction {
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** `from` has ended (0 or an error from read). */
  ended = false;
  constructor(readonly from: number, readonly to: number) {}

  /** Reads what `from` has, passing it on, until `from` would block, ends, or the bound is reached. */
  pull(buf: Uint8Array): void {
    while (!this.ended && this.pendingBytes < MAX_PENDING) {
      const n = read(this.from, buf);
      if (n === -EAGAIN) return;
      if (n <= 0) {
        this.ended = true;
        return;
      }
      this.pending.push(buf.slice(0, n));
      this.pendingBytes += n;
      if (!this.push()) this.abandon();
    }
  }

  /** Writes what waits; returns false when `to` failed (the peer is gone). */
  push(): boolean {
    while (this.pending.length > 0) {
      const chunk = this.pending[0];
      const n = write(this.to, chunk);
      if (n === -EAGAIN) return true;
      if (n < 0) return false;
      this.pendingBytes -= n;
      if (n === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(n);
    }
    return true;
  }

  /** `to` failed: drop what waits and read no more. */
  abandon(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.ended = true;
  }

  get drained(): boolean {
    return this.pending.length === 0;
  }
}

const up = new Direction(0, sock); // keyboard -> server
const down = new Direction(sock, 1); // server -> screen
let shutSent = false;

/**
 * Who is watched for what, from the two directions' states (a descriptor
 * with nothing to wait for leaves the set, so a hang-up that epoll always
 * reports cannot make the loop spin while a direction is paused):
 * - fd 0 for EPOLLIN while its input has not ended and `up` has room;
 * - the socket for EPOLLIN while `down` has room and the server has not
 *   closed, and for EPOLLOUT while `up` has bytes waiting;
 * - fd 1 for EPOLLOUT while `down` has bytes waiting.
 */
const watched = new Set<number>([sock]); // registered while connecting
function interest(fd: number, want: number): void {
  if (want === 0) {
    if (watched.delete(fd)) epollCtl(epfd, EPOLL_CTL_DEL, fd, null);
    return;
  }
  const op = watched.has(fd) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  epollCtl(epfd, op, fd, { events: want, data: fd });
  watched.add(fd);
}
function rearm(): void {
  interest(0, !up.ended && up.pendingBytes < MAX_PENDING ? EPOLLIN : 0);
  interest(
    sock,
    (!down.ended && down.pendingBytes < MAX_PENDING ? EPOLLIN : 0) | (up.drained ? 0 : EPOLLOUT),
  );
  interest(1, down.drained ? 0 : EPOLLOUT);
}

const buf = new Uint8Array(16384);
rearm();
while (!(down.ended && down.drained)) {
  const n = await epollWait(epfd, events, 8, -1);
  for (let i = 0; i < n; i++) {
    const { data: fd, events: ev } = events[i] as { data: number; events: number };
    if (fd === 0) up.pull(buf);
    else if (fd === 1) down.push();
    else {
      if (ev & EPOLLOUT && !up.push()) up.abandon(); // the server is gone: what was typed cannot go
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) down.pull(buf);
    }
  }
  if (!down.push()) break; // standard output is gone: nothing left to show
  // The keyboard ended and everything typed went out: say goodbye with a FIN.
  if (up.ended && up.drained && !shutSent) {
    shutdown(sock, SHUT_WR);
    shutSent = true;
  }
  rearm();
}
close(epfd);
close(sock);
