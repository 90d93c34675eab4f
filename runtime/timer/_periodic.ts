/**
 * A one-shot or periodic timer on a kernel's timer queue, counting
 * expirations from the queue's clock: when the queue wakes late, every period that
 * passed is counted (Linux's `hrtimer_forward`, FreeBSD's `filt_timerexpire`
 * with its missed-period count), and the next deadline stays on the
 * original grid.
 *
 * @module
 */

import type { TimerEntry, TimerQueue } from "../core/_timer_queue.ts";
import { currentKernel } from "../core/kernel.ts";

/**
 * A timer that tells its owner how many expirations each wake brought. The
 * owner subclasses it (one object per timer, no closure).
 */
export abstract class PeriodicTimer implements TimerEntry {
  deadline = 0;
  heapIndex = -1;
  /** Period in milliseconds; 0 for a one-shot timer. */
  interval = 0;
  /** The queue (and so the clock) the timer runs on: its kernel's, the one current when it was made. */
  readonly queue: TimerQueue = currentKernel().timers;

  /** Called with the count of expirations (>= 1) since the previous call. */
  protected abstract expired(count: number): void;

  /** Whether the timer is armed. */
  get armed(): boolean {
    return this.heapIndex >= 0;
  }

  /**
   * Arms the timer: first expiration at the monotonic `deadline`, then every
   * `interval` ms (0: once). A deadline in the past expires on the next turn.
   */
  arm(deadline: number, interval: number): void {
    this.deadline = deadline;
    this.interval = interval;
    this.queue.add(this);
  }

  /** Cancels the timer; expirations already counted stay with the owner. */
  disarm(): void {
    this.queue.remove(this);
  }

  /** Milliseconds until the next expiration (0 when due or disarmed). */
  remaining(now: number = this.queue.now()): number {
    return this.armed ? Math.max(0, this.deadline - now) : 0;
  }

  expire(now: number): void {
    let count = 1;
    if (this.interval > 0) {
      // Every period between the deadline and now has passed too.
      const missed = Math.floor((now - this.deadline) / this.interval);
      count += missed;
      this.deadline += (missed + 1) * this.interval;
      if (this.deadline <= now) {
        this.deadline += this.interval;
        count++;
      }
      this.queue.add(this);
    }
    this.expired(count);
  }
}
