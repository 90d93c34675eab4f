/**
 * What every object of the object layer (`Epoll`, `KQueue`, `Socket`,
 * `Listener`) does with the fd it owns: the post-close guard, and for the
 * waitable ones the plumbing of a wait (the closing signal and the result
 * as an array; milliseconds become a timespec through `core/time.ts`).
 *
 * Invariants:
 * - `close()` closes the fd exactly once, however often it is called.
 * - After `close()`, `live()` throws `ErrnoError` `EBADF`: the object never
 *   passes its fd number on again, because another file may own that number
 *   by then.
 * - `close()` aborts `signal`, so a wait given it ends with no events
 *   instead of waiting on a closed object.
 * - The fd belongs to the kernel current when the object was made
 *   (`runtime/core/kernel.ts`); every method runs its calls in that kernel
 *   ({@linkcode FdGuard.run}), whoever calls it and from where.
 *
 * @module
 */

import { EBADF, ErrnoError } from "../core/errno.ts";
import { close } from "../core/fd_table.ts";
import { currentKernel, type Kernel } from "../core/kernel.ts";

/** The fd an object owns, guarded against use after close. */
export class FdGuard {
  readonly fd: number;
  /** The kernel the fd belongs to. */
  readonly kernel: Kernel = currentKernel();
  #closed = false;
  #closing: AbortController | undefined;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Whether `close()` ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Aborted by `close()`, so that pending waits (and iteration) end. */
  get signal(): AbortSignal {
    this.#closing ??= new AbortController();
    return this.#closing.signal;
  }

  /** The fd while open; once closed, `EBADF` for `syscall`. */
  live(syscall: string): number {
    if (this.#closed) throw new ErrnoError(EBADF, syscall);
    return this.fd;
  }

  /** Runs `fn` (the calls of a method) in the fd's kernel; `fn` gets the guard. */
  run<T>(fn: (guard: FdGuard) => T): T {
    const k = this.kernel;
    return k === currentKernel() ? fn(this) : k.run(() => fn(this));
  }

  /** Closes the fd the first time; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing?.abort();
    this.kernel.run(() => close(this.fd));
  }

  /** Yields the non-empty batches `wait` returns, until `close()` runs. */
  async *batches<T>(wait: () => Promise<T[]>): AsyncGenerator<T[], void, undefined> {
    while (!this.#closed) {
      const events = await wait();
      if (events.length > 0) yield events;
    }
  }

  /**
   * The events of a wait that returned `n`: `events` cut to `n`, no events
   * when `close()` ended the wait, else `ErrnoError` for `syscall`.
   */
  results<T>(events: T[], n: number, syscall: string): T[] {
    if (n < 0) {
      if (this.#closed) return [];
      throw new ErrnoError(n, syscall);
    }
    events.length = n;
    return events;
  }
}
