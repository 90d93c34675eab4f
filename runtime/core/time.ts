/**
 * Time as the calls take it: the one `Timespec` type, its one validation,
 * and the one conversion between timespecs and the milliseconds the
 * clock and the timer queue count in (`clock.ts`, `_timer_queue.ts`).
 *
 * - A timespec is valid when both fields are integers, `sec >= 0` and
 *   `0 <= nsec < 1e9` (Linux's `timespec64_valid`); a field that is not a
 *   number is a `TypeError`, anything else invalid is the caller's
 *   `-EINVAL`.
 * - Conversions are exact: nanoseconds survive as fractional milliseconds
 *   (`epollPwait2` keeps them, a virtual clock honours them). Rounding
 *   happens in one place only, where a deadline meets a real timer: the
 *   real clock's alarm rounds its delay up, and the timer queue never
 *   expires an entry before the clock has reached its deadline, so no wait
 *   ends early (Linux rounds up too).
 *
 * @module
 */

import { requireNumber } from "./fd_table.ts";

/**
 * A time as `{sec, nsec}`, like `struct timespec`: a timeout for
 * `epollPwait2` and `kevent`, or a timerfd setting.
 *
 * @example A 1.5 ms timeout
 * ```ts
 * import type { Timespec } from "@deno-epoll/epoll";
 * const t: Timespec = { sec: 0, nsec: 1_500_000 };
 * console.log(t);
 * ```
 */
export interface Timespec {
  /** Whole seconds, `>= 0`. */
  sec: number;
  /** Nanoseconds, `0 <= nsec < 1e9`. */
  nsec: number;
}

/**
 * Checks a timespec's JavaScript types, then its range.
 *
 * @param t The timespec.
 * @param what Its name in a `TypeError` message.
 * @returns Whether the fields are in range (the caller answers `-EINVAL` when not).
 * @throws {TypeError} When `t` is not an object or a field is not a number.
 */
export function checkTimespec(t: Timespec, what: string): boolean {
  if (t === null || typeof t !== "object") throw new TypeError(`${what} must be an object`);
  requireNumber(t.sec, `${what}.sec`);
  requireNumber(t.nsec, `${what}.nsec`);
  return Number.isInteger(t.sec) && Number.isInteger(t.nsec) && t.sec >= 0 && t.nsec >= 0 &&
    t.nsec < 1e9;
}

/** A valid timespec in milliseconds, exactly (nanoseconds become fractions). */
export function timespecToMs(t: Timespec): number {
  return t.sec * 1000 + t.nsec / 1e6;
}

/** Milliseconds (`>= 0`) as a timespec, to the nearest nanosecond. */
export function msToTimespec(ms: number): Timespec {
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)) };
}

/**
 * A wait's timeout given as a timespec (`epollPwait2`, `kevent`), in the
 * milliseconds the waits take: -1 for `null` (forever), else exact.
 *
 * @param t A timespec already checked with {@linkcode checkTimespec} and found valid, or `null`.
 */
export function waitTimeoutMs(t: Timespec | null | undefined): number {
  return t === null || t === undefined ? -1 : timespecToMs(t);
}

/**
 * A wait's timeout given in milliseconds (`epollWait`, the object layer),
 * as the waits take it: -1 forever (any negative number, or `Infinity`), a
 * fraction rounded up to the next millisecond as `epoll_wait`'s `int`
 * would be, or `NaN` (no C caller can pass it: the call answers `-EINVAL`).
 */
export function msTimeout(ms: number): number {
  if (Number.isNaN(ms)) return NaN;
  return ms < 0 || ms === Infinity ? -1 : Math.ceil(ms);
}

/** Milliseconds (-1: forever) as the timespec the wait calls take (`null`: forever). */
export function timeoutTimespec(ms: number): Timespec | null {
  return ms < 0 ? null : msToTimespec(ms);
}
