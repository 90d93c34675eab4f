/**
 * Graceful shutdown for the example servers: SIGTERM and SIGINT arrive as
 * events in the server's own loop (a signalfd in its epoll set, or
 * `EVFILT_SIGNAL` knotes in its kqueue), and then:
 *
 * 1. **Stop accepting**: the listening socket is closed (new connections
 *    are refused by the kernel).
 * 2. **Finish in-flight work**: every open connection is handed over with
 *    the replies it still owes (already computed: the servers answer what
 *    they have read at once). Nothing more is read from it as a request:
 *    the replies are written, then the write side is shut
 *    (`shutdown(SHUT_WR)`, so the client reads every byte, then EOF), and
 *    the connection is closed when the client closes its side. Closing
 *    with unread bytes would make the kernel send a reset that can destroy
 *    replies still in flight, so what the client sends after our EOF is
 *    read and discarded (it was never accepted: the client saw the EOF).
 * 3. **Time out**: whatever is not finished `--drain-timeout S` seconds
 *    after the signal is closed as it is.
 * 4. Print one line and **exit 0**: `NAME: SIGTERM: stopped; F connections
 *    finished, C cut at the drain timeout; I bytes in, O bytes out (U
 *    unsent)`. `O` counts every reply byte the socket took, so `I = O` for
 *    an echo server that lost nothing.
 *
 * Signals that come during the drain are ignored (the signalfd stays
 * open): `--drain-timeout` bounds the drain, and SIGKILL still ends it.
 *
 * The drain runs its own epoll set over the handed-over connections, so it
 * serves the epoll and the kqueue servers alike. With `--workers N` each
 * Worker catches the signal itself (Deno delivers a signal to every
 * listener in the process) and drains its own connections.
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
  SHUT_WR,
  shutdown,
  SIGINT,
  signalfd,
  SIGTERM,
  write,
} from "../mod.ts";
import { secondsFlag } from "./_flags.ts";
import type { Stats } from "./_stats.ts";
import { exit } from "./_trap.ts";

/** `--drain-timeout S`, for every server. */
export const drainTimeoutFlag = secondsFlag(
  "S",
  "on SIGTERM or SIGINT: seconds to finish in-flight work before closing what is left",
  10,
);

/** The signals that stop a server. */
export const STOP_SIGNALS: readonly number[] = [SIGINT, SIGTERM];

/** A connection handed to the drain, with the replies it still owes (oldest first). */
export interface Retiring {
  fd: number;
  pending: Uint8Array[];
}

/** A connection in the drain. */
interface Draining {
  fd: number;
  pending: Uint8Array[];
  /** The write side is shut: only waiting for the client's EOF. */
  shut: boolean;
}

/** The stop signal as an event, and the drain that follows it. */
export class GracefulStop {
  /** The signalfd for SIGINT and SIGTERM (-1 for a kqueue server, which uses knotes). */
  readonly fd: number;
  /** The signal that stopped the server (`"SIGTERM"`), once one has. */
  signal = "";

  /**
   * Catches SIGINT and SIGTERM from now on (create it before printing the
   * `listening on` line: whoever reads that line may signal at once).
   *
   * @param name The server's name, for its last line.
   * @param drainSeconds `--drain-timeout`.
   * @param withSignalfd Make the signalfd (epoll servers); a kqueue server
   * adds `EVFILT_SIGNAL` knotes for {@linkcode STOP_SIGNALS} instead.
   */
  constructor(readonly name: string, readonly drainSeconds: number, withSignalfd = true) {
    this.fd = withSignalfd ? signalfd(-1, [...STOP_SIGNALS], 0) : -1;
    if (this.fd < -1) throw new Error(`cannot catch SIGTERM: signalfd gave ${this.fd}`);
  }

  /** The signalfd is readable: records which signal came (the first one wins). */
  caught(): void {
    const info = new Uint8Array(128);
    if (read(this.fd, info) === 128) {
      this.caughtSignal(new DataView(info.buffer).getUint32(0, true));
    }
  }

  /** Records the signal number `signo` (a kqueue server's `EVFILT_SIGNAL` event). */
  caughtSignal(signo: number): void {
    this.signal ||= signo === SIGINT ? "SIGINT" : "SIGTERM";
  }

  /**
   * Stops accepting (closes `listenFd`), finishes `conns` as the module doc
   * says, prints the last line and exits 0. The caller's event loop is over:
   * it forgets the connections it handed over (the drain closes them).
   */
  async drain(listenFd: number, conns: Iterable<Retiring>, stats: Stats): Promise<never> {
    close(listenFd);
    // The signalfd stays open: a second SIGTERM (a supervisor signalling the group and the
    // process) must not cut the drain short; --drain-timeout bounds it, SIGKILL still ends it.
    const deadline = performance.now() + this.drainSeconds * 1000;
    const ep = epollCreate1(0);
    const live = new Set<Draining>();
    const discard = new Uint8Array(65536);
    let finished = 0;

    /** Writes what is owed, then shuts the write side, then waits for the client's EOF. */
    const step = (c: Draining): void => {
      while (c.pending.length > 0) {
        const n = write(c.fd, c.pending[0]);
        if (n === -EAGAIN) return;
        if (n < 0) return end(c, false); // the client is gone: its replies cannot arrive
        stats.bytesOut += n;
        if (n === c.pending[0].length) c.pending.shift();
        else c.pending[0] = c.pending[0].subarray(n);
      }
      if (!c.shut) {
        c.shut = true;
        shutdown(c.fd, SHUT_WR);
        epollCtl(ep, EPOLL_CTL_MOD, c.fd, { events: EPOLLIN, data: c });
      }
      for (;;) {
        const r = read(c.fd, discard);
        if (r === -EAGAIN) return;
        if (r <= 0) return end(c, true);
      }
    };
    const end = (c: Draining, done: boolean): void => {
      close(c.fd);
      live.delete(c);
      if (done) finished++;
    };

    for (const { fd, pending } of conns) {
      const c: Draining = { fd, pending: [...pending], shut: false };
      live.add(c);
      epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT, data: c });
      step(c);
    }
    const events: EpollEvent[] = [];
    while (live.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const n = await epollWait(ep, events, 256, Math.ceil(left));
      for (let i = 0; i < n; i++) {
        const c = events[i].data as Draining;
        if (live.has(c)) step(c);
      }
    }
    let unsent = 0;
    const cut = live.size;
    for (const c of live) {
      for (const p of c.pending) unsent += p.length;
      close(c.fd);
    }
    close(ep);
    console.log(
      `${this.name}: ${this.signal}: stopped; ${finished} connections finished, ${cut} cut at ` +
        `the drain timeout; ${stats.bytesIn} bytes in, ${stats.bytesOut} bytes out (${unsent} unsent)`,
    );
    exit(0);
  }
}
