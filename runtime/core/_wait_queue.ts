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
 * - A wait belongs to the kernel of its instance (`kernel.ts`): its clock,
 *   timer queue, pollers and fairness policy. The kernel's shutdown
 *   abandons a parked wait (its promise never settles; everything it held
 *   is released), and a wait that resumes, or starts, in a shut-down
 *   kernel never settles either: a killed program stops where it waits.
 *
 * @module
 */

import type { Description } from "./description.ts";
import { EINTR } from "./errno.ts";
import { currentKernel, type Kernel, type Sleeper } from "./kernel.ts";
import type { TimerEntry } from "./_timer_queue.ts";
import { noteWait } from "./_loop_hold.ts";
import { noteSleep } from "./_loop_turn.ts";

/** Why a sleep ended. */
export type WakeReason = "wake" | "timeout" | "abort";

/**
 * A task parked in a wait: its place in the instance's FIFO, its timeout
 * in the kernel's timer queue, its abort listener, its place among the
 * kernel's sleepers. {@linkcode Waiter.end} undoes all of it, once, and
 * settles the sleep; {@linkcode Waiter.abandon} undoes it without settling.
 */
class Waiter implements TimerEntry, Sleeper {
  heapIndex = -1;
  #ended = false;

  constructor(
    readonly deadline: number,
    readonly queue: Waiter[],
    readonly kernel: Kernel,
    readonly owner: Description,
    readonly signal: AbortSignal | undefined,
    readonly settle: (why: WakeReason) => void,
  ) {}

  /** Parks: joins the FIFO, queues the timeout, listens to the signal, tells the pollers. */
  park(): void {
    const k = this.kernel;
    noteSleep(); // Deno's runtime can park now (_loop_turn.ts)
    k.timers.hold();
    if (this.deadline !== Infinity) k.timers.add(this);
    if (this.signal !== undefined) {
      this.#onAbort = () => this.end("abort");
      this.signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    this.queue.push(this);
    k.sleepers.add(this);
    k.pollers.sleepBegin();
  }

  /** The timer queue reached the deadline. */
  expire(): void {
    this.end("timeout");
  }

  /** The abort listener, made only for a wait with a signal. */
  #onAbort: (() => void) | undefined;

  /** Ends the sleep for `why` (later calls do nothing). */
  end(why: WakeReason): void {
    const settled = this.#unpark(why !== "wake");
    if (settled === null) return;
    if (settled === undefined) this.settle(why);
    else settled.then(() => this.settle(why));
  }

  /** The kernel shuts down: end the sleep, never settle it, let the instance go. */
  abandon(): void {
    if (this.#unpark(true) !== null) this.owner.release();
  }

  /** Undoes `park` once; `null` when already undone, else what the pollers want awaited. */
  #unpark(leaveQueue: boolean): Promise<void> | undefined | null {
    if (this.#ended) return null;
    this.#ended = true;
    const k = this.kernel;
    k.timers.remove(this);
    k.timers.release();
    k.sleepers.delete(this);
    if (this.#onAbort !== undefined) this.signal!.removeEventListener("abort", this.#onAbort);
    if (leaveQueue) {
      const i = this.queue.indexOf(this);
      if (i >= 0) this.queue.splice(i, 1);
    }
    return k.pollers.sleepEnd();
  }
}

/** What a wait in a shut-down kernel returns: a promise that never settles (nothing refers to it). */
function never(): Promise<number> {
  return new Promise(() => {});
}

/** The FIFO of tasks waiting on one instance, and the wait loop. */
export class WaitQueue {
  #waiters: Waiter[] = [];
  /** The kernel of the instance that owns the queue (the one current when it was made). */
  readonly #kernel: Kernel = currentKernel();

  /**
   * Lets the pollers of this queue's kernel raise the readiness that is
   * already there (`poller.ts`), so kernel wake-ups that came first are
   * queued first.
   */
  pollNow(): void {
    const pollers = this.#kernel.pollers;
    if (pollers.hasPollNow) pollers.pollNow();
  }

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
    const k = this.#kernel;
    noteWait(); // the program runs its loop: what keeps it alive stays (_loop_hold.ts)
    if (k.isShutdown) return never();
    if (k.loopTurns.due()) {
      return held(owner, async () => {
        await k.loopTurns.turn();
        return await this.wait(owner, harvest, timeoutMs, signal);
      });
    }
    this.pollNow(); // readiness from outside the event loop (native sockets): poller.ts
    const n = harvest();
    if (n > 0 || timeoutMs === 0) return Promise.resolve(n);
    if (signal?.aborted) return Promise.resolve(-EINTR);
    return this.#sleepAndHarvest(owner, harvest, timeoutMs, signal);
  }

  /**
   * Sleeps and harvests until there are events, the timeout passes or
   * `signal` aborts, holding `owner` meanwhile (as {@linkcode held} does;
   * one async frame, not two, per sleeping wait).
   */
  async #sleepAndHarvest(
    owner: Description,
    harvest: () => number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const k = this.#kernel;
    const timers = k.timers;
    const deadline = timeoutMs < 0 ? Infinity : timers.now() + timeoutMs;
    owner.retain();
    try {
      for (;;) {
        const why = await this.#sleep(owner, deadline, signal);
        if (why === "abort") return -EINTR;
        // Woken from a microtask (an in-memory peer), not by Deno I/O: the
        // same fairness as above.
        if (k.loopTurns.due()) await k.loopTurns.turn();
        // Shut down while it was waking up: stop here, as the program does.
        if (k.isShutdown) return never();
        this.pollNow();
        const n = harvest();
        // "timeout" comes only from the queue, once its clock has reached the deadline.
        if (n > 0 || why === "timeout") return n;
        if (deadline !== Infinity && timers.now() >= deadline) return 0;
        // Aborted while it was not listening (during the loop turn above).
        if (signal?.aborted) return -EINTR;
      }
    } finally {
      owner.release();
    }
  }

  /**
   * Parks the caller until woken, the clock reaches `deadline` (`Infinity`:
   * never) or `signal` aborts. The pollers (poller.ts) hear when the sleep
   * begins and ends, so readiness from outside the event loop keeps
   * arriving meanwhile; when one must finish work off the JS thread first,
   * the sleep ends after it.
   */
  #sleep(
    owner: Description,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<WakeReason> {
    return new Promise((resolve) => {
      new Waiter(deadline, this.#waiters, this.#kernel, owner, signal, resolve).park();
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
