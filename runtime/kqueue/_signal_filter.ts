/**
 * `EVFILT_SIGNAL` (FreeBSD's `filt_sig*`): `ident` is a signal number; the
 * knote counts the arrivals and fires while the count is above 0.
 *
 * - `EV_CLEAR` is implied and reported (`filt_sigattach` sets it): a
 *   retrieval returns in `data` the arrivals since the last one and resets
 *   the count, so each retrieval reports new arrivals only.
 * - Arrivals are counted, not coalesced, as FreeBSD records every attempted
 *   delivery; only arrivals Deno itself merges before it calls its listener
 *   count once.
 * - The knote takes the signal from the shared signal source
 *   (`runtime/process/_signal_source.ts`), as a signalfd does: while it
 *   exists the default action is replaced (a Deno program cannot set
 *   `SIG_IGN` as a BSD program would beside its knote); deleting the last
 *   knote or signalfd for the signal restores it.
 * - `EINVAL`: `ident` not a signal Deno can catch (`SIGKILL`, `SIGSTOP`,
 *   `SIGILL`, `SIGFPE`, `SIGSEGV`, real-time signals, numbers above 31).
 *
 * @module
 */

import { EINVAL } from "../core/errno.ts";
import { EV_CLEAR, EVFILT_SIGNAL } from "../core/constants.ts";
import { isSignalNumber, subscribeSignal } from "../process/_signal_source.ts";
import { keepAliveWhileWaiting } from "../process/_keep_alive.ts";
import { defineFilter, type FilterOps, type Knote } from "./_filter.ts";

/** A signal knote's subscription and its arrivals not yet retrieved. */
interface Arrivals {
  count: number;
  stop: () => void;
}

const arrivals = new Map<Knote, Arrivals>();

const signalFilter: FilterOps = {
  isFd: false,
  validate: (ch) => (isSignalNumber(ch.ident) ? 0 : EINVAL),
  attach(kn: Knote): number {
    const state: Arrivals = { count: 0, stop: () => {} };
    const unsubscribe = subscribeSignal(kn.ident, () => {
      state.count++;
      kn.kq.knoteRaised(kn, 0);
    });
    if (typeof unsubscribe === "number") return -unsubscribe;
    // A kevent sleeping on this knote keeps the process alive, as one on a signalfd does.
    const release = keepAliveWhileWaiting();
    state.stop = () => {
      unsubscribe();
      release();
    };
    arrivals.set(kn, state);
    kn.flags |= EV_CLEAR;
    return 0;
  },
  detach(kn: Knote): void {
    arrivals.get(kn)?.stop();
    arrivals.delete(kn);
  },
  interested: () => true,
  event(kn: Knote): boolean {
    const count = arrivals.get(kn)?.count ?? 0;
    kn.data = count;
    kn.fflags = 0;
    kn.eof = false;
    return count > 0;
  },
  touch: () => {},
  retrieved(kn: Knote): void {
    const state = arrivals.get(kn);
    if (state !== undefined) state.count = 0;
  },
};

defineFilter(EVFILT_SIGNAL, signalFilter);
