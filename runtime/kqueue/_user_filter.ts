/**
 * `EVFILT_USER` (FreeBSD's `filt_user*`): an event the program fires
 * itself. A change carrying `NOTE_TRIGGER` (the creating `EV_ADD` too)
 * fires it; it stays fired until retrieved from a knote with `EV_CLEAR`,
 * `EV_ONESHOT` or `EV_DISPATCH` (a level-triggered user knote is reported
 * on every retrieval). A trigger while disabled is kept.
 *
 * `fflags` bits 0-23 are user flags, combined by each change according to
 * its `NOTE_FFCTRLMASK` bits (`NOTE_FFNOP` keep, `NOTE_FFAND`, `NOTE_FFOR`,
 * `NOTE_FFCOPY`); a retrieval returns them (they are kept) and `data` the
 * latest change's.
 *
 * @module
 */

import {
  EV_CLEAR,
  EV_DISPATCH,
  EV_ONESHOT,
  EVFILT_USER,
  NOTE_FFAND,
  NOTE_FFCOPY,
  NOTE_FFCTRLMASK,
  NOTE_FFLAGSMASK,
  NOTE_FFOR,
  NOTE_TRIGGER,
} from "../core/constants.ts";
import { type Change, defineFilter, type FilterOps, type Knote } from "./_filter.ts";

/** Applies one change's trigger, flag control and data. */
function apply(kn: Knote, fflags: number, data: number): void {
  if (fflags & NOTE_TRIGGER) kn.triggered = true;
  const user = fflags & NOTE_FFLAGSMASK;
  switch ((fflags & NOTE_FFCTRLMASK) >>> 0) {
    case NOTE_FFAND:
      kn.sfflags &= user;
      break;
    case NOTE_FFOR:
      kn.sfflags |= user;
      break;
    case NOTE_FFCOPY:
      kn.sfflags = user;
      break;
  }
  kn.sdata = data;
}

const userFilter: FilterOps = {
  isFd: false,
  validate: () => 0,
  attach(kn: Knote): number {
    const fflags = kn.sfflags;
    kn.sfflags = 0;
    apply(kn, fflags, kn.sdata);
    return 0;
  },
  detach: () => {},
  interested: () => true,
  event(kn: Knote): boolean {
    kn.data = kn.sdata;
    kn.fflags = kn.sfflags;
    kn.eof = false;
    return kn.triggered;
  },
  touch(kn: Knote, ch: Change): void {
    apply(kn, ch.fflags, ch.data);
  },
  retrieved(kn: Knote): void {
    if (kn.flags & (EV_CLEAR | EV_ONESHOT | EV_DISPATCH)) kn.triggered = false;
  },
};

defineFilter(EVFILT_USER, userFilter);
