/**
 * `KQueue`: the idiomatic object layer over the same kqueue core. Methods
 * throw {@linkcode ErrnoError} instead of returning `-errno`, and act on
 * the kernel current when the object was made.
 *
 * @module
 */

import { check } from "../core/errno.ts";
import { FdGuard } from "./_fd_guard.ts";
import { timeoutTimespec } from "../core/time.ts";
import { type KEvent, kevent, keventChanges, kqueue } from "../kqueue/kevent.ts";

/**
 * A kqueue as an object.
 *
 * @example A timer and a user event in one loop
 * ```ts
 * import { EV_ADD, EV_ONESHOT, EVFILT_TIMER, EVFILT_USER, KQueue, NOTE_TRIGGER } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using kq = new KQueue();
 * kq.changes([
 *   { ident: 1, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, fflags: 0, data: 5, udata: "timer" },
 *   { ident: 2, filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER, data: 0, udata: "user" },
 * ]);
 * const seen: unknown[] = [];
 * for await (const events of kq) {
 *   for (const ev of events) seen.push(ev.udata);
 *   if (seen.length === 2) break;
 * }
 * assert.deepEqual(seen, ["user", "timer"]);
 * ```
 */
export class KQueue implements Disposable {
  /** The kqueue's fd; usable with the POSIX-shaped calls too. */
  readonly fd: number;
  #guard: FdGuard;

  /**
   * Creates a kqueue.
   *
   * @throws {ErrnoError} `EMFILE`.
   */
  constructor() {
    this.fd = check(kqueue(), "kqueue");
    this.#guard = new FdGuard(this.fd);
  }

  /**
   * Applies changes in order (`kevent` with no event list).
   *
   * @param changes The changes.
   * @throws {ErrnoError} The first failed change's error (`ENOENT`, `EBADF`,
   * `EINVAL`, `ELOOP`); the changes before it stay applied, those after it
   * are not applied.
   */
  changes(changes: KEvent[]): void {
    const g = this.#guard;
    g.run(() => check(keventChanges(g.live("kevent"), changes), "kevent"));
  }

  /**
   * Waits for events, after applying `changes`.
   *
   * @param nevents Most events to return (default 64).
   * @param timeoutMs -1 (the default) waits for an event, 0 polls.
   * @param changes Changes applied first (a failed one throws).
   * @returns The events (empty on timeout, and when `close` ends the wait).
   * @throws {ErrnoError} `EBADF` once closed, `EINVAL`, a change's error.
   */
  async wait(nevents?: number, timeoutMs?: number, changes?: KEvent[]): Promise<KEvent[]> {
    if (nevents === undefined) nevents = 64;
    if (timeoutMs === undefined) timeoutMs = -1;
    if (changes !== undefined && changes.length > 0) this.changes(changes);
    const g = this.#guard;
    const events: KEvent[] = [];
    const t = timeoutTimespec(timeoutMs);
    const n = await g.run(() => kevent(g.live("kevent"), [], events, nevents, t, g.signal));
    return g.results(events, n, "kevent");
  }

  /**
   * Yields batches of events until the kqueue is closed.
   *
   * @returns An async iterator of event batches.
   */
  [Symbol.asyncIterator](): AsyncGenerator<KEvent[], void, undefined> {
    return this.#guard.batches(() => this.wait());
  }

  /**
   * Closes the kqueue fd (dropping its knotes and timers) and ends pending
   * waits (they return no events); later calls fail with `EBADF`. Idempotent.
   */
  close(): void {
    this.#guard.close();
  }

  /** Same as {@linkcode KQueue.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
