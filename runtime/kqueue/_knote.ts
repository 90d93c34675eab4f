/**
 * A knote: one `(ident, filter)` registration in one kqueue. For
 * `EVFILT_READ`/`EVFILT_WRITE` it is a {@linkcode Watcher} on the watched
 * {@linkcode Description}, exactly as an epoll interest is; timer and user
 * knotes watch nothing and are raised by their filter.
 *
 * Status, as FreeBSD's `kn_status`: `active` (the filter's condition held
 * at its last evaluation), `queued` (on the kqueue's ready list; an
 * intrusive list), `disabled` (`EV_DISABLE`, or `EV_DISPATCH` after a
 * retrieval).
 *
 * @module
 */

import type { Description, Watcher } from "../core/description.ts";
import type { PeriodicTimer } from "../timer/_periodic.ts";
import type { FilterOps } from "./_filter.ts";

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
