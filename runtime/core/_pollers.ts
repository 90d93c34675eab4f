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
  /** Raises readiness that is already available, without blocking. */
  pollNow(): void;
  /** A task starts sleeping in a wait. */
  sleepBegin(): void;
  /** A task stops sleeping; a promise to await first, or `undefined`. */
  sleepEnd(): Promise<void> | undefined;
}

/** The pollers of one kernel, called in registration order. */
export class Pollers {
  readonly #list: Poller[] = [];

  /** Adds `p` (once; registering it again does nothing). */
  register(p: Poller): void {
    if (!this.#list.includes(p)) this.#list.push(p);
  }

  /** Lets every poller raise the readiness that is already there. */
  pollNow(): void {
    const list = this.#list;
    for (let i = 0; i < list.length; i++) list[i].pollNow();
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
