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
 * `setImmediate` callback (Deno runs its timers and polls its I/O first), a
 * few µs, against ~1-2 ms for `setTimeout(0)` (clamped). A resolved promise
 * does not let the loop turn at all.
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
 * woke it: at most ~0.3 % of a busy core. (A turn runs Deno's timers, but
 * Deno's I/O driver, tokio, polls the kernel only once per 61 ticks of a
 * busy loop, its `event_interval`, and a turn is one tick: a read whose
 * bytes have arrived completes within 61 turns, ~120 ms of a loop that never
 * sleeps, and seconds when every wait does milliseconds of work; so when no
 * wait has slept for {@linkcode KERNEL_POLL_INTERVAL_MS}, the turn is a
 * 1 ms timer, which parks the runtime and polls the kernel. The socket
 * channels that can complete at once bound themselves: see
 * net/deno/_listen_channel.ts.)
 *
 * A turn holds nothing open between turns, so a finished program exits and
 * the test sanitizers see nothing opened by a test ({@linkcode loopTurn}).
 *
 * @module
 */

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
 * Longest time a program whose waits never sleep goes without Deno's
 * runtime polling the kernel (for I/O readiness and signals). A turn of
 * {@linkcode loopTurn} is one tick of the runtime, and tokio polls the
 * kernel only once per 61 ticks while it has work ready (its
 * `event_interval`): a program whose every wait does milliseconds of work
 * (a UDP server under a flood, reading a full batch after every wake-up)
 * gets a turn every 16-32 waits, so the kernel was polled only every few
 * seconds, and a SIGTERM waited that long. When no wait has slept for this
 * long, the next turn of {@linkcode eventLoopTurns} is a 1 ms timer
 * instead ({@linkcode kernelPollingTurn}), which parks the runtime and so
 * polls the kernel: at most ~1 ms of idle per this interval, and only for a
 * program that never sleeps.
 */
export const KERNEL_POLL_INTERVAL_MS = 50;

/** Waits that went to sleep ({@linkcode noteSleep}), and the count the last turn saw. */
let sleeps = 0;
let sleepsSeen = 0;
/** When a turn last found a sleep since the one before it, or parked. */
let polledAt = -Infinity;

/**
 * A wait is going to sleep: the program has nothing to do, so Deno's
 * runtime parks (and polls the kernel) unless other work keeps it busy.
 * A counter, for {@linkcode kernelPollingTurn}.
 */
export function noteSleep(): void {
  sleeps++;
}

/** The turn under way (callers that ask meanwhile share it). */
let pending: Promise<void> | null = null;
function turned(resolve: () => void): void {
  turns++;
  pending = null;
  resolve();
}

/**
 * Resolves after Deno's event loop has turned once: one `setImmediate`
 * callback, which Deno runs in its loop's check phase, after the loop has
 * run its timers and polled its I/O. A call made while a turn is under way
 * shares it.
 *
 * A `MessageChannel` message was the turn before: a fresh channel per turn
 * (ports made, started, closed) cost several times more, and a channel kept
 * open is delivered without Deno polling its I/O, so a read whose bytes had
 * arrived completed only after thousands of such turns
 * (`tests/loop_turn_test.ts`; `deno task bench:loopturn` compares the costs).
 */
export function loopTurn(): Promise<void> {
  if (pending !== null) return pending;
  return pending = new Promise((resolve) => setImmediate(turned, resolve));
}

/**
 * The turn of {@linkcode eventLoopTurns}: {@linkcode loopTurn}, or, when no
 * wait has slept for {@linkcode KERNEL_POLL_INTERVAL_MS}, a 1 ms timer,
 * which parks Deno's runtime and so lets it poll the kernel. A call made
 * while a turn is under way shares it.
 */
export function kernelPollingTurn(): Promise<void> {
  if (pending !== null) return pending;
  // One clock read per turn (a turn is due at most once per LOOP_TURN_INTERVAL_MS).
  const now = performance.now();
  if (sleeps !== sleepsSeen) {
    sleepsSeen = sleeps;
    polledAt = now;
  } else if (now - polledAt >= KERNEL_POLL_INTERVAL_MS) {
    polledAt = now;
    return pending = new Promise((resolve) => setTimeout(turned, 1, resolve));
  }
  return loopTurn();
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
 * Deno's event loop: {@linkcode loopTurnDue} and
 * {@linkcode kernelPollingTurn} (a `setImmediate` callback, or a 1 ms timer
 * when no wait has slept for {@linkcode KERNEL_POLL_INTERVAL_MS}).
 *
 * @example
 * ```ts
 * import { eventLoopTurns } from "@deno-epoll/epoll";
 * await eventLoopTurns.turn(); // the loop has turned once
 * ```
 */
export const eventLoopTurns: LoopTurns = { due: loopTurnDue, turn: kernelPollingTurn };

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
