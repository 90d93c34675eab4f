/**
 * The one timer queue behind `EVFILT_TIMER` and timerfd: a binary min-heap
 * of deadlines on the monotonic clock (`performance.now()`, milliseconds),
 * driven by a single pending `setTimeout` for the earliest deadline, never
 * one per timer.
 *
 * - Arming is a heap insert (O(log n)); the `setTimeout` is replaced only
 *   when the new deadline is earlier than the one it is set for.
 * - Cancelling is a heap removal (O(log n)) and never touches the
 *   `setTimeout`: if it fires for a cancelled deadline it re-arms for the
 *   new earliest one. When the heap empties, the `setTimeout` is cleared,
 *   so nothing is left pending (the op sanitizer sees no timer).
 * - The `setTimeout` is unref'd: an armed timer does not keep a finished
 *   program alive. A task blocked in a wait (`kevent`, `epollWait`) holds
 *   the queue ({@linkcode holdTimers}) so that the timer that may wake it
 *   keeps the program alive meanwhile.
 * - Expirations are counted by the entries from the clock, so a late wake
 *   counts every missed period (see `_periodic.ts`).
 *
 * @module
 */

/** The largest delay `setTimeout` takes. */
const MAX_DELAY_MS = 0x7fffffff;

/** Something with a deadline in the queue. */
export interface TimerEntry {
  /** Monotonic deadline in milliseconds (`performance.now()` scale). */
  deadline: number;
  /** Position in the heap; -1 when not queued. Owned by the queue. */
  heapIndex: number;
  /** Called once the deadline has passed, with the current time; the entry is already out of the heap. */
  expire(now: number): void;
}

class TimerQueue {
  #heap: TimerEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the pending `setTimeout` is set for. */
  #armedFor = Infinity;
  #holds = 0;

  /** Entries queued now. */
  get size(): number {
    return this.#heap.length;
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

  /** A wait holds the queue: the pending `setTimeout` is ref'd while any hold is taken. */
  hold(): void {
    if (this.#holds++ === 0 && this.#timer !== undefined) Deno.refTimer(this.#timer);
  }

  release(): void {
    if (--this.#holds === 0 && this.#timer !== undefined) Deno.unrefTimer(this.#timer);
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const first = this.#heap[0];
    this.#armedFor = first.deadline;
    const delay = Math.min(
      MAX_DELAY_MS,
      Math.max(0, Math.ceil(first.deadline - performance.now())),
    );
    const timer = setTimeout(this.#fire, delay);
    this.#timer = timer;
    if (this.#holds === 0) Deno.unrefTimer(timer);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
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
    if (h.length > 0 && this.#timer === undefined) this.#arm();
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

/** The process-wide timer queue. */
export const timers: TimerQueue = new TimerQueue();

/**
 * Keeps armed timers able to keep the program alive until the returned
 * function is called (once). Waits call it while they are parked.
 */
export function holdTimers(): () => void {
  timers.hold();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    timers.release();
  };
}
