/**
 * Timers as descriptors (`timerfd_create(2)`, `timerfd_settime(2)`,
 * `timerfd_gettime(2)`), on the shared timer queue:
 *
 * - readable (`EPOLLIN`, `EVFILT_READ` with `data` the count) while
 *   expirations are pending;
 * - `read` (8+ bytes) gives 8: the little-endian count of expirations since
 *   the last read or settime, and zeroes it; `-EAGAIN` at 0 (a timerfd here
 *   never blocks); `-EINVAL` for a shorter buffer; `write` is `-EINVAL`;
 * - `value` {0, 0} disarms; it is relative unless `TFD_TIMER_ABSTIME`
 *   (then an instant on the timer's clock: the kernel clock's `wallNow()`
 *   for `CLOCK_REALTIME`, its `now()` for `CLOCK_MONOTONIC`; see
 *   `runtime/core/clock.ts`).
 *
 * @module
 */

import { Description, type FilterCounts } from "../core/description.ts";
import { EAGAIN, EINVAL } from "../core/errno.ts";
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  EPOLLIN,
  EPOLLRDNORM,
  TFD_CLOEXEC,
  TFD_NONBLOCK,
  TFD_TIMER_ABSTIME,
} from "../core/constants.ts";
import { descriptors, lookupAs, requireNumber } from "../core/fd_table.ts";
import { checkTimespec, msToTimespec, type Timespec, timespecToMs } from "../core/time.ts";
import { PeriodicTimer } from "./_periodic.ts";
import { traced, tracing } from "../core/_call_trace.ts";

/**
 * A timer setting, like `struct itimerspec`.
 *
 * @example A timer every 250 ms, first after 1 s
 * ```ts
 * import { CLOCK_MONOTONIC, close, type ITimerSpec, timerfdCreate, timerfdSettime } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const spec: ITimerSpec = { value: { sec: 1, nsec: 0 }, interval: { sec: 0, nsec: 250_000_000 } };
 * const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
 * assert.equal(timerfdSettime(tfd, 0, spec), 0);
 * close(tfd);
 * ```
 */
export interface ITimerSpec {
  /** The period; {0, 0} for a one-shot timer. */
  interval: Timespec;
  /** Time to the first expiration (or the absolute instant); {0, 0} disarms. */
  value: Timespec;
}

/** The timerfd description. */
export class TimerFd extends Description {
  readonly kind = "timerfd";
  readonly clockid: number;
  /** Expirations since the last read or settime. */
  #ticks = 0;
  readonly #timer = new TimerFdTimer(this);

  constructor(clockid: number) {
    super();
    this.clockid = clockid;
  }

  poll(): number {
    return this.#ticks > 0 ? EPOLLIN | EPOLLRDNORM : 0;
  }

  override counts(out: FilterCounts): void {
    out.readable = this.#ticks;
    out.readEof = false;
    out.writable = 0;
    out.writeReady = false;
    out.writeEof = false;
    out.error = 0;
  }

  /** The timer expired `n` times. */
  expired(n: number): void {
    this.#ticks += n;
    this.notify(EPOLLIN | EPOLLRDNORM);
  }

  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -EINVAL;
    if (this.#ticks === 0) return -EAGAIN;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, BigInt(this.#ticks), true);
    this.#ticks = 0;
    return 8;
  }

  /** Arms or disarms; `old` gets the previous setting. */
  settime(abs: boolean, value: ITimerSpec, old: ITimerSpec | undefined): void {
    if (old !== undefined) this.gettime(old);
    this.#timer.disarm();
    this.#ticks = 0;
    if (value.value.sec === 0 && value.value.nsec === 0) return;
    const first = timespecToMs(value.value);
    const clock = this.#timer.queue.clock;
    const now = clock.now();
    let deadline = now + first;
    if (abs) {
      deadline = this.clockid === CLOCK_REALTIME ? now + (first - clock.wallNow()) : first;
    }
    this.#timer.arm(deadline, timespecToMs(value.interval));
  }

  /** Fills `out` with the interval and the time left. */
  gettime(out: ITimerSpec): void {
    const armed = this.#timer.armed;
    out.interval = msToTimespec(armed ? this.#timer.interval : 0);
    out.value = msToTimespec(this.#timer.remaining());
  }

  protected override onRelease(): void {
    this.#timer.disarm();
  }
}

/** A timerfd's timer: tells the timerfd of each wake. */
class TimerFdTimer extends PeriodicTimer {
  constructor(readonly owner: TimerFd) {
    super();
  }
  protected expired(count: number): void {
    this.owner.expired(count);
  }
}

/**
 * Creates a timer descriptor (`timerfd_create(2)`), disarmed.
 *
 * @param clockid {@linkcode CLOCK_REALTIME} or {@linkcode CLOCK_MONOTONIC}.
 * @param flags `TFD_NONBLOCK` and `TFD_CLOEXEC` (accepted; every fd here is non-blocking).
 * @returns The fd; `-EINVAL` for another clock or other flags; `-EMFILE`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { CLOCK_MONOTONIC, close, TFD_NONBLOCK, timerfdCreate } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const tfd = timerfdCreate(CLOCK_MONOTONIC, TFD_NONBLOCK);
 * assert.ok(tfd >= 0);
 * assert.equal(timerfdCreate(7, 0), -22);
 * close(tfd);
 * ```
 */
export function timerfdCreate(clockid: number, flags: number): number {
  if (tracing) return traced("timerfdCreate", timerfdCreate, clockid, flags);
  requireNumber(clockid, "clockid");
  requireNumber(flags, "flags");
  if (clockid !== CLOCK_REALTIME && clockid !== CLOCK_MONOTONIC) return -EINVAL;
  if (!Number.isInteger(flags) || (flags & ~(TFD_NONBLOCK | TFD_CLOEXEC)) !== 0) return -EINVAL;
  return descriptors.allocate(new TimerFd(clockid));
}

/**
 * Arms or disarms a timer descriptor (`timerfd_settime(2)`). The count of
 * expirations restarts at 0.
 *
 * @param fd The timerfd.
 * @param flags 0 or {@linkcode TFD_TIMER_ABSTIME}.
 * @param value The new setting; `value` {0, 0} disarms.
 * @param old When given, receives the previous setting.
 * @returns 0; `-EINVAL` (other flags, a field out of range, not a timerfd); `-EBADF`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example A periodic timer read through the descriptor
 * ```ts
 * import {
 *   CLOCK_MONOTONIC, close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, epollWait, read,
 *   timerfdCreate, timerfdSettime, type EpollEvent,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
 * timerfdSettime(tfd, 0, { value: { sec: 0, nsec: 5e6 }, interval: { sec: 0, nsec: 5e6 } });
 * const epfd = epollCreate1(0);
 * epollCtl(epfd, EPOLL_CTL_ADD, tfd, { events: EPOLLIN, data: "tick" });
 * const events: EpollEvent[] = [];
 * assert.equal(await epollWait(epfd, events, 1, -1), 1);
 * const buf = new Uint8Array(8);
 * assert.equal(read(tfd, buf), 8);
 * assert.ok(new DataView(buf.buffer).getBigUint64(0, true) >= 1n);
 * close(epfd);
 * close(tfd);
 * ```
 */
export function timerfdSettime(
  fd: number,
  flags: number,
  value: ITimerSpec,
  old?: ITimerSpec,
): number {
  if (tracing) return traced("timerfdSettime", timerfdSettime, fd, flags, value, old);
  requireNumber(flags, "flags");
  if (value === null || typeof value !== "object") throw new TypeError("value must be an object");
  const ok = checkTimespec(value.value, "value.value") &&
    checkTimespec(value.interval, "value.interval");
  if (old !== undefined && (old === null || typeof old !== "object")) {
    throw new TypeError("old must be an object");
  }
  // do_timerfd_settime: flags and the itimerspec are checked before the fd.
  if (!Number.isInteger(flags) || (flags & ~TFD_TIMER_ABSTIME) !== 0 || !ok) return -EINVAL;
  const t = lookupAs(fd, TimerFd, EINVAL);
  if (typeof t === "number") return t;
  t.settime((flags & TFD_TIMER_ABSTIME) !== 0, value, old);
  return 0;
}

/**
 * Reads a timer descriptor's setting (`timerfd_gettime(2)`): the interval
 * and the time left to the next expiration ({0, 0} when disarmed).
 *
 * @param fd The timerfd.
 * @param out Receives the setting.
 * @returns 0; `-EBADF`; `-EINVAL` (not a timerfd).
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import {
 *   CLOCK_MONOTONIC, close, timerfdCreate, timerfdGettime, timerfdSettime, type ITimerSpec,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const tfd = timerfdCreate(CLOCK_MONOTONIC, 0);
 * timerfdSettime(tfd, 0, { value: { sec: 60, nsec: 0 }, interval: { sec: 1, nsec: 0 } });
 * const cur = {} as ITimerSpec;
 * assert.equal(timerfdGettime(tfd, cur), 0);
 * assert.deepEqual(cur.interval, { sec: 1, nsec: 0 });
 * assert.ok(cur.value.sec <= 60);
 * close(tfd);
 * ```
 */
export function timerfdGettime(fd: number, out: ITimerSpec): number {
  if (tracing) return traced("timerfdGettime", timerfdGettime, fd, out);
  if (out === null || typeof out !== "object") throw new TypeError("out must be an object");
  const t = lookupAs(fd, TimerFd, EINVAL);
  if (typeof t === "number") return t;
  t.gettime(out);
  return 0;
}
