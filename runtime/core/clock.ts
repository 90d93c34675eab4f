/**
 * The clock port: where every wait timeout, timerfd, `EVFILT_TIMER` and
 * internal timer of the library gets the time and its alarms. A kernel
 * (`kernel.ts`) owns one clock; {@linkcode realClock} is the default, and a
 * simulated network gives its hosts' kernels a virtual one.
 *
 * The library asks a clock three things and nothing else:
 *
 * - `now()`: monotonic milliseconds (`CLOCK_MONOTONIC`), fractional;
 * - `wallNow()`: milliseconds since the Unix epoch (`CLOCK_REALTIME`);
 * - `alarm(deadline, fire)`: call `fire` once, when `now()` has reached
 *   `deadline`. Each kernel's timer queue keeps at most one alarm pending
 *   (for its earliest deadline), so a clock never sees more alarms than
 *   there are kernels using it.
 *
 * Contract of an alarm: `fire` runs once, from a fresh task (never
 * synchronously from `alarm()`), unless `cancel()` ran first. It may run
 * early (a real timer fires a little before the millisecond it was asked
 * for): the timer queue compares `now()` with its deadlines and re-arms, so
 * no timer and no wait ever ends before its time. `keepAlive(on)` says
 * whether the pending alarm keeps the process alive (the real clock refs or
 * unrefs its `setTimeout`; a virtual clock may ignore it).
 *
 * Nothing in `runtime/` or `net/` reads `performance.now()`, `Date.now()`
 * or `setTimeout` for the time of a program: it goes through its kernel's
 * clock. Two things measure the JavaScript thread instead, and a kernel on
 * a clock of its own reaches neither: the event-loop fairness of
 * `_loop_turn.ts` (such a kernel counts waits instead, unless given a
 * policy) and the native driver's spin (native sockets are real ones).
 *
 * @module
 */

/**
 * A pending alarm of a {@linkcode Clock}.
 *
 * @example
 * ```ts
 * import { realClock } from "@deno-epoll/epoll";
 * const alarm = realClock.alarm(realClock.now() + 60_000, () => console.log("late"));
 * alarm.cancel();
 * ```
 */
export interface ClockAlarm {
  /** Withdraws the alarm; `fire` will not run. Idempotent. */
  cancel(): void;
  /** Whether the pending alarm keeps the process alive (default: it does not). */
  keepAlive(on: boolean): void;
}

/**
 * A source of time and alarms for a kernel. See the module docs for the
 * contract; {@linkcode realClock} is the process's.
 *
 * @example A clock that runs 1,000 times slower than the real one (for illustration)
 * ```ts
 * import { type Clock, realClock } from "@deno-epoll/epoll";
 *
 * const slow: Clock = {
 *   now: () => realClock.now() / 1000,
 *   wallNow: () => realClock.wallNow(),
 *   alarm: (deadline, fire) => realClock.alarm(deadline * 1000, fire),
 * };
 * console.log(slow.now() <= realClock.now());
 * ```
 */
export interface Clock {
  /** Monotonic milliseconds (`CLOCK_MONOTONIC`), fractional; never goes back. */
  now(): number;
  /** Milliseconds since the Unix epoch (`CLOCK_REALTIME`). */
  wallNow(): number;
  /**
   * Calls `fire` once `now()` has reached `deadline` (it may run early; see
   * the module docs), from a fresh task.
   *
   * @param deadline A `now()` instant in milliseconds.
   * @param fire The callback.
   * @returns The pending alarm.
   */
  alarm(deadline: number, fire: () => void): ClockAlarm;
}

/** The largest delay `setTimeout` takes; a later alarm fires early and is re-armed. */
const MAX_DELAY_MS = 0x7fffffff;

/** One `setTimeout`, unref'd unless kept alive. */
class RealAlarm implements ClockAlarm {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(delay: number, fire: () => void) {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      fire();
    }, delay);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  cancel(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  keepAlive(on: boolean): void {
    if (this.#timer === undefined) return;
    if (on) Deno.refTimer(this.#timer);
    else Deno.unrefTimer(this.#timer);
  }
}

/**
 * The real clock: `performance.now()`, `Date.now()` and one `setTimeout`
 * per alarm, its delay rounded up to whole milliseconds.
 *
 * @example
 * ```ts
 * import { realClock } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const t0 = realClock.now();
 * await new Promise<void>((resolve) => realClock.alarm(t0 + 5, resolve).keepAlive(true));
 * assert.ok(realClock.now() - t0 >= 4); // an alarm may fire early: the timer queue re-checks
 * ```
 */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  alarm(deadline: number, fire: () => void): ClockAlarm {
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(deadline - performance.now())));
    return new RealAlarm(delay, fire);
  },
};
