/**
 * A kernel's pollers: the readiness sources outside the JavaScript event
 * loop that its waits drive (`poller.ts` explains the protocol). Each
 * kernel has its own list, so a simulated host's waits never drive the
 * native driver of the process's real sockets, and a kernel may register
 * a poller of its own.
 *
 * @module
 */

/** A readiness source that waits drive. */
export interface Poller {
  /**
   * Raises readiness that is already available, without blocking. Omitted
   * by a poller that only follows sleeps (a keep-alive): then the calls made
   * before every harvest and every in-memory wake-up skip it.
   */
  pollNow?(): void;
  /** A task starts sleeping in a wait. */
  sleepBegin(): void;
  /** A task stops sleeping; a promise to await first, or `undefined`. */
  sleepEnd(): Promise<void> | undefined;
}

/** The pollers of one kernel, called in registration order. */
export class Pollers {
  readonly #list: Poller[] = [];
  /** The registered pollers that have a `pollNow`, in registration order. */
  readonly #polled: Poller[] = [];

  /**
   * Whether a registered poller has a `pollNow` (pollers are never
   * unregistered): callers test it before calling {@linkcode Pollers.pollNow},
   * which they do before every harvest and every in-memory wake-up, so that
   * a kernel without one (the Deno backend's) pays a field load there, not
   * two calls.
   */
  hasPollNow = false;

  /** Adds `p` (once; registering it again does nothing). */
  register(p: Poller): void {
    if (this.#list.includes(p)) return;
    this.#list.push(p);
    if (p.pollNow !== undefined) {
      this.#polled.push(p);
      this.hasPollNow = true;
    }
  }

  #polling = false;

  /**
   * Lets every poller raise the readiness that is already there. Also
   * called before readiness of another kind is queued (an in-memory
   * wake-up, an `EPOLL_CTL_ADD`/`MOD`), so that a ready list holds kernel
   * wake-ups and the others in the order they happened, as Linux's does. A
   * call made while the pollers deliver (a wake-up they raise) returns at
   * once.
   */
  pollNow(): void {
    const list = this.#polled;
    if (this.#polling || list.length === 0) return;
    this.#polling = true;
    try {
      for (let i = 0; i < list.length; i++) list[i].pollNow!();
    } finally {
      this.#polling = false;
    }
  }

  /** A task starts sleeping in a wait. */
  sleepBegin(): void {
    const list = this.#list;
    for (let i = 0; i < list.length; i++) list[i].sleepBegin();
  }

  /** A task stops sleeping; await the result (when defined) before returning. */
  sleepEnd(): Promise<void> | undefined {
    const list = this.#list;
    let all: Promise<void>[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const p = list[i].sleepEnd();
      if (p !== undefined) (all ??= []).push(p);
    }
    if (all === undefined) return undefined;
    return all.length === 1 ? all[0] : Promise.all(all).then(() => {});
  }
}
