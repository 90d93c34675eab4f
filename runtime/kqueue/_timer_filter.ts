/**
 * `EVFILT_TIMER`, on the kernel's timer queue and clock (FreeBSD's `filt_timer*`):
 *
 * - `data` is the period in the `fflags` unit (`NOTE_SECONDS`,
 *   `NOTE_MSECONDS` (default), `NOTE_USECONDS`, `NOTE_NSECONDS`); periodic
 *   unless `EV_ONESHOT` (a periodic period of 0 becomes 1 unit, as in
 *   FreeBSD's `filt_timervalidate`).
 * - `NOTE_ABSTIME`: `data` is a `CLOCK_REALTIME` instant since the Epoch;
 *   the timer expires once, at once if the instant is past.
 * - `EV_CLEAR` is implied and reported; a retrieval returns the expirations
 *   since the last one in `data` (every missed period counted) and `fflags` 0.
 * - Re-adding restarts the timer and discards undelivered expirations.
 * - `EINVAL`: `data < 0`, two units, other `fflags` bits.
 *
 * @module
 */

import { EINVAL } from "../core/errno.ts";
import {
  EV_ADD,
  EV_CLEAR,
  EV_ONESHOT,
  EVFILT_TIMER,
  NOTE_ABSTIME,
  NOTE_MSECONDS,
  NOTE_NSECONDS,
  NOTE_SECONDS,
  NOTE_USECONDS,
} from "../core/constants.ts";
import { PeriodicTimer } from "../timer/_periodic.ts";
import { type Change, defineFilter, type FilterOps, type Knote } from "./_filter.ts";

const UNITS = NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS;

/** Milliseconds per unit of `data`, or 0 for an invalid unit. */
function msPerUnit(fflags: number): number {
  switch (fflags & UNITS) {
    case 0:
    case NOTE_MSECONDS:
      return 1;
    case NOTE_SECONDS:
      return 1000;
    case NOTE_USECONDS:
      return 1e-3;
    case NOTE_NSECONDS:
      return 1e-6;
  }
  return 0;
}

/** A timer knote's timer: counts the expirations on the knote and raises it. */
class KnoteTimer extends PeriodicTimer {
  constructor(readonly kn: Knote) {
    super();
  }
  protected expired(count: number): void {
    this.kn.expirations += count;
    this.kn.kq.knoteRaised(this.kn, 0);
  }
}

function start(kn: Knote): void {
  const unit = msPerUnit(kn.sfflags);
  const clock = kn.timer!.queue.clock;
  const now = clock.now();
  if (kn.sfflags & NOTE_ABSTIME) {
    kn.timer!.arm(now + (kn.sdata * unit - clock.wallNow()), 0);
    return;
  }
  const oneshot = (kn.flags & EV_ONESHOT) !== 0;
  const period = (kn.sdata === 0 && !oneshot ? 1 : kn.sdata) * unit;
  kn.timer!.arm(now + period, oneshot ? 0 : period);
}

const timerFilter: FilterOps = {
  isFd: false,
  validate(ch: Change): number {
    if (!(ch.data >= 0)) return EINVAL;
    if ((ch.fflags & ~(UNITS | NOTE_ABSTIME)) !== 0 || msPerUnit(ch.fflags) === 0) return EINVAL;
    return 0;
  },
  attach(kn: Knote): number {
    kn.flags |= EV_CLEAR;
    kn.timer = new KnoteTimer(kn);
    start(kn);
    return 0;
  },
  detach(kn: Knote): void {
    kn.timer?.disarm();
  },
  interested: () => true,
  event(kn: Knote): boolean {
    kn.data = kn.expirations;
    kn.fflags = 0;
    kn.eof = false;
    return kn.expirations > 0;
  },
  touch(kn: Knote, ch: Change): void {
    // Only a re-add restarts the timer (EV_ENABLE, EV_DISABLE alone do not).
    if (!(ch.flags & EV_ADD)) return;
    kn.kq.dequeue(kn);
    kn.sfflags = ch.fflags;
    kn.sdata = ch.data;
    kn.timer!.disarm();
    kn.expirations = 0;
    start(kn);
  },
  retrieved(kn: Knote): void {
    kn.expirations = 0;
  },
};

defineFilter(EVFILT_TIMER, timerFilter);
