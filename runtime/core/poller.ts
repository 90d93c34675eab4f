/**
 * The poller registry: readiness sources that live outside the JavaScript
 * event loop (the kernel's epoll behind native sockets) and must be driven
 * by whoever waits.
 *
 * Descriptions fed by Deno ops or by in-memory writes raise their
 * readiness by themselves. A native socket cannot: the kernel tells its
 * readiness only to a caller of `epoll_wait`. A {@linkcode Poller} is that
 * caller. Waits (the epoll instance's `ep_poll`, and any other blocking
 * primitive built on the readiness core) use three entry points and never
 * need to know what is behind them:
 *
 * - {@linkcode pollNow} before each harvest: raise whatever readiness is
 *   already there, without blocking (a zero-timeout `epoll_wait`).
 * - {@linkcode sleepBegin} when a task is about to sleep: the pollers make
 *   sure readiness will keep arriving while it does (e.g. by parking in an
 *   `epoll_wait` on a worker thread).
 * - {@linkcode sleepEnd} when it wakes, for whatever reason: the result is
 *   a promise to await before returning to the caller when a poller must
 *   first finish work off the JS thread (a parked wait that the last
 *   sleeper leaves is woken and awaited, so no operation outlives the wait),
 *   or `undefined`.
 *
 * @module
 */

/** A readiness source that waits drive. */
export interface Poller {
  /** Raises readiness that is already available, without blocking. */
  pollNow(): void;
  /** A task starts sleeping in a wait. */
  sleepBegin(): void;
  /** A task stops sleeping; a promise to await first, or `undefined`. */
  sleepEnd(): Promise<void> | undefined;
}

const pollers: Poller[] = [];

/**
 * Registers a poller for the rest of the process (the native socket
 * backend registers its driver when it is first used).
 */
export function registerPoller(p: Poller): void {
  if (!pollers.includes(p)) pollers.push(p);
}

let polling = false;

/**
 * Lets every poller raise the readiness that is already there. Also called
 * before readiness of another kind is queued (an in-memory wake-up, an
 * `EPOLL_CTL_ADD`/`MOD`), so that a ready list holds kernel wake-ups and the
 * others in the order they happened, as Linux's does. A call made while the
 * pollers deliver (a wake-up they raise) returns at once.
 */
export function pollNow(): void {
  if (polling || pollers.length === 0) return;
  polling = true;
  try {
    for (let i = 0; i < pollers.length; i++) pollers[i].pollNow();
  } finally {
    polling = false;
  }
}

/** A task starts sleeping in a wait. */
export function sleepBegin(): void {
  for (let i = 0; i < pollers.length; i++) pollers[i].sleepBegin();
}

/** A task stops sleeping; await the result (when defined) before returning. */
export function sleepEnd(): Promise<void> | undefined {
  let all: Promise<void>[] | undefined;
  for (let i = 0; i < pollers.length; i++) {
    const p = pollers[i].sleepEnd();
    if (p !== undefined) (all ??= []).push(p);
  }
  if (all === undefined) return undefined;
  return all.length === 1 ? all[0] : Promise.all(all).then(() => {});
}
