/**
 * A datagram server's socket and loop, shared by the UDP examples
 * (`udp_echo_server.ts`, `dns_server.ts`): {@linkcode openDatagram} binds a
 * UDP socket on `--host`:`--port` the way `openListener` (`_listen.ts`)
 * opens a TCP one, and {@linkcode serveDatagrams} answers datagrams in
 * batches until the process is stopped.
 *
 * The loop, per wakeup of one level-triggered `EPOLLIN` watch: `recvmmsg`
 * fills up to `--batch` slots, a pure function turns each datagram into its
 * reply (or none), and one `sendmmsg` sends the replies to their senders;
 * again while batches come back full, at most 16 times before the next
 * wait (where a stop signal arrives, even under a flood). On
 * the native backend each of those is one system call per batch, as in a C
 * server; the deno backend does the same calls over `Deno.listenDatagram`.
 *
 * Backpressure: when the send buffer is full (`sendmmsg` stops short with
 * `EAGAIN`), the unsent replies are kept, the socket is watched for
 * `EPOLLOUT` only, and nothing more is read until they are out. Datagrams
 * that arrive meanwhile queue in the kernel's receive buffer and, once it is
 * full, are dropped there: memory stays bounded by the batch (`--batch`
 * slots of 64 KiB), whatever the clients send. A reply the kernel refuses
 * (an unreachable or invalid source address) is dropped and counted, and the
 * rest of the batch still goes out.
 *
 * Loops: a datagram whose source is the socket itself, or a port below 1024
 * (echo 7, chargen 19, NTP 123 and the other services that answer anything),
 * gets no reply, because a forged source address would otherwise start two
 * servers answering each other forever (or this one answering itself). A
 * server that must answer one such port names it in `allowPorts` (DNS: 53,
 * where old resolvers send from; its replies, marked as responses, end any
 * loop with another DNS server). Withheld replies are counted as dropped.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  bind,
  EAGAIN,
  ECONNREFUSED,
  EINTR,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  EPROTONOSUPPORT,
  errnoName,
  getSocketBackend,
  getsockname,
  read,
  type RecvMessage,
  recvmmsg,
  type SendMessage,
  sendmmsg,
  setsockopt,
  SFD_NONBLOCK,
  signalfd,
  SO_RCVBUF,
  SO_SNDBUF,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  type SockAddr,
  socket,
  SOL_SOCKET,
  strerror,
} from "../mod.ts";
import { STOP_SIGNALS } from "./_graceful.ts";
import { intFlag } from "./_flags.ts";
import { resolveHost, type ServerOptions, socketError } from "./_listen.ts";
import type { Stats } from "./_stats.ts";
import { fail } from "./_trap.ts";

/** The largest UDP datagram over IPv4 (and so the size of each receive slot). */
const MAX_DATAGRAM = 65536;
/** The socket buffers asked for (Linux caps them at net.core.rmem_max / wmem_max). */
const SOCKET_BUFFER = 4 << 20;

/**
 * Batches read per wake-up before the loop waits again. The socket is
 * level-triggered, so under a flood the wait returns at once, but it is
 * where the stop signal arrives and where the library lets Deno's runtime
 * run (without a bound a flood that never lets the receive queue empty
 * kept the loop from ever waiting: SIGTERM was never seen).
 */
const BATCHES_PER_WAKE = 16;

/** `--batch N`: datagrams per `recvmmsg`/`sendmmsg` call. */
export const batchFlag = intFlag("N", "datagrams received and sent per system call", 64, 1, 1024);

/** `--port N` for a UDP server (the shared one says TCP). */
export function udpPortFlag(fallback: number): ReturnType<typeof intFlag> & { short: string } {
  return {
    ...intFlag(
      "N",
      "UDP port to listen on; 0 picks a free port (printed at start)",
      fallback,
      0,
      65535,
    ),
    short: "p",
  };
}

/**
 * Opens a UDP socket bound to `--host`:`--port` with 4 MiB socket buffers
 * and prints `NAME listening on HOST:PORT (BACKEND backend) for UDP datagrams`. Exits with
 * one line on stderr when it cannot. SIGINT and SIGTERM stop the server
 * from its own loop ({@linkcode serveDatagrams}).
 */
export async function openDatagram(name: string, opts: ServerOptions): Promise<number> {
  const { family, address } = await resolveHost(opts.host);
  const where = `${family === AF_INET6 ? `[${address}]` : address}:${opts.port}`;
  const fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd === -EPROTONOSUPPORT) {
    fail(
      name,
      "the deno backend's UDP rides on Deno.listenDatagram, which needs --unstable-net " +
        '(or "unstable": ["net"] in deno.json); add it, or use --backend native',
    );
  }
  if (fd < 0) fail(name, `cannot open a socket: ${strerror(fd)} (${errnoName(fd)})`);
  // Best effort: the deno backend keeps its own bounded queues.
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER);
  const r = bind(fd, { family, address, port: opts.port });
  if (r < 0) fail(name, `cannot bind ${where}: ${socketError(r)}`);
  const addr = {} as SockAddr;
  getsockname(fd, addr);
  if (addr.family !== AF_INET && addr.family !== AF_INET6) fail(name, "unexpected local address");
  const host = addr.family === AF_INET6 ? `[${addr.address}]` : addr.address;
  console.log(
    `${name} listening on ${host}:${addr.port} (${getSocketBackend()} backend) for UDP datagrams`,
  );
  return fd;
}

/**
 * Turns datagram number `slot` of a batch into its reply: the bytes to send
 * back to its sender, or `null` to send nothing. The bytes must stay
 * untouched until the next call with the same `slot` (a per-slot buffer, or
 * the datagram itself).
 */
export type Answer = (datagram: Uint8Array, slot: number) => Uint8Array | null;

/** The lowest source port answered (see "Loops" in the module doc). */
const FIRST_ANSWERED_PORT = 1024;

/** Whether a reply to `from` could start a loop (see the module doc), and so is withheld. */
function loopRisk(from: SockAddr, self: SockAddr, allowPorts: readonly number[]): boolean {
  if (from.family !== AF_INET && from.family !== AF_INET6) return false;
  if (self.family === from.family && from.port === self.port) {
    // Bound to a wildcard address, every local address is the socket's own.
    const wildcard = self.address === "0.0.0.0" || self.address === "::";
    if (wildcard || from.address === self.address) return true;
  }
  return from.port < FIRST_ANSWERED_PORT && !allowPorts.includes(from.port);
}

/**
 * Serves datagrams on `fd` forever: receives batches of up to `batch`,
 * answers each with `answer`, sends the replies (see the module doc for
 * backpressure and loops). Counts datagrams, bytes and epoll events in
 * `stats`.
 */
export async function serveDatagrams(
  name: string,
  fd: number,
  batch: number,
  answer: Answer,
  stats: Stats,
  allowPorts: readonly number[] = [],
): Promise<never> {
  const self = {} as SockAddr;
  getsockname(fd, self);
  const epfd = epollCreate1(0);
  epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd });
  // SIGINT and SIGTERM arrive as events in this loop (a signalfd), like the TCP servers'.
  const stop = signalfd(-1, [...STOP_SIGNALS], SFD_NONBLOCK);
  if (stop < 0) fail(name, `signalfd: ${strerror(stop)} (${errnoName(stop)})`);
  epollCtl(epfd, EPOLL_CTL_ADD, stop, { events: EPOLLIN, data: stop });
  const slots: RecvMessage[] = [];
  for (let i = 0; i < batch; i++) {
    slots.push({ buf: new Uint8Array(MAX_DATAGRAM), addr: {} as SockAddr });
  }
  const events: EpollEvent[] = [];
  let out: SendMessage[] = []; // replies not yet sent (a full send buffer)

  /** Sends `out`; returns false (and keeps the rest) when the send buffer is full. */
  const flush = (): boolean => {
    while (out.length > 0) {
      const n = sendmmsg(fd, out, 0);
      if (n === -EAGAIN) return false;
      if (n < 0) { // the first reply cannot be sent at all: drop it, send the rest
        stats.dropped++;
        out = out.slice(1);
        continue;
      }
      for (let i = 0; i < n; i++) stats.bytesOut += out[i].buf.length;
      stats.datagramsOut += n;
      out = n === out.length ? [] : out.slice(n);
    }
    return true;
  };

  const siginfo = new Uint8Array(128);
  for (;;) {
    const n = await epollWait(epfd, events, 2, -1);
    stats.events += n;
    if (events.slice(0, n).some((e) => e.data === stop) && read(stop, siginfo) === 128) {
      // Stop: the replies owed for what was read go out first (a datagram
      // server holds no connection to drain), then one line and exit 0.
      const sent = flush();
      const signo = new DataView(siginfo.buffer).getUint32(0, true);
      console.log(
        `${name}: ${signo === STOP_SIGNALS[0] ? "SIGINT" : "SIGTERM"}: stopped; ` +
          `${stats.datagramsIn} datagrams in, ${stats.datagramsOut} out` +
          (sent ? "" : ` (${out.length} replies unsent: the send buffer stayed full)`),
      );
      Deno.exit(0);
    }
    if (out.length > 0) {
      if (!flush()) continue; // still full: keep waiting for EPOLLOUT
      epollCtl(epfd, EPOLL_CTL_MOD, fd, { events: EPOLLIN, data: fd });
    }
    // At most BATCHES_PER_WAKE batches, then back to the wait: under a flood
    // the queue never empties, and the stop signal is only seen there.
    for (let batches = 0; batches < BATCHES_PER_WAKE; batches++) {
      const got = recvmmsg(fd, slots, 0);
      if (got === -EAGAIN) break;
      if (got === -ECONNREFUSED || got === -EINTR) continue; // an earlier reply's ICMP error
      if (got < 0) fail(name, `recvmmsg: ${strerror(got)} (${errnoName(got)})`);
      stats.datagramsIn += got;
      for (let i = 0; i < got; i++) {
        const s = slots[i];
        stats.bytesIn += s.length!;
        if (loopRisk(s.addr!, self, allowPorts)) {
          stats.dropped++;
          continue;
        }
        const reply = answer(s.buf.subarray(0, s.length), i);
        if (reply !== null) out.push({ buf: reply, addr: s.addr });
      }
      if (!flush()) {
        // The send buffer is full: stop reading until the replies are out.
        epollCtl(epfd, EPOLL_CTL_MOD, fd, { events: EPOLLOUT, data: fd });
        break;
      }
      if (got < batch) break; // the queue is (almost surely) empty: back to epoll
    }
  }
}
