/**
 * In-memory event counters (`eventfd(2)`): a 64-bit unsigned counter read
 * and written in 8-byte native-endian (little-endian here) units.
 *
 * - `EPOLLIN` while the counter is above 0; `EPOLLOUT` while a write of 1
 *   would not overflow (counter below `0xfffffffffffffffe`).
 * - A read takes the whole counter and zeroes it, or with
 *   {@linkcode EFD_SEMAPHORE} takes 1; an empty counter gives `-EAGAIN`.
 * - A write of exactly 8 bytes adds; `-EAGAIN` when the sum would pass the
 *   maximum, `-EINVAL` for `0xffffffffffffffff` or any other length (a read
 *   takes any buffer of at least 8 bytes). Every write raises `EPOLLIN` (a new edge), as
 *   Linux's `eventfd_write` wakes readers on each write.
 *
 * @module
 */

import { Description, type FilterCounts } from "../core/description.ts";
import { EAGAIN, EINVAL } from "../core/errno.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  EPOLLERR,
  EPOLLIN,
  EPOLLOUT,
} from "../core/constants.ts";
import { descriptors, requireNumber } from "../core/fd_table.ts";
import { traced, tracing } from "../core/_call_trace.ts";

const MAX = 0xffff_ffff_ffff_fffen;
const ULLONG_MAX = 0xffff_ffff_ffff_ffffn;

/** The eventfd description. */
export class EventFd extends Description {
  readonly kind = "eventfd";
  #count: bigint;
  readonly semaphore: boolean;

  constructor(initval: number, semaphore: boolean) {
    super();
    this.#count = BigInt(initval);
    this.semaphore = semaphore;
  }

  poll(): number {
    let mask = 0;
    if (this.#count > 0n) mask |= EPOLLIN;
    if (this.#count === ULLONG_MAX) mask |= EPOLLERR;
    if (this.#count < MAX) mask |= EPOLLOUT;
    return mask;
  }

  /** kqueue: `data` the counter (read), the room before the maximum (write). */
  override counts(out: FilterCounts): void {
    out.readable = Number(this.#count);
    out.readEof = false;
    out.writable = this.#count < MAX ? Number(MAX - this.#count) : 0;
    out.writeReady = this.#count < MAX;
    out.writeEof = false;
    out.error = 0;
  }

  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -EINVAL;
    if (this.#count === 0n) return -EAGAIN;
    const value = this.semaphore ? 1n : this.#count;
    this.#count -= value;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, value, true);
    this.notify(EPOLLOUT);
    return 8;
  }

  override write(buf: Uint8Array): number {
    // eventfd_write: exactly 8 bytes (Linux 6.9+; older kernels took more).
    if (buf.length !== 8) return -EINVAL;
    const value = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
    if (value === ULLONG_MAX) return -EINVAL;
    if (value > MAX - this.#count) return -EAGAIN;
    this.#count += value;
    this.notify(EPOLLIN);
    return 8;
  }
}

/**
 * Creates an event counter (`eventfd(2)`).
 *
 * @param initval The initial value, an unsigned 32-bit integer.
 * @param flags {@linkcode EFD_SEMAPHORE}, `EFD_NONBLOCK`, `EFD_CLOEXEC`
 * (the last two are accepted; every fd here is non-blocking).
 * @returns The fd; `-EINVAL` for unknown flags or an `initval` outside
 * `0..2^32-1`; `-EMFILE`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example Waking a waiter from another task
 * ```ts
 * import { close, eventfd, read, write } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const efd = eventfd(0, 0);
 * const one = new Uint8Array(8);
 * new DataView(one.buffer).setBigUint64(0, 1n, true);
 * write(efd, one);
 * write(efd, one);
 * const out = new Uint8Array(8);
 * assert.equal(read(efd, out), 8);
 * assert.equal(new DataView(out.buffer).getBigUint64(0, true), 2n);
 * close(efd);
 * ```
 */
export function eventfd(initval: number, flags: number): number {
  if (tracing) return traced("eventfd", eventfd, initval, flags);
  requireNumber(initval, "initval");
  requireNumber(flags, "flags");
  if (!Number.isInteger(flags) || (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)) !== 0) {
    return -EINVAL;
  }
  if (!Number.isInteger(initval) || initval < 0 || initval > 0xffffffff) return -EINVAL;
  return descriptors.allocate(new EventFd(initval, (flags & EFD_SEMAPHORE) !== 0));
}
