/**
 * The process-wide userspace descriptor table: small integer fds, the lowest
 * free number first, a configurable limit (`RLIMIT_NOFILE`), `close`, `dup`,
 * `read` and `write`.
 *
 * An fd refers to a {@linkcode Description}; `dup` makes a second fd for the
 * same description, and the description lives until its last fd is closed.
 *
 * @module
 */

import { EBADF, EINVAL, EMFILE } from "./errno.ts";
import type { Description } from "./description.ts";
import { FreeList } from "./_free_list.ts";

/** Linux's `nr_open` default, the largest `RLIMIT_NOFILE` one may set. */
const DEFAULT_LIMIT = 1_048_576;

/** Called with an fd number as it is closed, before its description is released. */
export type CloseHook = (fd: number) => void;

/** The table itself. One instance, {@linkcode descriptors}, serves the process. */
class DescriptorTable {
  #files: (Description | undefined)[] = [];
  #free = new FreeList();
  #limit = DEFAULT_LIMIT;
  #open = 0;
  /** Descriptors held outside the table: connections accepted from Deno, not yet by the program. */
  #held = 0;
  #slotWaiters = new Set<() => void>();
  #closeHooks: CloseHook[] = [];

  /** Registers a hook run on every close (kqueue deletes the fd's knotes there). */
  onClose(hook: CloseHook): void {
    this.#closeHooks.push(hook);
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
    if (this.#slotWaiters.size === 0 || this.#open + this.#held >= this.#limit) return;
    const waiters = [...this.#slotWaiters];
    this.#slotWaiters.clear();
    for (const fn of waiters) fn();
  }

  /** The description behind `fd`, or `undefined` for a bad or closed fd. */
  get(fd: number): Description | undefined {
    return this.#files[fd];
  }

  /** Installs `desc` at the lowest free fd, or returns `-EMFILE`. */
  allocate(desc: Description): number {
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
    for (const hook of this.#closeHooks) hook(fd);
    desc.release();
    this.#slotFreed();
    return 0;
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

/**
 * The process-wide descriptor table. Internal: programs use the exported
 * calls (`close`, `dup`, …), and new kinds of description enter it through
 * {@linkcode installDescription}.
 */
export const descriptors: DescriptorTable = new DescriptorTable();

/** Throws `TypeError` unless `v` is a number (the only programmer error the calls throw for). */
export function requireNumber(v: number, what: string): void {
  if (typeof v !== "number") throw new TypeError(`${what} must be a number, got ${typeof v}`);
}

/** Throws `TypeError` unless `fd` is a number; returns whether it is a possible fd. */
export function isFd(fd: number): boolean {
  requireNumber(fd, "fd");
  return Number.isInteger(fd) && fd >= 0;
}

/** The description behind `fd`, or `undefined` (bad, closed or not an fd). */
export function lookup(fd: number): Description | undefined {
  return isFd(fd) ? descriptors.get(fd) : undefined;
}

/**
 * The one way every call turns an fd into a description: the description
 * behind `fd` if it is an instance of `kind`; `-EBADF` when `fd` is not
 * open (or not a possible fd); `-wrongKind` when it is open but of another
 * kind (`ENOTSOCK` for socket calls, `EINVAL` for epoll calls).
 *
 * @throws {TypeError} When `fd` is not a number.
 */
export function lookupAs<T extends Description>(
  fd: number,
  // deno-lint-ignore no-explicit-any
  kind: abstract new (...args: any[]) => T,
  wrongKind: number,
): T | number {
  const desc = lookup(fd);
  if (desc === undefined) return -EBADF;
  return desc instanceof kind ? desc : -wrongKind;
}

/** Throws `TypeError` unless `buf` is a `Uint8Array`. */
export function checkBuffer(buf: Uint8Array, what = "buf"): void {
  if (!(buf instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array`);
  }
}

/**
 * Gives a description its first fd. This is how a new kind of
 * {@linkcode Description} written outside this library becomes usable with
 * `epollCtl`, `read`, `write` and `close`.
 *
 * @param desc A description that no fd refers to yet.
 * @returns The new fd (the lowest free number), or `-EMFILE`.
 *
 * @example
 * ```ts
 * import { close, Description, installDescription } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * class Never extends Description {
 *   readonly kind = "never";
 *   poll(): number {
 *     return 0;
 *   }
 * }
 * const fd = installDescription(new Never());
 * assert.ok(fd >= 0);
 * assert.equal(close(fd), 0);
 * ```
 */
export function installDescription(desc: Description): number {
  return descriptors.allocate(desc);
}

/**
 * Installs two new descriptions as a pair of fds, or neither (closing the
 * first when the second cannot get an fd).
 */
export function installPair(a: Description, b: Description, out: number[]): number {
  const fa = descriptors.allocate(a);
  if (fa < 0) {
    // Release both ends so that neither is left half-open.
    a.retain();
    b.retain();
    a.release();
    b.release();
    return -EMFILE;
  }
  const fb = descriptors.allocate(b);
  if (fb < 0) {
    b.retain();
    b.release();
    descriptors.close(fa);
    return -EMFILE;
  }
  out[0] = fa;
  out[1] = fb;
  return 0;
}

/**
 * Closes a descriptor. The description behind it is released when its last
 * fd is closed: its epoll registrations go away and its resources (Deno
 * connections and listeners included) are freed.
 *
 * @param fd The descriptor.
 * @returns 0, or `-EBADF`.
 *
 * @example
 * ```ts
 * import { close, EBADF, pipe } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * pipe(fds);
 * assert.equal(close(fds[0]), 0);
 * assert.equal(close(fds[0]), -EBADF);
 * close(fds[1]);
 * ```
 */
export function close(fd: number): number {
  return isFd(fd) ? descriptors.close(fd) : -EBADF;
}

/**
 * Makes a second descriptor for the same open description (the lowest free
 * number). Epoll interests are keyed by (description, fd), as on Linux:
 * closing one of two dups leaves an interest in place; closing the last
 * removes it.
 *
 * @param fd The descriptor to duplicate.
 * @returns The new fd, `-EBADF` or `-EMFILE`.
 *
 * @example
 * ```ts
 * import { close, dup, pipe, read, write } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * pipe(fds);
 * const w2 = dup(fds[1]);
 * close(fds[1]);
 * assert.equal(write(w2, new Uint8Array([7])), 1);
 * assert.equal(read(fds[0], new Uint8Array(1)), 1);
 * close(w2);
 * close(fds[0]);
 * ```
 */
export function dup(fd: number): number {
  const desc = lookup(fd);
  return desc === undefined ? -EBADF : descriptors.allocate(desc);
}

/**
 * Reads from a descriptor into `buf`. Never blocks.
 *
 * @param fd The descriptor.
 * @param buf Where the bytes go.
 * @returns Bytes read; 0 at end of stream; `-EAGAIN` when nothing is
 * buffered yet; `-EBADF`, `-EINVAL`, `-ECONNRESET`, `-ENOTCONN`.
 * @throws {TypeError} When `buf` is not a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { EAGAIN, pipe, read, write, close } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * pipe(fds);
 * const buf = new Uint8Array(16);
 * assert.equal(read(fds[0], buf), -EAGAIN);
 * write(fds[1], new TextEncoder().encode("hi"));
 * assert.equal(read(fds[0], buf), 2);
 * close(fds[0]);
 * close(fds[1]);
 * ```
 */
export function read(fd: number, buf: Uint8Array): number {
  checkBuffer(buf);
  const desc = lookup(fd);
  return desc === undefined ? -EBADF : desc.read(buf);
}

/**
 * Writes `buf` to a descriptor. Never blocks: it accepts what fits.
 *
 * @param fd The descriptor.
 * @param buf The bytes.
 * @returns Bytes accepted (may be fewer than `buf.length`); `-EAGAIN` when
 * the buffer is full; `-EPIPE` after the write side is shut or the peer is
 * gone; `-EBADF`, `-EINVAL`.
 * @throws {TypeError} When `buf` is not a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { pipe, write, close } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const fds: number[] = [];
 * pipe(fds);
 * assert.equal(write(fds[1], new Uint8Array(10)), 10);
 * close(fds[0]);
 * close(fds[1]);
 * ```
 */
export function write(fd: number, buf: Uint8Array): number {
  checkBuffer(buf);
  const desc = lookup(fd);
  return desc === undefined ? -EBADF : desc.write(buf);
}

/**
 * The size of the descriptor table (like `RLIMIT_NOFILE`): fds are
 * `0 .. limit-1`.
 *
 * @returns The current limit (default 1,048,576).
 *
 * @example
 * ```ts
 * import { getDescriptorLimit } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.ok(getDescriptorLimit() >= 1);
 * ```
 */
export function getDescriptorLimit(): number {
  return descriptors.limit;
}

/**
 * Sets the size of the descriptor table. New fds at or above it fail with
 * `-EMFILE`.
 *
 * As with `RLIMIT_NOFILE`, the limit also bounds the OS descriptors the
 * library holds for the program: a listening socket takes a connection from
 * Deno (an OS descriptor) before the program `accept`s it, so such queued
 * connections count against the limit too. Listeners stop taking
 * connections from Deno while the open fds plus the queued connections
 * reach the limit (each listener may still hold one, so it stays readable
 * and `accept` reports `-EMFILE`); the rest wait in the kernel's backlog.
 * Other calls see only the fds: queued connections never make them fail.
 *
 * @param n The new limit.
 * @returns 0, or `-EINVAL` for `n < 1`, a non-integer, or a limit below an
 * open fd.
 *
 * @example
 * ```ts
 * import { getDescriptorLimit, setDescriptorLimit } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const before = getDescriptorLimit();
 * assert.equal(setDescriptorLimit(0), -22);
 * assert.equal(setDescriptorLimit(before), 0);
 * ```
 */
export function setDescriptorLimit(n: number): number {
  requireNumber(n, "limit");
  return descriptors.setLimit(n);
}
