/**
 * What keeps a program on the Deno backend alive: only a wait it is in, as
 * with C on Linux.
 *
 * A C program whose `main` returns with a listener or a connected socket
 * open exits at once; the kernel goes on with what the sockets still owe
 * (bytes already written are delivered, a listener's queued clients are
 * reset). Deno, though, keeps a process alive while any operation is in
 * flight, and this backend always has one: the accept pump's
 * `listener.accept()` and the read pump's `conn.read()`. So the accept
 * pump is unref'd (`Deno.Listener.unref()`, and its timers), the read
 * pumps' connections are unref'd as soon as the program stops waiting
 * (`Deno.Conn.unref()`, see {@linkcode KeepAlive}), and while a wait
 * sleeps, the shared hold (`runtime/core/_loop_hold.ts`, one timer that
 * never does anything) is ref'd instead: the process stays alive while a
 * task waits (`epollWait`, `kevent`) and exits when the program has
 * nothing left to wait for (within about two of the hold's
 * `HOLD_CHECK_MS` ticks).
 *
 * Kept alive, by choice:
 * - a write in flight (`conn.write()` of bytes in this library's send
 *   buffer): on Linux those bytes would already be in the kernel, which
 *   delivers them after the process exits, so the process waits until
 *   Deno has handed them to the kernel. With a peer that never reads and
 *   a full kernel buffer, that is until the peer reads or the connection
 *   fails; a closed socket's lingering write gives up after
 *   `ORPHAN_TIMEOUT_MS` (`_data_channel.ts`).
 * - a `connect` in flight (`Deno.connect` cannot be unref'd): until the
 *   handshake completes or fails, at once on loopback.
 *
 * The hook is the poller registry (runtime/core/poller.ts): this module
 * registers its sleeper count with the default kernel when it loads, and
 * with any other kernel when a channel is made in it.
 *
 * @module
 */

import { type Poller, registerPoller } from "../../runtime/core/poller.ts";
import { addHoldReason, holdLoop, type HoldReason } from "../../runtime/core/_loop_hold.ts";

/**
 * The poller that keeps the process alive while any wait sleeps, from the
 * program's first Deno socket operation on, and the connections whose
 * reads it lets go of when the program stops waiting.
 *
 * A sleep only counts itself and asks for the shared hold
 * (`runtime/core/_loop_hold.ts`: one boolean test once it is held); the
 * hold's own tick lets go when no wait sleeps any more. It counts every
 * sleeper from the start (a task may sleep on a pipe before the program
 * opens its first socket).
 *
 * The read pump's `conn.read()` stays ref'd while the program runs its
 * loop: an unref'd `Deno.Conn` pays an `unrefOpPromise` (an op) on every
 * read (about 1 % of the busy time in a `--cpu-prof` profile of the LT echo
 * example at 100 connections, bench/README.md). When no wait has begun
 * for a whole tick and none sleeps (the program has returned, or awaits
 * something else), every open connection is unref'd (`idle`), and so is
 * each one opened meanwhile; the next wait refs them again (`resume`).
 */
class KeepAlive implements Poller, HoldReason {
  #sleepers = 0;
  #active = false;
  /** The open connections of the channels (their reads are in flight). */
  readonly #conns = new Set<Deno.Conn>();
  /** The program stopped waiting: connections are unref'd. */
  #idle = false;

  sleepBegin(): void {
    this.#sleepers++;
    if (this.#active) holdLoop();
  }

  sleepEnd(): undefined {
    // A sleep that began in a kernel before the keep-alive joined it ends uncounted.
    if (this.#sleepers > 0) this.#sleepers--;
    return undefined;
  }

  holding(): boolean {
    return this.#active && this.#sleepers > 0;
  }

  idle(): void {
    this.#idle = true;
    for (const conn of this.#conns) conn.unref();
  }

  resume(): void {
    this.#idle = false;
    for (const conn of this.#conns) conn.ref();
  }

  /** The first unref'd operation: from now on a sleeper holds the process. */
  activate(): void {
    if (this.#active) return;
    this.#active = true;
    addHoldReason(this);
    if (this.#sleepers > 0) holdLoop();
  }

  /** A channel's connection: its reads keep the process alive only while the program waits. */
  track(conn: Deno.Conn): void {
    this.#conns.add(conn);
    if (this.#idle) conn.unref();
  }

  /** The connection is closed. */
  untrack(conn: Deno.Conn): void {
    this.#conns.delete(conn);
  }
}

const keepAlive = new KeepAlive();
// The default kernel's sleepers are counted from the start.
registerPoller(keepAlive);

/**
 * Makes waits keep the process alive: called by each channel before it
 * unrefs its first operation. Registers the keep-alive with the current
 * kernel too (each kernel has its own pollers; registering again does
 * nothing).
 */
export function registerKeepAlive(): void {
  registerPoller(keepAlive);
  keepAlive.activate();
}

/**
 * Registers a data channel's connection (after {@linkcode registerKeepAlive}):
 * its reads keep the process alive while the program runs its loop, and
 * are let go of when it stops waiting.
 */
export function trackConn(conn: Deno.Conn): void {
  keepAlive.track(conn);
}

/** The channel closed its connection. */
export function untrackConn(conn: Deno.Conn): void {
  keepAlive.untrack(conn);
}
