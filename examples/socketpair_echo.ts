/**
 * Several socketpairs through one epoll, all in memory (no permissions):
 *
 * ```sh
 * deno run examples/socketpair_echo.ts [--clients 8] [--messages 100] [--stats] [--interval 5]
 * ```
 *
 * Each of `--clients` client ends sends `--messages` lines, one at a time; a
 * level-triggered "server" loop echoes whatever arrives on the other ends;
 * each client checks that the echo matches what it sent before sending its
 * next line. Prints one summary line and exits 0, or one error line and
 * exits 1.
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import {
  AF_UNIX,
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
  errnoName,
  read,
  SOCK_STREAM,
  socketpair,
  write,
} from "../mod.ts";

import { COMMON_FLAGS, intFlag, parseCommand } from "./_flags.ts";
import { startStats, Stats } from "./_stats.ts";

const opts = parseCommand({
  name: "socketpair_echo",
  task: "socketpair",
  summary: "clients echo lines through in-memory socketpairs and one epoll, then exit",
  details: [
    "Prints one summary line when every echo is verified and exits 0 (with --stats, a",
    "summary line every --interval seconds while it runs). Needs no permissions.",
  ],
  permissions: "",
  flags: {
    clients: intFlag("N", "number of socketpairs", 8, 1, 10_000),
    messages: intFlag("N", "lines each client sends and checks", 100, 1, 1e9),
    ...COMMON_FLAGS,
  },
});
const CLIENTS = opts.clients;
const MESSAGES = opts.messages;
const stats = new Stats();
const stopStats = opts.stats ? startStats("socketpair_echo", stats, opts.interval) : () => {};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Client {
  role: "client";
  id: number;
  fd: number;
  sent: number;
  /** The line in flight and how much of its echo came back. */
  line: Uint8Array;
  got: number;
}

interface Server {
  role: "server";
  fd: number;
  /** Echo bytes the client end had no room for yet. */
  pending: Uint8Array;
}

function check(result: number, what: string): number {
  if (result < 0) throw new Error(`${what}: ${errnoName(result)}`);
  return result;
}

const epfd = check(epollCreate1(0), "epoll_create1");
const clients: Client[] = [];
const servers: Server[] = [];

for (let id = 0; id < CLIENTS; id++) {
  const sv: number[] = [];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
  const client: Client = { role: "client", id, fd: sv[0], sent: 0, line: new Uint8Array(), got: 0 };
  const server: Server = { role: "server", fd: sv[1], pending: new Uint8Array() };
  clients.push(client);
  servers.push(server);
  stats.open++;
  stats.accepted++;
  // Level-triggered on both sides; `data` is the object itself.
  check(epollCtl(epfd, EPOLL_CTL_ADD, client.fd, { events: EPOLLIN, data: client }), "epoll_ctl");
  check(epollCtl(epfd, EPOLL_CTL_ADD, server.fd, { events: EPOLLIN, data: server }), "epoll_ctl");
}

function sendNext(c: Client): void {
  c.line = encoder.encode(`client ${c.id} message ${c.sent}\n`);
  c.got = 0;
  // Short lines always fit in an empty socket buffer.
  if (check(write(c.fd, c.line), "write") !== c.line.length) throw new Error("short write");
  c.sent++;
}

/** Echoes what is pending, then asks for EPOLLOUT only while some is left. */
function flush(s: Server): void {
  if (s.pending.length > 0) {
    const n = write(s.fd, s.pending);
    if (n !== -EAGAIN) s.pending = s.pending.subarray(check(n, "write"));
  }
  const events = s.pending.length > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN;
  check(epollCtl(epfd, EPOLL_CTL_MOD, s.fd, { events, data: s }), "epoll_ctl");
}

const buf = new Uint8Array(4096);
const events: EpollEvent[] = [];
let echoes = 0;
let bytes = 0;
let waits = 0;
let done = 0;

for (const c of clients) sendNext(c);

while (done < CLIENTS) {
  const n = await epollWait(epfd, events, 64, 1000);
  if (n === 0) throw new Error("stalled: no event for a second");
  check(n, "epoll_wait");
  waits++;
  stats.events += n;
  for (let i = 0; i < n; i++) {
    const { events: revents, data } = events[i];
    const end = data as Client | Server;
    if (end.role === "server") {
      if (revents & EPOLLIN) {
        const got = check(read(end.fd, buf), "read");
        stats.bytesIn += got;
        const joined = new Uint8Array(end.pending.length + got);
        joined.set(end.pending);
        joined.set(buf.subarray(0, got), end.pending.length);
        end.pending = joined;
      }
      flush(end);
      continue;
    }
    const got = read(end.fd, buf);
    if (got === -EAGAIN) continue;
    check(got, "read");
    const want = end.line.subarray(end.got, end.got + got);
    if (got > want.length || decoder.decode(buf.subarray(0, got)) !== decoder.decode(want)) {
      throw new Error(`client ${end.id}: echo mismatch`);
    }
    end.got += got;
    if (end.got < end.line.length) continue;
    echoes++;
    bytes += end.line.length;
    if (end.sent < MESSAGES) sendNext(end);
    else done++;
  }
}

stopStats();
for (const c of clients) check(close(c.fd), "close");
for (const s of servers) check(close(s.fd), "close");
check(close(epfd), "close");

console.log(
  `socketpair_echo: ${CLIENTS} clients, ${echoes} messages echoed, ${bytes} bytes verified, ${waits} waits`,
);
