/**
 * A descriptor table: small integer fds, the lowest free number first, a
 * limit (`RLIMIT_NOFILE`), and the count of OS descriptors held for the
 * program outside the table (connections queued by listeners). Each
 * kernel (`kernel.ts`) owns one; the calls of `fd_table.ts` act on the
 * current kernel's.
 *
 * Invariants:
 * - An fd refers to at most one {@linkcode Description}, and each fd holds
 *   one reference on it (`retain` at allocation, `release` at close).
 * - `allocate` always takes the lowest free number below the limit.
 * - `open + held` stays at or under the limit, except that each listener
 *   may hold one connection (see `hold`).
 * - Once shut down (`closeAll`), the table is empty and stays empty.
 *
 * @module
 */

import { EBADF, EINVAL, EMFILE } from "./errno.ts";
import type { Description } from "./description.ts";
import { FreeList } from "./_free_list.ts";

/** Linux's `nr_open` default, the largest `RLIMIT_NOFILE` one may set. */
export const DEFAULT_LIMIT = 1_048_576;

/** Called with an fd number as it is closed, before its description is released. */
export type CloseHook = (fd: number) => void;

/** The table of one kernel. */
export class DescriptorTable {
  #files: (Description | undefined)[] = [];
  #free = new FreeList();
  #limit: number;
  #open = 0;
  /** Descriptors held outside the table: connections accepted from Deno, not yet by the program. */
  #held = 0;
  #slotWaiters = new Set<() => void>();
  readonly #onClose: CloseHook;
  /** Shut down: every fd closed, no new one. */
  #down = false;

  /**
   * @param onClose Run on every close, before the description is released
   * (the kernel runs the close hooks there: kqueue deletes the fd's knotes).
   * @param limit The initial limit.
   */
  constructor(onClose: CloseHook, limit = DEFAULT_LIMIT) {
    this.#onClose = onClose;
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  get open(): number {
    return this.#open;
  }

  get held(): number {
    return this.#held;
  }

  /**
   * Counts one more OS descriptor held outside the table (a connection a
   * listen queue took from Deno before the program accepts it), if the
   * table plus the held ones stay under the limit, or if `always` (each
   * listener may hold one, so it can report readiness and `EMFILE`).
   */
  hold(always: boolean): boolean {
    if (!always && this.#open + this.#held >= this.#limit) return false;
    this.#held++;
    return true;
  }

  /** A held descriptor was closed or installed in the table. */
  unhold(): void {
    this.#held--;
    this.#slotFreed();
  }

  /** Calls `fn` once, the next time the table plus held descriptors drop under the limit. */
  whenSlotFree(fn: () => void): void {
    this.#slotWaiters.add(fn);
  }

  /** Withdraws a {@linkcode whenSlotFree} callback. */
  cancelSlotWait(fn: () => void): void {
    this.#slotWaiters.delete(fn);
  }

  #slotFreed(): void {
    if (this.#down || this.#slotWaiters.size === 0 || this.#open + this.#held >= this.#limit) {
      return;
    }
    const waiters = [...this.#slotWaiters];
    this.#slotWaiters.clear();
    for (const fn of waiters) fn();
  }

  /** The description behind `fd`, or `undefined` for a bad or closed fd. */
  get(fd: number): Description | undefined {
    return this.#files[fd];
  }

  /** Installs `desc` at the lowest free fd, or returns `-EMFILE` (always, once shut down). */
  allocate(desc: Description): number {
    if (this.#down) return -EMFILE;
    let fd: number;
    if (this.#free.size > 0) {
      fd = this.#free.peek();
      if (fd >= this.#limit) return -EMFILE;
      this.#free.pop();
    } else {
      fd = this.#files.length;
      if (fd >= this.#limit) return -EMFILE;
      this.#files.push(undefined);
    }
    this.#files[fd] = desc;
    this.#open++;
    desc.retain();
    return fd;
  }

  /** Removes `fd` from the table and drops its reference. */
  close(fd: number): number {
    const desc = this.#files[fd];
    if (desc === undefined) return -EBADF;
    this.#files[fd] = undefined;
    this.#free.push(fd);
    this.#open--;
    this.#onClose(fd);
    desc.release();
    this.#slotFreed();
    return 0;
  }

  /**
   * Shuts the table down: closes every fd, lowest first, as `close()`
   * would, and refuses new ones from then on (`-EMFILE`). Slot waiters are
   * dropped: nothing is admitted into a table that is shut.
   */
  closeAll(): void {
    this.#down = true;
    this.#slotWaiters.clear();
    for (let fd = 0; fd < this.#files.length; fd++) {
      if (this.#files[fd] !== undefined) this.close(fd);
    }
  }

  setLimit(n: number): number {
    if (!Number.isInteger(n) || n < 1) return -EINVAL;
    for (let fd = this.#files.length - 1; fd >= n; fd--) {
      if (this.#files[fd] !== undefined) return -EINVAL;
    }
    this.#limit = n;
    this.#slotFreed();
    return 0;
  }
}
