/**
 * The readiness core: open file descriptions and their watchers.
 *
 * A {@linkcode Description} is what a descriptor refers to (Linux's
 * `struct file`): several fds made by `dup` share one. Every kind of
 * description (pipe end, socketpair end, eventfd, epoll, TCP or Unix socket)
 * answers two questions and nothing else is needed to poll it:
 *
 * - `poll()`: what is its readiness now, as an `EPOLL*` mask;
 * - `notify(events)`: it calls this whenever readiness may have risen, with
 *   the bits that were raised (`0` when it cannot say which).
 *
 * Watchers (epoll interests) subscribe with `watch` and are called back from
 * `notify`, like the entries of a Linux wait queue (`ep_poll_callback`) or a
 * kqueue knote list. A new kind of description plugs in by extending this
 * class; epoll never needs to know what it is.
 *
 * Invariants:
 * - `notify` never re-enters a description: watchers only queue themselves
 *   and resolve promises, so a description may call `notify` in the middle of
 *   a state change as long as `poll()` already reflects the new state.
 * - The walk order is Linux's wait queue: `add_wait_queue` inserts at the
 *   head, so non-exclusive watchers hear a change newest registration first;
 *   `add_wait_queue_exclusive` appends, so exclusive watchers (`EPOLLEXCLUSIVE`)
 *   come after them, oldest first. A keyed wake-up (`wake_up_poll`) stops at
 *   the first exclusive watcher that woke a waiter; a wake-up of all
 *   (`wake_up_all`, used by close and shutdown) never stops.
 * - When the last reference is released, every watcher is detached
 *   (Linux's `eventpoll_release`) before the description frees its resources.
 *
 * @module
 */

import { EINVAL } from "./errno.ts";
import { EPOLLIN, EPOLLOUT } from "./constants.ts";

/**
 * The counts kqueue's `EVFILT_READ` and `EVFILT_WRITE` report about a
 * description (FreeBSD's `kn_data`), filled by
 * {@linkcode Description.counts}. One object is reused: no allocation per
 * evaluation.
 *
 * @example A description of your own reports its count to kqueue
 * ```ts
 * import {
 *   close, Description, EPOLLIN, EV_ADD, EVFILT_READ, type FilterCounts, installDescription,
 *   kevent, type KEvent, kqueue,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * class Mailbox extends Description {
 *   readonly kind = "mailbox";
 *   readonly items: string[] = [];
 *   poll(): number {
 *     return this.items.length > 0 ? EPOLLIN : 0;
 *   }
 *   override counts(out: FilterCounts): void {
 *     super.counts(out);
 *     out.readable = this.items.length; // EVFILT_READ's data
 *   }
 *   post(item: string): void {
 *     this.items.push(item);
 *     this.notify(EPOLLIN);
 *   }
 * }
 * const box = new Mailbox();
 * const fd = installDescription(box);
 * const kq = kqueue();
 * box.post("a");
 * box.post("b");
 * const change = { ident: fd, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 0, udata: null };
 * const events: KEvent[] = [];
 * assert.equal(await kevent(kq, [change], events, 1, null), 1);
 * assert.equal(events[0].data, 2);
 * close(kq);
 * close(fd);
 * ```
 */
export interface FilterCounts {
  /** `EVFILT_READ` data: bytes readable, pending connections or events, a counter, expirations. */
  readable: number;
  /** Reading is at end of file: writers gone, peer shut or closed. */
  readEof: boolean;
  /**
   * `EVFILT_READ` fires although `readable` is 0: a datagram socket with an
   * empty datagram queued (its `data` is the next datagram's size). Left
   * unset by kinds without datagrams; the filter clears it before asking.
   */
  readReady?: boolean;
  /** `EVFILT_WRITE` data: free space; `-1` when the description has no write filter. */
  writable: number;
  /** Whether `EVFILT_WRITE` fires now (room at or above the low-water mark). */
  writeReady: boolean;
  /** Writing is over: reader gone, write side shut. */
  writeEof: boolean;
  /** The pending socket error (not cleared), reported in `fflags` with EOF; 0 when none. */
  error: number;
}

/**
 * Something that wants to hear about readiness changes of a
 * {@linkcode Description}: an epoll interest.
 */
export interface Watcher {
  /** Whether this watcher was registered with `EPOLLEXCLUSIVE`. */
  readonly exclusive: boolean;
  /**
   * Called when `events` were raised on the watched description.
   *
   * @param events The raised bits, or `0` when unknown.
   * @returns Whether a waiting task was woken (decides the walk over
   * exclusive watchers).
   */
  wake(events: number): boolean;
  /** Called once when the watched description is released. */
  detach(): void;
  /** The epoll or kqueue the watcher belongs to (for the nesting check), if any. */
  readonly owner?: Description;
}

/**
 * An open file description: the shared object behind one or more fds.
 *
 * Subclasses implement {@linkcode Description.poll} and call
 * {@linkcode Description.notify} on every change that may raise readiness.
 *
 * @example A minimal pollable description
 * ```ts
 * import { Description, EPOLLIN } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * class Flag extends Description {
 *   readonly kind = "flag";
 *   #set = false;
 *   poll(): number {
 *     return this.#set ? EPOLLIN : 0;
 *   }
 *   raise(): void {
 *     this.#set = true;
 *     this.notify(EPOLLIN);
 *   }
 * }
 * const flag = new Flag();
 * flag.raise();
 * assert.equal(flag.poll(), EPOLLIN);
 * ```
 */
export abstract class Description {
  /** A short name of the kind, for messages: `"pipe"`, `"epoll"`, `"tcp"`… */
  abstract readonly kind: string;
  /** Whether epoll may watch it (Linux: the file has a `poll` method). */
  readonly pollable: boolean = true;

  #refs = 0;
  #shared: Watcher[] = [];
  #exclusive: Watcher[] = [];

  /**
   * The current readiness as an `EPOLL*` mask. Must be cheap and pure.
   *
   * @param interest The bits the caller asks about (an epoll interest's
   * events; Linux's `poll_table` key). Omitted: every bit. A description may
   * use it to skip work for bits nobody asked about (a native socket settles
   * a possibly stale cached bit with one `poll(2)` only when asked for it);
   * it still returns its whole mask.
   */
  abstract poll(interest?: number): number;

  /**
   * Reads into `buf`, returning the byte count, 0 at end of stream, or
   * `-errno`. Descriptions that cannot be read return `-EINVAL`, as an epoll
   * fd does on Linux.
   *
   * @param _buf Where the bytes go.
   * @returns Bytes read, 0 at end of stream, or `-errno`.
   */
  read(_buf: Uint8Array): number {
    return -EINVAL;
  }

  /**
   * Writes from `buf`, returning the byte count accepted or `-errno`.
   *
   * @param _buf The bytes to write.
   * @returns Bytes accepted, or `-errno`.
   */
  write(_buf: Uint8Array): number {
    return -EINVAL;
  }

  /**
   * Fills `out` with what kqueue filters report. The default derives it
   * from {@linkcode Description.poll} (1 when readable or writable); kinds
   * with byte counts override it.
   *
   * @param out Filled in place.
   */
  counts(out: FilterCounts): void {
    const mask = this.poll();
    out.readable = mask & EPOLLIN ? 1 : 0;
    out.readEof = false;
    out.writable = mask & EPOLLOUT ? 1 : 0;
    out.writeReady = (mask & EPOLLOUT) !== 0;
    out.writeEof = false;
    out.error = 0;
  }

  /** How many descriptor-table entries and calls in progress hold it. */
  get refs(): number {
    return this.#refs;
  }

  /** Takes a reference (an fd, or a call that must see it stay open). */
  retain(): void {
    this.#refs++;
  }

  /**
   * Drops a reference; the last one detaches every watcher and then calls
   * {@linkcode Description.onRelease}.
   */
  release(): void {
    if (--this.#refs > 0) return;
    const all = this.#shared.concat(this.#exclusive);
    this.#shared = [];
    this.#exclusive = [];
    for (const w of all) w.detach();
    this.onRelease();
  }

  /** Frees what the description holds; called once, after the last release. */
  protected onRelease(): void {}

  /**
   * Subscribes a watcher to readiness changes.
   *
   * @param w The watcher.
   */
  watch(w: Watcher): void {
    (w.exclusive ? this.#exclusive : this.#shared).push(w);
  }

  /**
   * Unsubscribes a watcher; a watcher that is not subscribed is ignored.
   *
   * @param w The watcher.
   */
  unwatch(w: Watcher): void {
    const list = w.exclusive ? this.#exclusive : this.#shared;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
  }

  /** The current watchers in no particular order (read-only view). */
  get watchers(): readonly Watcher[] {
    return this.#exclusive.length ? this.#shared.concat(this.#exclusive) : this.#shared;
  }

  /**
   * Tells the watchers that `events` were raised. Call it after the state
   * change, so that `poll()` already reports the new readiness.
   *
   * @param events The raised bits, or `0` when unknown (matches every
   * watcher).
   * @param all Wake every exclusive watcher too (Linux's `wake_up_all`, as
   * `pipe_release` and a socket's state change do), instead of stopping at
   * the first one that woke a waiter.
   */
  protected notify(events: number, all = false): void {
    // Newest registration first: Linux's add_wait_queue inserts at the head.
    const shared = this.#shared;
    for (let i = shared.length - 1; i >= 0; i--) shared[i].wake(events);
    const exclusive = this.#exclusive;
    for (let i = 0; i < exclusive.length; i++) {
      if (exclusive[i].wake(events) && !all) break;
    }
  }
}
