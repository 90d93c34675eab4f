/**
 * The waiters of a waitable instance (an epoll's `ep->wq`, a kqueue's
 * sleepers) and the wait itself: harvest what is ready, otherwise sleep
 * until woken, the timeout passes or the signal aborts, and harvest again
 * (`ep_poll`, `kqueue_scan`). What a harvest means is the instance's
 * business; this file only knows when to try.
 *
 * Invariants:
 * - Waiters queue FIFO and are woken one at a time (`ep->wq` is an
 *   exclusive wait queue); a waiter is resolved exactly once, and one that
 *   times out or is aborted leaves the queue.
 * - A wait holds its instance (`retain`/`release`) while it sleeps: closing
 *   the instance's fd does not end a wait in progress, as on Linux.
 * - A wait's timeout is an entry in the timer queue (`_timer_queue.ts`),
 *   which expires nothing before the clock reaches its deadline: a wait
 *   never ends before its timeout, however early a real timer fires.
 * - A parked wait holds the timer queue, so that its own timeout and a
 *   timer that may wake it (timerfd, `EVFILT_TIMER`) keep the program
 *   alive meanwhile.
 * - A wait that finds events without sleeping first lets Deno's event loop
 *   turn when it is due (`_loop_turn.ts`), so a loop of always-ready waits
 *   cannot starve I/O and timers.
 *
 * @module
 */

import type { Description } from "./description.ts";
import { EINTR } from "./errno.ts";
import { loopTurn, loopTurnDue } from "./_loop_turn.ts";
import { pollNow, sleepBegin, sleepEnd } from "./poller.ts";
import { type TimerEntry, type TimerQueue, timers } from "./_timer_queue.ts";

/** Why a sleep ended. */
export type WakeReason = "wake" | "timeout" | "abort";

/**
 * A task parked in a wait: its place in the instance's FIFO, its timeout
 * in the timer queue, its abort listener. {@linkcode Waiter.end} undoes all
 * three, once, and settles the sleep.
 */
class Waiter implements TimerEntry {
  heapIndex = -1;
  #ended = false;

  constructor(
    readonly deadline: number,
    readonly queue: Waiter[],
    readonly timers: TimerQueue,
    readonly signal: AbortSignal | undefined,
    readonly settle: (why: WakeReason) => void,
  ) {}

  /** Parks: joins the FIFO, queues the timeout, listens to the signal, tells the pollers. */
  park(): void {
    this.timers.hold();
    if (this.deadline !== Infinity) this.timers.add(this);
    this.signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.queue.push(this);
    sleepBegin();
  }

  /** The timer queue reached the deadline. */
  expire(): void {
    this.end("timeout");
  }

  #onAbort = () => this.end("abort");

  /** Ends the sleep for `why` (later calls do nothing). */
  end(why: WakeReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.timers.remove(this);
    this.timers.release();
    this.signal?.removeEventListener("abort", this.#onAbort);
    if (why !== "wake") {
      const i = this.queue.indexOf(this);
      if (i >= 0) this.queue.splice(i, 1);
    }
    const settled = sleepEnd();
    if (settled === undefined) this.settle(why);
    else settled.then(() => this.settle(why));
  }
}

/** The FIFO of tasks waiting on one instance, and the wait loop. */
export class WaitQueue {
  #waiters: Waiter[] = [];
  readonly #timers: TimerQueue = timers;

  /** Wakes the oldest waiter; false when none waits. */
  wakeOne(): boolean {
    const w = this.#waiters.shift();
    if (w === undefined) return false;
    w.end("wake");
    return true;
  }

  /**
   * The whole wait: `harvest()` (which moves ready events out and returns
   * their count); when it finds nothing and `timeoutMs` is not 0, sleep and
   * harvest again on every wake-up. A wake-up that finds nothing (another
   * waiter took the events, or they went stale) sleeps again until the
   * deadline. Ready events, then a zero timeout, win over a signal that is
   * already aborted.
   *
   * @param owner The instance, held for the whole wait.
   * @param harvest Moves ready events out; returns their count.
   * @param timeoutMs Milliseconds; -1 forever, 0 poll.
   * @param signal Aborting it ends the wait with `-EINTR`.
   * @returns The count of events, 0 on timeout, or `-EINTR`.
   */
  wait(
    owner: Description,
    harvest: () => number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (loopTurnDue()) {
      return held(owner, async () => {
        await loopTurn();
        return await this.wait(owner, harvest, timeoutMs, signal);
      });
    }
    pollNow(); // readiness from outside the event loop (native sockets): poller.ts
    const n = harvest();
    if (n > 0 || timeoutMs === 0) return Promise.resolve(n);
    if (signal?.aborted) return Promise.resolve(-EINTR);
    return held(owner, () => this.#sleepAndHarvest(harvest, timeoutMs, signal));
  }

  async #sleepAndHarvest(
    harvest: () => number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const timers = this.#timers;
    const deadline = timeoutMs < 0 ? Infinity : timers.now() + timeoutMs;
    for (;;) {
      const why = await this.sleep(deadline, signal);
      if (why === "abort") return -EINTR;
      // Woken from a microtask (an in-memory peer), not by Deno I/O: the
      // same fairness as above.
      if (loopTurnDue()) await loopTurn();
      pollNow();
      const n = harvest();
      // "timeout" comes only from the queue, once its clock has reached the deadline.
      if (n > 0 || why === "timeout") return n;
      if (deadline !== Infinity && timers.now() >= deadline) return 0;
      // Aborted while it was not listening (during the loop turn above).
      if (signal?.aborted) return -EINTR;
    }
  }

  /**
   * Parks the caller until woken, the clock reaches `deadline` (`Infinity`:
   * never) or `signal` aborts. The pollers (poller.ts) hear when the sleep
   * begins and ends, so readiness from outside the event loop keeps
   * arriving meanwhile; when one must finish work off the JS thread first,
   * the sleep ends after it.
   */
  sleep(deadline: number, signal: AbortSignal | undefined): Promise<WakeReason> {
    return new Promise((resolve) => {
      new Waiter(deadline, this.#waiters, this.#timers, signal, resolve).park();
    });
  }
}

/** Runs `body` holding `owner`: closing its fd does not end a wait in progress. */
async function held(owner: Description, body: () => Promise<number>): Promise<number> {
  owner.retain();
  try {
    return await body();
  } finally {
    owner.release();
  }
}
