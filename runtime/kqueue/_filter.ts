/**
 * The filter interface (FreeBSD's `struct filterops`) and the table from
 * filter numbers to filters. Filters outside the table (FreeBSD's AIO,
 * VNODE, PROC, PROCDESC, FS, LIO, SENDFILE, EMPTY, and any other
 * number) are `EINVAL`.
 *
 * @module
 */

import type { KEvent } from "./_instance.ts";
import type { Knote } from "./_knote.ts";

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
