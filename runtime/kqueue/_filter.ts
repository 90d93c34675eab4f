/**
 * The kevent record ({@linkcode KEvent}, FreeBSD's `struct kevent`), the
 * filter interface (FreeBSD's `struct filterops`), the knote a filter works
 * on, and the table from filter numbers to filters. Filters outside the
 * table (FreeBSD's AIO, VNODE, PROC, PROCDESC, FS, LIO, SENDFILE, EMPTY,
 * and any other number) are `EINVAL`. (The knote lives here, not in
 * a module of its own, because a knote carries its filter's operations and
 * the operations take the knote: one module, no import cycle.)
 *
 * @module
 */

import type { Description, Watcher } from "../core/description.ts";
import type { PeriodicTimer } from "../timer/_periodic.ts";

/**
 * A kevent: a change given to `kevent`, or an event it returns (FreeBSD's
 * `struct kevent`).
 *
 * @example A user event: the change that fires it, and the event it returns
 * ```ts
 * import { close, EV_ADD, EV_CLEAR, EVFILT_USER, kevent, type KEvent, kqueue, NOTE_TRIGGER } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const kq = kqueue();
 * const change: KEvent = { ident: 1, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER, data: 7, udata: "wake" };
 * const events: KEvent[] = [];
 * assert.equal(await kevent(kq, [change], events, 1, null), 1);
 * assert.deepEqual(events[0], { ident: 1, filter: EVFILT_USER, flags: EV_CLEAR, fflags: 0, data: 7, udata: "wake" });
 * close(kq);
 * ```
 */
export interface KEvent {
  /** The descriptor (READ/WRITE) or any non-negative number (TIMER/USER). */
  ident: number;
  /** `EVFILT_*`, a negative number. */
  filter: number;
  /** `EV_*` flags (unsigned). */
  flags: number;
  /** Filter flags (`NOTE_*`, unsigned). */
  fflags: number;
  /** Filter data: a period, a count, an errno in an `EV_ERROR` entry. */
  data: number;
  /** Any value, returned by identity. */
  udata: unknown;
}

/** A change as `kevent` applies it: a {@linkcode KEvent} copied out of the caller's. */
export type Change = KEvent;

/** What a filter does. Errors are positive errno values (0: none). */
export interface FilterOps {
  /** `ident` is a descriptor (`EBADF` when not open); the knote watches its description. */
  readonly isFd: boolean;
  /** Checks a change's `fflags`/`data` before it creates or re-adds a knote. */
  validate(ch: Change): number;
  /** Sets the knote up (the knote is not yet evaluated). */
  attach(kn: Knote): number;
  /** Tears the knote down (deleted, its fd closed, or its kqueue closed). */
  detach(kn: Knote): void;
  /** Whether a wake-up with these raised `EPOLL*` bits (0: unknown) concerns the filter. */
  interested(events: number): boolean;
  /** Evaluates the condition: fills `kn.data`, `kn.fflags`, `kn.eof`; returns whether it holds. */
  event(kn: Knote): boolean;
  /** Applies a later change to an existing knote (FreeBSD's `f_touch(EVENT_REGISTER)`). */
  touch(kn: Knote, ch: Change): void;
  /** The event was just retrieved: reset what `EV_CLEAR` (and the filter) reset. */
  retrieved(kn: Knote): void;
}

const table = new Map<number, FilterOps>();

/** Registers a filter (done once by each filter module). */
export function defineFilter(filter: number, ops: FilterOps): void {
  table.set(filter, ops);
}

/** The filter for `filter`, or `undefined` when unknown or out of scope. */
export function filterOps(filter: number): FilterOps | undefined {
  return table.get(filter);
}

// Knotes ---------------------------------------------------------------------

/*
 * A knote: one `(ident, filter)` registration in one kqueue. For
 * `EVFILT_READ`/`EVFILT_WRITE` it is a {@linkcode Watcher} on the watched
 * {@linkcode Description}, exactly as an epoll interest is; timer and user
 * knotes watch nothing and are raised by their filter.
 *
 * Status, as FreeBSD's `kn_status`: `active` (the filter's condition held
 * at its last evaluation), `queued` (on the kqueue's ready list; an
 * intrusive list), `disabled` (`EV_DISABLE`, or `EV_DISPATCH` after a
 * retrieval).
 */

/** What the kqueue instance does for a knote (implemented by `KQueueDescription`). */
export interface KnoteOwner extends Description {
  /** The knote's filter may have fired: evaluate it and queue it. */
  knoteRaised(kn: Knote, hint: number): boolean;
  /** The watched description went away: drop the knote. */
  drop(kn: Knote): void;
  /** Takes the knote off the ready list without deleting it. */
  dequeue(kn: Knote): void;
}

/** One registration. */
export class Knote implements Watcher {
  readonly exclusive = false;
  /** `EV_ONESHOT|EV_CLEAR|EV_DISPATCH|EV_RECEIPT` as created (timers add `EV_CLEAR`). */
  flags: number;
  /** Filter input: `fflags` and `data` of the latest change (FreeBSD's `kn_sfflags`/`kn_sdata`). */
  sfflags: number;
  sdata: number;
  udata: unknown;
  /** Filter output, as reported on retrieval. */
  data = 0;
  fflags = 0;
  eof = false;
  active = false;
  disabled = false;
  queued = false;
  prev: Knote | null = null;
  next: Knote | null = null;
  /** `EVFILT_TIMER`: the timer and the expirations not yet retrieved. */
  timer: PeriodicTimer | null = null;
  expirations = 0;
  /** `EVFILT_USER`: triggered and not yet retrieved. */
  triggered = false;

  constructor(
    readonly kq: KnoteOwner,
    readonly ident: number,
    readonly filter: number,
    readonly ops: FilterOps,
    readonly desc: Description | null,
    flags: number,
    sfflags: number,
    sdata: number,
    udata: unknown,
  ) {
    this.flags = flags;
    this.sfflags = sfflags;
    this.sdata = sdata;
    this.udata = udata;
  }

  get owner(): Description {
    return this.kq;
  }

  wake(events: number): boolean {
    if (!this.ops.interested(events)) return false;
    return this.kq.knoteRaised(this, events);
  }

  detach(): void {
    this.kq.drop(this);
  }
}
