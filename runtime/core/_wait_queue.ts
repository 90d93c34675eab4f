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
 * - A parked wait holds the shared timer queue, so that a timer that may
 *   wake it (timerfd, `EVFILT_TIMER`) keeps the program alive meanwhile.
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
import { holdTimers } from "../timer/_queue.ts";

/** The largest delay `setTimeout` takes; longer waits re-arm. */
const MAX_TIMER_MS = 0x7fffffff;

/** Why a sleep ended. */
export type WakeReason = "wake" | "timeout" | "abort";

/** A task parked in a wait. */
interface Waiter {
  resolve: () => void;
  woken: boolean;
}

/** The FIFO of tasks waiting on one instance, and the wait loop. */
export class WaitQueue {
  #waiters: Waiter[] = [];

  /** Wakes the oldest waiter; false when none waits. */
  wakeOne(): boolean {
    const w = this.#waiters.shift();
    if (w === undefined) return false;
    w.resolve();
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
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const remaining = deadline === Infinity ? -1 : Math.max(0, deadline - performance.now());
      const why = await this.sleep(remaining, signal);
      if (why === "abort") return -EINTR;
      // Woken from a microtask (an in-memory peer), not by Deno I/O: the
      // same fairness as above.
      if (loopTurnDue()) await loopTurn();
      pollNow();
      const n = harvest();
      if (n > 0 || why === "timeout") return n;
      if (deadline !== Infinity && performance.now() >= deadline) return 0;
    }
  }

  /**
   * Parks the caller until woken, the timeout fires or `signal` aborts. The
   * pollers (poller.ts) hear when the sleep begins and ends, so readiness
   * from outside the event loop keeps arriving meanwhile; when one must
   * finish work off the JS thread first, the sleep ends after it.
   */
  sleep(timeoutMs: number, signal: AbortSignal | undefined): Promise<WakeReason> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const unhold = holdTimers();
      const waiter: Waiter = { woken: false, resolve: () => done("wake") };
      const onAbort = () => done("abort");
      const done = (why: WakeReason) => {
        if (waiter.woken) return;
        waiter.woken = true;
        if (timer !== undefined) clearTimeout(timer);
        unhold();
        signal?.removeEventListener("abort", onAbort);
        if (why !== "wake") {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
        }
        const settle = sleepEnd();
        if (settle === undefined) resolve(why);
        else settle.then(() => resolve(why));
      };
      if (timeoutMs >= 0) {
        timer = setTimeout(() => done("timeout"), Math.min(timeoutMs, MAX_TIMER_MS));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      sleepBegin();
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
