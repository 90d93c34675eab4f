/**
 * The descriptor calls: `close`, `dup`, `read`, `write`, the limit, and
 * {@linkcode installDescription}. They act on the current kernel's table
 * (`kernel.ts`): the process's, or a simulated host's inside its `run`. The
 * table itself (small integer fds, the lowest free number first, a
 * configurable limit, `RLIMIT_NOFILE`) is `_descriptor_table.ts`.
 *
 * An fd refers to a {@linkcode Description}; `dup` makes a second fd for the
 * same description, and the description lives until its last fd is closed.
 *
 * @module
 */

import { EBADF, EMFILE } from "./errno.ts";
import type { Description } from "./description.ts";
import { currentKernel, type KernelCloseHook, onDescriptorClose } from "./kernel.ts";
import { traced, tracing } from "./_call_trace.ts";

/**
 * The current kernel's descriptor table, for the code that reaches it
 * directly (`descriptors.allocate(...)`, a listen queue's `hold`): the
 * members the process-wide table had, each acting on
 * {@linkcode currentKernel}'s table at the time of the call.
 * Internal: programs use the exported calls (`close`, `dup`, …), and new
 * kinds of description enter a table through {@linkcode installDescription}.
 */
export const descriptors = {
  /** The limit (`RLIMIT_NOFILE`). */
  get limit(): number {
    return currentKernel().fds.limit;
  },
  /** Open fds. */
  get open(): number {
    return currentKernel().fds.open;
  },
  /** OS descriptors held outside the table (connections queued by listeners). */
  get held(): number {
    return currentKernel().fds.held;
  },
  /** The description behind `fd`, or `undefined`. */
  get: (fd: number): Description | undefined => currentKernel().fds.get(fd),
  /** Installs `desc` at the lowest free fd, or returns `-EMFILE`. */
  allocate: (desc: Description): number => currentKernel().fds.allocate(desc),
  /** Closes `fd`; 0 or `-EBADF`. */
  close: (fd: number): number => currentKernel().fds.close(fd),
  /** Sets the limit; 0 or `-EINVAL`. */
  setLimit: (n: number): number => currentKernel().fds.setLimit(n),
  /** See `DescriptorTable.hold`. */
  hold: (always: boolean): boolean => currentKernel().fds.hold(always),
  /** See `DescriptorTable.unhold`. */
  unhold: (): void => currentKernel().fds.unhold(),
  /** See `DescriptorTable.whenSlotFree`. */
  whenSlotFree: (fn: () => void): void => currentKernel().fds.whenSlotFree(fn),
  /** See `DescriptorTable.cancelSlotWait`. */
  cancelSlotWait: (fn: () => void): void => currentKernel().fds.cancelSlotWait(fn),
  /** Registers a hook run on every close, in every kernel (`onDescriptorClose`). */
  onClose: (hook: KernelCloseHook): void => onDescriptorClose(hook),
};

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
  return isFd(fd) ? currentKernel().fds.get(fd) : undefined;
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
  if (tracing) return traced("installDescription", installDescription, desc);
  return currentKernel().fds.allocate(desc);
}

/**
 * Installs two new descriptions as a pair of fds, or neither (closing the
 * first when the second cannot get an fd).
 */
export function installPair(a: Description, b: Description, out: number[]): number {
  const table = currentKernel().fds;
  const fa = table.allocate(a);
  if (fa < 0) {
    // Release both ends so that neither is left half-open.
    a.retain();
    b.retain();
    a.release();
    b.release();
    return -EMFILE;
  }
  const fb = table.allocate(b);
  if (fb < 0) {
    b.retain();
    b.release();
    table.close(fa);
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
  if (tracing) return traced("close", close, fd);
  return isFd(fd) ? currentKernel().fds.close(fd) : -EBADF;
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
  if (tracing) return traced("dup", dup, fd);
  const desc = lookup(fd);
  return desc === undefined ? -EBADF : currentKernel().fds.allocate(desc);
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
  if (tracing) return traced("read", read, fd, buf);
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
  if (tracing) return traced("write", write, fd, buf);
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
  if (tracing) return traced("getDescriptorLimit", getDescriptorLimit);
  return currentKernel().fds.limit;
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
  if (tracing) return traced("setDescriptorLimit", setDescriptorLimit, n);
  requireNumber(n, "limit");
  return currentKernel().fds.setLimit(n);
}
