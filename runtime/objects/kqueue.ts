/**
 * `KQueue`: the idiomatic object layer over the same kqueue core. Methods
 * throw {@linkcode ErrnoError} instead of returning `-errno`.
 *
 * @module
 */

import { check, EBADF, ErrnoError } from "../core/errno.ts";
import { close } from "../core/fd_table.ts";
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
  #closed = false;
  /** Aborted by `close`, so that pending waits (and iteration) end. */
  #closing = new AbortController();

  /**
   * Creates a kqueue.
   *
   * @throws {ErrnoError} `EMFILE`.
   */
  constructor() {
    this.fd = check(kqueue(), "kqueue");
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
    check(keventChanges(this.#live("kevent"), changes), "kevent");
  }

  /**
   * Waits for events, after applying `changes`.
   *
   * @param nevents Most events to return.
   * @param timeoutMs -1 waits for an event, 0 polls.
   * @param changes Changes applied first (a failed one throws).
   * @returns The events (empty on timeout, and when `close` ends the wait).
   * @throws {ErrnoError} `EBADF` once closed, `EINVAL`, a change's error.
   */
  async wait(nevents = 64, timeoutMs = -1, changes: KEvent[] = []): Promise<KEvent[]> {
    if (changes.length > 0) this.changes(changes);
    const events: KEvent[] = [];
    const timeout = timeoutMs < 0 ? null : {
      sec: Math.floor(timeoutMs / 1000),
      nsec: Math.min(999_999_999, Math.round((timeoutMs % 1000) * 1e6)),
    };
    const n = await kevent(
      this.#live("kevent"),
      [],
      events,
      nevents,
      timeout,
      this.#closing.signal,
    );
    if (n < 0) {
      if (this.#closed) return [];
      throw new ErrnoError(n, "kevent");
    }
    events.length = n;
    return events;
  }

  /**
   * Yields batches of events until the kqueue is closed.
   *
   * @returns An async iterator of event batches.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<KEvent[], void, undefined> {
    while (!this.#closed) {
      const events = await this.wait();
      if (events.length > 0) yield events;
    }
  }

  /**
   * Closes the kqueue fd (dropping its knotes and timers) and ends pending
   * waits (they return no events); later calls fail with `EBADF`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    close(this.fd);
  }

  #live(syscall: string): number {
    if (this.#closed) throw new ErrnoError(EBADF, syscall);
    return this.fd;
  }

  /** Same as {@linkcode KQueue.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
