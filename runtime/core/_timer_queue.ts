/**
 * A kernel's timer queue (each `Kernel` owns one, on its clock): the one
 * service behind every timer of the library (wait timeouts, timerfd, `EVFILT_TIMER`, internal timers). A
 * binary min-heap of deadlines on its clock's monotonic milliseconds
 * (`clock.ts`), driven by a single pending alarm for the earliest
 * deadline, never one per timer.
 *
 * - Arming is a heap insert (O(log n)); the alarm is replaced only when
 *   the new deadline is earlier than the one it is set for.
 * - Cancelling is a heap removal (O(log n)) and never touches the alarm:
 *   if it fires for a cancelled deadline it re-arms for the new earliest
 *   one. When the heap empties, the alarm is cancelled, so nothing is left
 *   pending (the op sanitizer sees no timer).
 * - No entry expires before `clock.now()` has reached its deadline: an
 *   alarm that fires early (a real `setTimeout` may, by up to a
 *   millisecond) finds nothing due and re-arms. This is what keeps every
 *   wait from ending before its timeout (issue 16).
 * - The alarm does not keep a finished program alive. A task blocked in a
 *   wait (`kevent`, `epollWait`) holds the queue ({@linkcode TimerQueue.hold})
 *   so that the timer that may wake it keeps the program alive meanwhile.
 * - Expirations are counted by the entries from the clock, so a late wake
 *   counts every missed period (see `runtime/timer/_periodic.ts`).
 *
 * @module
 */

import type { Clock, ClockAlarm } from "./clock.ts";

/** Something with a deadline in the queue. */
export interface TimerEntry {
  /** Deadline in the queue's clock's milliseconds (`clock.now()` scale). */
  deadline: number;
  /** Position in the heap; -1 when not queued. Owned by the queue. */
  heapIndex: number;
  /** Called once the deadline has passed, with the current time; the entry is already out of the heap. */
  expire(now: number): void;
}

/** The timer queue of one kernel. */
export class TimerQueue {
  readonly clock: Clock;
  #heap: TimerEntry[] = [];
  #alarm: ClockAlarm | undefined;
  /** The deadline the pending alarm is set for. */
  #armedFor = Infinity;
  #holds = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Entries queued now. */
  get size(): number {
    return this.#heap.length;
  }

  /** The clock's current time (milliseconds). */
  now(): number {
    return this.clock.now();
  }

  /** Queues `e` (or moves it, when already queued) at `e.deadline`. */
  add(e: TimerEntry): void {
    if (e.heapIndex >= 0) this.remove(e);
    const h = this.#heap;
    e.heapIndex = h.length;
    h.push(e);
    this.#up(e.heapIndex);
    if (e.deadline < this.#armedFor) this.#arm();
  }

  /** Takes `e` out of the queue; an entry not queued is ignored. */
  remove(e: TimerEntry): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const h = this.#heap;
    const last = h.pop()!;
    e.heapIndex = -1;
    if (i < h.length) {
      h[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
    if (h.length === 0) this.#disarm();
  }

  /**
   * Calls `fn` once, `ms` milliseconds from now on the queue's clock, unless
   * cancelled first: the library's own internal timers (a retry back-off, a
   * linger limit) go through here, never through `setTimeout`.
   */
  after(ms: number, fn: () => void): Timeout {
    const t = new Timeout(this, fn);
    t.deadline = this.now() + ms;
    this.add(t);
    return t;
  }

  /** Takes every entry out without expiring it (the kernel is shutting down). */
  clear(): void {
    for (const e of this.#heap) e.heapIndex = -1;
    this.#heap = [];
    this.#disarm();
  }

  /** A wait holds the queue: the pending alarm keeps the process alive while any hold is taken. */
  hold(): void {
    if (this.#holds++ === 0) this.#alarm?.keepAlive(true);
  }

  /** Drops a {@linkcode TimerQueue.hold}. */
  release(): void {
    if (--this.#holds === 0) this.#alarm?.keepAlive(false);
  }

  #arm(): void {
    this.#alarm?.cancel();
    const deadline = this.#heap[0].deadline;
    this.#armedFor = deadline;
    const alarm = this.clock.alarm(deadline, this.#fire);
    this.#alarm = alarm;
    if (this.#holds > 0) alarm.keepAlive(true);
  }

  #disarm(): void {
    this.#alarm?.cancel();
    this.#alarm = undefined;
    this.#armedFor = Infinity;
  }

  #fire = (): void => {
    this.#alarm = undefined;
    this.#armedFor = Infinity;
    const now = this.clock.now();
    const h = this.#heap;
    // Take every entry due now first, then expire them: an entry re-armed
    // by its expire() (a periodic timer) is not visited twice.
    const due: TimerEntry[] = [];
    while (h.length > 0 && h[0].deadline <= now) {
      const e = h[0];
      this.remove(e);
      due.push(e);
    }
    for (const e of due) e.expire(now);
    // Nothing due yet (the alarm fired early) or more to come: re-arm.
    if (h.length > 0 && this.#alarm === undefined) this.#arm();
  };

  #up(i: number): void {
    const h = this.#heap;
    const e = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].deadline <= e.deadline) break;
      h[i] = h[p];
      h[i].heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const e = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1].deadline < h[l].deadline ? l + 1 : l;
      if (h[c].deadline >= e.deadline) break;
      h[i] = h[c];
      h[i].heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}

/** A one-shot callback on a timer queue ({@linkcode TimerQueue.after}). */
export class Timeout implements TimerEntry {
  deadline = 0;
  heapIndex = -1;

  constructor(readonly queue: TimerQueue, readonly fn: () => void) {}

  expire(): void {
    this.fn();
  }

  /** Withdraws the callback if it has not run yet. */
  cancel(): void {
    this.queue.remove(this);
  }
}
