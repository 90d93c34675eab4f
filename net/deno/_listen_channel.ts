/**
 * The listen channel of a socket: a `Deno.Listener` with an accept pump that
 * keeps one `accept()` in flight and fills a bounded queue of connections
 * the program has not yet taken with `accept`.
 *
 * Each accepted connection is an arrival (`EPOLLIN`). The pump stops, and
 * further connections wait in the kernel's backlog (Deno listens with the
 * same backlog), when
 * - the queue holds `limit` (the `listen` backlog) or
 *   {@linkcode ACCEPT_QUEUE} connections, whichever is less: what the
 *   program can accept without Deno's runtime polling the kernel. A larger
 *   queue let a program accept thousands of connections in one microtask
 *   chain while every other connection's I/O waited for that poll (see
 *   "Fairness"), cost ~3.4 KB of process memory per connection
 *   (bench/queued_memory.ts), and put up to a second backlog of connections
 *   reset by a flood ahead of the next client; or
 * - the descriptor table is full: every queued connection is an OS
 *   descriptor, so it counts against the table's limit
 *   (`setDescriptorLimit`, the library's `RLIMIT_NOFILE`) until the program
 *   accepts it. The pump takes a connection from Deno only while the open
 *   fds plus the connections queued by every listener stay under the limit,
 *   except that each listener may always hold one, so that it stays readable
 *   and `accept` reports `-EMFILE` as on Linux. The pump resumes when an fd
 *   is closed.
 *
 * Accept errors: one that belongs to a single dead connection (the client
 * reset it while it waited in the backlog; Deno reports `NotConnected` when
 * it asks the dead socket for its peer address, or `ConnectionAborted` /
 * `ConnectionReset`) is skipped at once, as Linux's `accept` skips such a
 * connection. Any other error (descriptor exhaustion in the process, Deno
 * issue #10148) is retried after a short back-off instead of ending the loop.
 *
 * Fairness: Deno polls an `accept` once when it starts, so with connections
 * queued in the kernel each one settles at once, in a microtask, without
 * the event loop turning. Under a flood (connections arriving, or arriving
 * and dying, faster than they are taken) the pump alone is an endless
 * microtask chain, and every other connection's I/O, which completes only
 * when Deno's runtime polls the kernel (its `epoll_wait`), starves: a run
 * under a reset flood made one such poll a second. A forced loop turn
 * (`_loop_turn.ts`) helps only once in 61, because Deno's runtime polls the
 * kernel once per 61 of its ticks while busy; a timer does at once, because
 * the runtime sleeps in the poll until it fires. So after {@linkcode ACCEPT_BURST} dead connections
 * skipped, or {@linkcode ACCEPT_QUEUE} accepted (or a mix: see
 * {@linkcode LIVE_COST}), the pump pauses for a 0 ms timer: bounded work
 * per poll of the kernel, whatever the attacker's rate, while every
 * established connection gets its completions at each poll. (Counting
 * every connection alike, 64 a poll, a turn at the onset of a reset flood,
 * the connections still alive when accepted, took 10-20 ms of CPU, and the
 * established clients got 0-8 echoes in a second in which the server ran
 * ~100 ms: tests/hostile_reset_flood_test.ts.)
 *
 * Closing: Deno closes the listening socket only when the accept in flight
 * has been cancelled, on the event loop's next turn; until then the kernel
 * still completes handshakes, and those clients are reset instead of
 * refused. {@linkcode listenersClosed} lets this library's own `connect`
 * wait for that, so it is refused as on Linux (see README "Where it differs
 * from Linux" for clients outside the process).
 *
 * @module
 */

import type { ChannelEvents } from "./_data_channel.ts";
import { EPOLLIN, EPOLLRDNORM } from "../../runtime/core/constants.ts";
import { descriptors } from "../../runtime/core/fd_table.ts";
import { registerKeepAlive } from "./_keep_alive.ts";
import { currentKernel } from "../../runtime/core/kernel.ts";
import type { Timeout } from "../../runtime/core/_timer_queue.ts";

const IN = EPOLLIN | EPOLLRDNORM;
/** Delay before retrying after a failed accept. */
const RETRY_MS = 20;
/**
 * The accept pump's work between two turns of the event loop, in dead
 * connections skipped: each costs 1, each connection accepted alive
 * {@linkcode LIVE_COST}.
 */
export const ACCEPT_BURST = 64;
/**
 * What a connection accepted alive counts against {@linkcode ACCEPT_BURST}:
 * a dead one costs Deno four system calls (`accept4`, `getsockname`, a
 * failing `getpeername`, `close`); a live one those, and then the program's
 * read, write and close (under a reset flood, 11 or more), so that a turn
 * takes about as long whatever the flood's connections do when they
 * arrive.
 */
export const LIVE_COST = 4;
/** The most connections queued for `accept`: one turn's worth of live ones. */
export const ACCEPT_QUEUE = ACCEPT_BURST / LIVE_COST;

/** Closed listeners whose accept is still in flight (the socket is not closed yet). */
const closing = new Set<Promise<unknown>>();

/**
 * Resolves when every listener closed so far has released its socket, or
 * `undefined` when none is pending.
 */
export function listenersClosed(): Promise<void> | undefined {
  if (closing.size === 0) return undefined;
  return Promise.allSettled([...closing]).then(() => {});
}

/** Accept errors that concern one connection only: skip it and go on. */
function deadConnection(err: unknown): boolean {
  return err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.ConnectionReset;
}

/** A listening socket over a `Deno.Listener`. */
export class ListenChannel {
  readonly listener: Deno.Listener;
  /** Most connections held for `accept`. */
  limit: number;
  #queue: Deno.Conn[] = [];
  #head = 0;
  #owner: ChannelEvents;
  #accepting: Promise<void> | undefined;
  #closed = false;
  #retry: Timeout | undefined;
  /** The pump's pause for a poll of the kernel ({@linkcode ACCEPT_BURST}). */
  #pause: ReturnType<typeof setTimeout> | undefined;
  #waitingForSlot = false;
  /** Accepts settled since the pump last paused for a timer. */
  #burst = 0;
  #onSlot = () => {
    this.#waitingForSlot = false;
    this.#pump();
  };

  constructor(listener: Deno.Listener, owner: ChannelEvents, limit: number) {
    this.listener = listener;
    this.#owner = owner;
    this.limit = Math.max(1, limit);
    // Accepts in flight do not keep the process alive; a wait does (_keep_alive.ts).
    registerKeepAlive();
    listener.unref();
    this.#pump();
  }

  /** Connections waiting for `accept`. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Takes the oldest pending connection. The caller installs it in the
   * table (then calls {@linkcode taken}) or gives it back with
   * {@linkcode untake}.
   */
  take(): Deno.Conn | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const conn = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined as unknown as Deno.Conn;
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return conn;
  }

  /** The connection `take` returned now has an fd: it no longer counts as held. */
  taken(): void {
    descriptors.unhold();
    this.#pump();
  }

  /** Puts back a connection `take` returned (the program could not get an fd). */
  untake(conn: Deno.Conn): void {
    if (this.#head > 0) this.#queue[--this.#head] = conn;
    else this.#queue.unshift(conn);
  }

  /** Sets the queue bound (a second `listen` changes the backlog). */
  setLimit(limit: number): void {
    this.limit = Math.max(1, limit);
    this.#pump();
  }

  /** Closes the listener and every connection not yet accepted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retry?.cancel();
    if (this.#pause !== undefined) clearTimeout(this.#pause);
    if (this.#waitingForSlot) descriptors.cancelSlotWait(this.#onSlot);
    try {
      this.listener.close();
    } catch {
      // already closed
    }
    const inFlight = this.#accepting;
    if (inFlight !== undefined) {
      closing.add(inFlight);
      inFlight.finally(() => closing.delete(inFlight));
    }
    for (let i = this.#head; i < this.#queue.length; i++) {
      try {
        this.#queue[i].close();
      } catch {
        // already closed
      }
      descriptors.unhold();
    }
    this.#queue = [];
    this.#head = 0;
  }

  #pump(): void {
    if (this.#accepting !== undefined || this.#closed) return;
    if (this.#retry !== undefined || this.#pause !== undefined) return;
    if (this.pending >= Math.min(this.limit, ACCEPT_QUEUE)) return;
    if (this.#burst >= ACCEPT_BURST) return this.#pauseForPoll();
    if (!descriptors.hold(this.pending === 0)) {
      if (!this.#waitingForSlot) {
        this.#waitingForSlot = true;
        descriptors.whenSlotFree(this.#onSlot);
      }
      return;
    }
    if (this.#waitingForSlot) {
      this.#waitingForSlot = false;
      descriptors.cancelSlotWait(this.#onSlot);
    }
    this.#accepting = this.listener.accept().then(
      (conn) => this.#onAccept(conn),
      (err) => this.#onError(err),
    );
  }

  #onAccept(conn: Deno.Conn): void {
    this.#accepting = undefined;
    this.#burst += LIVE_COST;
    if (this.#closed) {
      descriptors.unhold();
      conn.close();
      return;
    }
    this.#queue.push(conn);
    this.#owner.channelRaised(IN);
    this.#pump();
  }

  #onError(err: unknown): void {
    this.#accepting = undefined;
    this.#burst++;
    descriptors.unhold();
    if (this.#closed) return;
    if (deadConnection(err)) {
      this.#pump();
      return;
    }
    this.#burst = 0;
    // On the kernel's clock, as every internal timer (runtime/core/clock.ts).
    this.#retry = currentKernel().timers.after(RETRY_MS, () => {
      this.#retry = undefined;
      this.#pump();
    });
  }

  /**
   * Pauses the pump for a 0 ms Deno timer: the runtime polls the kernel for
   * I/O before it fires (see "Fairness" above). A real timer, whatever the
   * kernel's clock: what it waits for is Deno's event loop, not time.
   */
  #pauseForPoll(): void {
    this.#burst = 0;
    this.#pause = setTimeout(() => {
      this.#pause = undefined;
      this.#pump();
    }, 0);
    Deno.unrefTimer(this.#pause);
  }
}
