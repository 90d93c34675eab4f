/**
 * The process's signal source: one `Deno.addSignalListener` per signal
 * number, shared by every signalfd and `EVFILT_SIGNAL` knote that wants it
 * and reference-counted, so the signal's default action comes back exactly
 * when the last of them lets go.
 *
 * What Deno decides here, probed on 2.9.6 (Linux):
 * - `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV` cannot be caught
 *   ("Binding to signal ... is not allowed"); real-time signals (32-64) have
 *   no name in `Deno.Signal`. Both are refused here with `EINVAL`.
 * - A listener replaces the default action while it is installed (a
 *   `SIGTERM` no longer ends the process) and does not keep the event loop
 *   alive by itself.
 * - The listener is called without the sender: no `si_pid`, `si_uid` or
 *   `si_code`. Arrivals that Deno's signal stream merges before it calls
 *   the listener (two `kill`s in a row) arrive here once.
 *
 * @module
 */

import { EINVAL } from "../core/errno.ts";

/** Linux's numbers (x86-64) of the signals `Deno.Signal` names. */
const NAMES: readonly (Deno.Signal | undefined)[] = [
  undefined,
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/** The highest signal number a signalfd or knote may name (the last standard signal). */
const MAX_SIGNAL = NAMES.length - 1;

/** Called with the signal number on each arrival Deno reports. */
export type SignalHandler = (signo: number) => void;

/** One installed Deno listener and the subscriptions that hold it. */
interface Source {
  readonly name: Deno.Signal;
  readonly listener: () => void;
  readonly handlers: SignalHandler[];
}

const sources = new Map<number, Source>();

/** Whether `signo` is a standard signal number with a name (it may still be uncatchable). */
export function isSignalNumber(signo: number): boolean {
  return Number.isInteger(signo) && signo >= 1 && signo <= MAX_SIGNAL;
}

/**
 * Subscribes `handler` to `signo`, installing Deno's listener for the first
 * subscriber. Each call is one subscription (the same function twice is two).
 *
 * @returns The function that ends this subscription (removing Deno's
 * listener with the last one), or `-EINVAL` when the number is not a
 * standard signal or Deno refuses to catch it.
 */
export function subscribeSignal(signo: number, handler: SignalHandler): (() => void) | number {
  let source = sources.get(signo);
  if (source === undefined) {
    const name = isSignalNumber(signo) ? NAMES[signo] : undefined;
    if (name === undefined) return -EINVAL;
    const handlers: SignalHandler[] = [];
    const listener = () => {
      // A handler may unsubscribe (close a signalfd) while we walk: copy.
      for (const h of handlers.slice()) h(signo);
    };
    try {
      Deno.addSignalListener(name, listener);
    } catch {
      return -EINVAL; // SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV, or no signals on this OS
    }
    source = { name, listener, handlers };
    sources.set(signo, source);
  }
  const entry: SignalHandler = (n) => handler(n);
  source.handlers.push(entry);
  const held = source;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    held.handlers.splice(held.handlers.indexOf(entry), 1);
    if (held.handlers.length > 0) return;
    sources.delete(signo);
    Deno.removeSignalListener(held.name, held.listener);
  };
}
