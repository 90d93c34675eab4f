/**
 * Fairness towards Deno's event loop for waits that find events at once.
 *
 * A wait (`epollWait`, `kevent`) that finds ready events returns without
 * sleeping. Its promise then resolves in a microtask, and a program that
 * loops `for (;;) await epollWait(...)` while events are always ready (a
 * level-triggered listener stuck on `EMFILE`, a socket whose data it never
 * reads) is one endless microtask chain: Deno's event loop never turns
 * again, so no I/O completion, timer or signal runs, and the I/O the
 * program waits for never comes. On Linux such a program busy-loops but
 * keeps being served; here it would freeze.
 *
 * So a wait that returns events first asks {@linkcode loopTurnDue}: when
 * the loop has not been seen to turn for {@linkcode LOOP_TURN_INTERVAL_MS},
 * the wait awaits {@linkcode loopTurn} before it harvests. The turn is one
 * `MessageChannel` message (a macrotask: Deno polls its I/O and timers to
 * deliver it), a few µs, against ~2 ms for `setTimeout(0)` (clamped). A resolved promise does not let the loop turn at all.
 *
 * The loop is "seen to turn" only when one of our own turns completes. A
 * Deno I/O completion is no proof: Deno polls an async op once when it
 * starts, so an `accept` with a connection queued, or a `read` with bytes
 * already received, settles its promise without the loop turning. Under a
 * flood of such operations (connections arriving and being reset faster
 * than they are served) every completion would claim a turn that never
 * happened, and the clients whose operations wait in the loop would starve
 * (issue 16, "Under a reset flood"). So a program that keeps waiting pays
 * one forced turn (~5 µs) per {@linkcode LOOP_TURN_INTERVAL_MS}, whatever
 * woke it: at most ~0.3 % of a busy core. (A `MessageChannel` turn runs
 * Deno's timers and tasks but need not poll the kernel for I/O; the socket
 * channels that can complete at once bound themselves: see
 * net/deno/_listen_channel.ts.)
 *
 * Every turn uses one channel, opened when this module loads and unref'd
 * between turns, so a finished program exits and the test sanitizers see
 * nothing opened by a test ({@linkcode loopTurn}).
 *
 * @module
 */

import { MessageChannel } from "node:worker_threads";

/**
 * Longest time a wait that returns events goes without letting Deno's event
 * loop turn. Low enough that I/O and timers stay responsive under a busy
 * loop; high enough that the turn's cost is negligible (see bench/README.md).
 */
export const LOOP_TURN_INTERVAL_MS = 2;

/** Waits between two reads of the clock (a power of two; a clock read costs ~100 ns, a wait ~60-120 ns). */
const CLOCK_EVERY = 16;

let turns = 0;
let seenTurns = -1;
/** When the last seen turn was first found to have passed, or -1 before the clock is read. */
let seenAt = -1;
let calls = 0;

/**
 * Whether a wait should let the event loop turn before returning events:
 * true when no turn has been seen for {@linkcode LOOP_TURN_INTERVAL_MS}.
 * The clock is read once every {@linkcode CLOCK_EVERY} calls without a
 * turn, so the bound is that interval plus at most 2 x 16 waits' worth of
 * the program's own work.
 */
export function loopTurnDue(): boolean {
  if (turns !== seenTurns) {
    seenTurns = turns;
    seenAt = -1;
    calls = 0;
    return false;
  }
  if ((++calls & (CLOCK_EVERY - 1)) !== 0) return false;
  const now = performance.now();
  if (seenAt < 0) {
    seenAt = now;
    return false;
  }
  return now - seenAt >= LOOP_TURN_INTERVAL_MS;
}

/**
 * The channel of every turn, made once, when this module loads (a port
 * made inside a test would be reported by its sanitizer). Its receiving
 * port is unref'd (Node's `MessagePort.unref()`, which Deno keeps across
 * messages), so it never keeps a finished program alive; it is ref'd only
 * while a turn's message is on its way.
 */
const { port1: receiver, port2: sender } = new MessageChannel();
/** The turn under way (callers that ask meanwhile share it), and its resolver. */
let pending: Promise<void> | null = null;
let arrived: (() => void) | null = null;
receiver.on("message", () => {
  receiver.unref();
  turns++;
  const done = arrived!;
  pending = arrived = null;
  done();
});
receiver.unref();

/**
 * Resolves after Deno's event loop has turned once (one macrotask: a
 * message on a channel kept open for it). A call made while a turn is
 * under way shares it: its message arrives in a later macrotask than the
 * call. A fresh `MessageChannel` per turn (its ports made, started and
 * closed) cost several times more (`deno task bench:loopturn` compares the
 * two), which at one turn per 2 ms of a busy server's wall time was
 * several per cent of its CPU per echoed message on a loaded machine
 * (issue 16, bench/README.md).
 */
export function loopTurn(): Promise<void> {
  if (pending !== null) return pending;
  pending = new Promise((resolve) => arrived = resolve);
  receiver.ref(); // the message on its way keeps the loop alive until it arrives
  sender.postMessage(null);
  return pending;
}

/**
 * A kernel's fairness policy towards the loop that runs it (a kernel
 * option, `kernel.ts`): whether a wait that found events should first let
 * the loop turn, and the turn itself. The default,
 * {@linkcode eventLoopTurns}, is Deno's event loop as described above; a
 * simulated network gives its hosts a policy that yields to its own
 * scheduler deterministically instead of by the real clock.
 *
 * @example A policy that lets the loop turn before every fourth ready wait
 * ```ts
 * import { eventLoopTurns, Kernel, type LoopTurns } from "@deno-epoll/epoll";
 *
 * let waits = 0;
 * const everyFourth: LoopTurns = { due: () => ++waits % 4 === 0, turn: eventLoopTurns.turn };
 * const k = new Kernel({ loopTurns: everyFourth });
 * k.shutdown();
 * ```
 */
export interface LoopTurns {
  /** Whether a wait that found events should call {@linkcode LoopTurns.turn} first. */
  due(): boolean;
  /** Resolves once the loop has turned. */
  turn(): Promise<void>;
}

/**
 * Deno's event loop: {@linkcode loopTurnDue} and {@linkcode loopTurn}.
 *
 * @example
 * ```ts
 * import { eventLoopTurns } from "@deno-epoll/epoll";
 * await eventLoopTurns.turn(); // one MessageChannel message
 * ```
 */
export const eventLoopTurns: LoopTurns = { due: loopTurnDue, turn: loopTurn };

/**
 * A policy that reads no clock: every `every`-th call of `due()` says a
 * turn is due. The default of a kernel on a clock of its own (a simulated
 * host's), where a real-time measure would make runs differ.
 *
 * @param every Calls of `due()` per turn (`>= 1`).
 * @returns A fresh policy (its own count).
 */
export function countedLoopTurns(every = 64): LoopTurns {
  let calls = 0;
  return {
    due: () => ++calls % every === 0,
    turn: loopTurn,
  };
}
