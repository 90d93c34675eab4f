/**
 * The epoll calls: `epollCreate`, `epollCreate1`, `epollCtl`, `epollWait`
 * and `epollPwait2`, with Linux's argument checks and error order. They
 * drive the instances of `runtime/epoll/_instance.ts`, whose header describes
 * the model. A wait holds a reference on the epoll, so closing its fd
 * meanwhile does not end the wait (as on Linux, where the waiter holds the
 * file).
 *
 * @module
 */

import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, EPERM } from "../core/errno.ts";

import {
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLERR,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLWAKEUP,
} from "../core/constants.ts";
import { descriptors, lookup, requireNumber } from "../core/fd_table.ts";
import { checkTimespec, msTimeout, type Timespec, waitTimeoutMs } from "../core/time.ts";
import { EpollDescription, type EpollEvent } from "./_instance.ts";
import { traced, tracing } from "../core/_call_trace.ts";

export type { EpollEvent, Timespec };

/** What may accompany `EPOLLEXCLUSIVE` (`EPOLLEXCLUSIVE_OK_BITS`). */
const EXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET |
  EPOLLEXCLUSIVE;
/** Linux's `EP_MAX_EVENTS` (`INT_MAX / sizeof(struct epoll_event)`). */
const MAX_EVENTS = Math.floor(0x7fffffff / 12);

function create(): number {
  return descriptors.allocate(new EpollDescription());
}

/**
 * Creates an epoll instance (`epoll_create(2)`). `size` is only checked, as
 * on Linux.
 *
 * @param size Any positive number.
 * @returns The new epoll fd, `-EINVAL` when `size <= 0`, or `-EMFILE`.
 *
 * @example
 * ```ts
 * import { close, epollCreate } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate(1);
 * assert.ok(epfd >= 0);
 * close(epfd);
 * ```
 */
export function epollCreate(size: number): number {
  if (tracing) return traced("epollCreate", epollCreate, size);
  requireNumber(size, "size");
  if (!(size > 0)) return -EINVAL;
  return create();
}

/**
 * Creates an epoll instance (`epoll_create1(2)`).
 *
 * @param flags `0` or {@linkcode EPOLL_CLOEXEC}.
 * @returns The new epoll fd, `-EINVAL` for other flags, or `-EMFILE`.
 *
 * @example
 * ```ts
 * import { close, EPOLL_CLOEXEC, epollCreate1 } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate1(EPOLL_CLOEXEC);
 * assert.ok(epfd >= 0);
 * assert.equal(epollCreate1(1), -22);
 * close(epfd);
 * ```
 */
export function epollCreate1(flags: number): number {
  if (tracing) return traced("epollCreate1", epollCreate1, flags);
  requireNumber(flags, "flags");
  if (!Number.isInteger(flags) || (flags & ~EPOLL_CLOEXEC) !== 0) return -EINVAL;
  return create();
}

/**
 * Adds, changes or removes an interest (`epoll_ctl(2)`). Checks happen in
 * Linux's order: a missing event for ADD/MOD (or an unknown op) is
 * `-EFAULT`; then bad fds `-EBADF`; a description that cannot be polled
 * `-EPERM`; `epfd == fd` or `epfd` not an epoll `-EINVAL`; misuse of
 * `EPOLLEXCLUSIVE` `-EINVAL`; cycles and deep nesting `-ELOOP`; then
 * `-EEXIST` / `-ENOENT`.
 *
 * `EPOLLERR` and `EPOLLHUP` are always added to the requested events. ADD
 * and MOD report readiness that already exists, edge-triggered too, and MOD
 * re-arms an `EPOLLONESHOT` interest. MOD is atomic: there is no moment at
 * which the fd is out of the set.
 *
 * @param epfd The epoll fd.
 * @param op {@linkcode EPOLL_CTL_ADD}, {@linkcode EPOLL_CTL_MOD} or {@linkcode EPOLL_CTL_DEL}.
 * @param fd The watched fd.
 * @param event Events and user data (ignored for DEL).
 * @returns 0 or `-errno`.
 * @throws {TypeError} When `epfd`, `op` or `fd` is not a number, or
 * `event.events` is not a number.
 *
 * @example Watching a pipe for input
 * ```ts
 * import { close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, pipe } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate1(0);
 * const fds: number[] = [];
 * pipe(fds);
 * assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "reader" }), 0);
 * assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fds[0], { events: EPOLLIN, data: "again" }), -17);
 * fds.forEach(close);
 * close(epfd);
 * ```
 */
export function epollCtl(epfd: number, op: number, fd: number, event?: EpollEvent | null): number {
  if (tracing) return traced("epollCtl", epollCtl, epfd, op, fd, event);
  requireNumber(op, "op");
  const hasEvent = op !== EPOLL_CTL_DEL;
  let events = 0;
  if (hasEvent) {
    if (event === undefined || event === null) return -EFAULT;
    if (typeof event !== "object") throw new TypeError("event must be an object");
    requireNumber(event.events, "event.events");
    events = event.events >>> 0;
  }
  const ep = lookup(epfd);
  if (ep === undefined) return -EBADF;
  const target = lookup(fd);
  if (target === undefined) return -EBADF;
  if (!target.pollable) return -EPERM;
  events &= ~EPOLLWAKEUP; // no CAP_BLOCK_SUSPEND here: Linux clears it silently
  if (ep === target || !(ep instanceof EpollDescription)) return -EINVAL;
  if (hasEvent && (events & EPOLLEXCLUSIVE)) {
    if (op === EPOLL_CTL_MOD) return -EINVAL;
    if (
      op === EPOLL_CTL_ADD &&
      (target instanceof EpollDescription || (events & ~EXCLUSIVE_OK_BITS) !== 0)
    ) return -EINVAL;
  }
  const item = ep.find(target, fd);
  switch (op) {
    case EPOLL_CTL_ADD:
      if (item !== undefined) return -EEXIST;
      return ep.insert(target, fd, (events | EPOLLERR | EPOLLHUP) >>> 0, event!.data);
    case EPOLL_CTL_DEL:
      if (item === undefined) return -ENOENT;
      ep.remove(item);
      return 0;
    case EPOLL_CTL_MOD:
      if (item === undefined) return -ENOENT;
      if (item.exclusive) return -EINVAL;
      return ep.modify(item, (events | EPOLLERR | EPOLLHUP) >>> 0, event!.data);
    default:
      return -EINVAL;
  }
}

/** Validates the arguments shared by the wait calls; returns the epoll or `-errno`. */
function waitTarget(
  epfd: number,
  events: EpollEvent[],
  maxevents: number,
): EpollDescription | number {
  if (!Array.isArray(events)) throw new TypeError("events must be an array");
  requireNumber(maxevents, "maxevents");
  // Linux 6.18's do_epoll_wait: the fd first (EBADF), then maxevents, then
  // the events area (EFAULT, which a JS array cannot be), then "is it an epoll".
  const ep = lookup(epfd);
  if (ep === undefined) return -EBADF;
  if (!Number.isInteger(maxevents) || maxevents <= 0 || maxevents > MAX_EVENTS) return -EINVAL;
  return ep instanceof EpollDescription ? ep : -EINVAL;
}

function startWait(
  epfd: number,
  events: EpollEvent[],
  maxevents: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const ep = waitTarget(epfd, events, maxevents);
  if (typeof ep === "number") return Promise.resolve(ep);
  return ep.wait(events, maxevents, timeoutMs, signal);
}

/**
 * Waits for events (`epoll_wait(2)`). Fills `events[0..n-1]` (reusing the
 * objects already in the array) and resolves to `n`.
 *
 * When events are ready it returns at once without yielding to timers.
 * `timeoutMs` -1 waits until an event arrives, 0 only polls. Any fd may
 * become ready while a task waits, including one added by another task.
 *
 * @param epfd The epoll fd.
 * @param events The output array.
 * @param maxevents How many entries to fill at most (`>= 1`).
 * @param timeoutMs Milliseconds; -1 blocks, 0 polls.
 * @returns The number of events, 0 on timeout, `-EINVAL` (`maxevents <= 0`
 * or not an integer, a NaN timeout, or not an epoll), `-EBADF`.
 * @throws {TypeError} When `events` is not an array or a number argument is
 * not a number.
 *
 * @example A level-triggered wait on an eventfd
 * ```ts
 * import {
 *   close, EPOLL_CTL_ADD, epollCreate1, epollCtl, EPOLLIN, epollWait, eventfd,
 *   type EpollEvent,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate1(0);
 * const efd = eventfd(1, 0);
 * epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: "tick" });
 * const events: EpollEvent[] = [];
 * assert.equal(await epollWait(epfd, events, 8, -1), 1);
 * assert.deepEqual(events[0], { events: EPOLLIN, data: "tick" });
 * close(efd);
 * close(epfd);
 * ```
 */
export function epollWait(
  epfd: number,
  events: EpollEvent[],
  maxevents: number,
  timeoutMs: number,
): Promise<number> {
  if (tracing) return traced("epollWait", epollWait, epfd, events, maxevents, timeoutMs);
  requireNumber(timeoutMs, "timeoutMs");
  const t = msTimeout(timeoutMs);
  // No NaN in C: refuse it rather than guess between "poll" and "forever".
  if (Number.isNaN(t)) return Promise.resolve(-EINVAL);
  return startWait(epfd, events, maxevents, t, undefined);
}

/**
 * Waits for events with a nanosecond timeout (`epoll_pwait2(2)`). An
 * `AbortSignal` stands in for the signal mask: when it aborts first the call
 * resolves to `-EINTR`.
 *
 * @param epfd The epoll fd.
 * @param events The output array.
 * @param maxevents How many entries to fill at most (`>= 1`).
 * @param timeout `{sec, nsec}`, or `null` to wait forever.
 * @param signal Aborting it interrupts the wait.
 * @returns As {@linkcode epollWait}, plus `-EINVAL` for a timeout with
 * negative fields or `nsec >= 1e9`, and `-EINTR`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example Interrupting a wait
 * ```ts
 * import { close, EINTR, epollCreate1, epollPwait2, type EpollEvent } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const epfd = epollCreate1(0);
 * const ac = new AbortController();
 * const events: EpollEvent[] = [];
 * const pending = epollPwait2(epfd, events, 4, null, ac.signal);
 * ac.abort();
 * assert.equal(await pending, -EINTR);
 * assert.equal(await epollPwait2(epfd, events, 4, { sec: 0, nsec: 1_000_000 }), 0);
 * close(epfd);
 * ```
 */
export function epollPwait2(
  epfd: number,
  events: EpollEvent[],
  maxevents: number,
  timeout: Timespec | null,
  signal?: AbortSignal,
): Promise<number> {
  if (tracing) return traced("epollPwait2", epollPwait2, epfd, events, maxevents, timeout, signal);
  // Linux checks the timespec before anything else (poll_select_set_timeout).
  if (timeout !== null && timeout !== undefined && !checkTimespec(timeout, "timeout")) {
    return Promise.resolve(-EINVAL);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
  // Exact: a 1 ns timeout still sleeps (and yields), and ends no earlier than 1 ns later.
  return startWait(epfd, events, maxevents, waitTimeoutMs(timeout), signal);
}
