/**
 * The kqueue calls: `kqueue()` and `kevent()`, with FreeBSD's order of
 * checks (`kern_event.c`: `kqueue_register`, `kqueue_kevent`,
 * `kqueue_scan`). The instance in `_instance.ts` holds the model.
 *
 * `kevent` applies its changes synchronously, in order, before it returns
 * its promise; a failed change, or one with `EV_RECEIPT`, takes the next
 * `eventlist` slot (`EV_ERROR`, `data` the errno, 0 for success) and the
 * call then returns that count at once.
 *
 * @module
 */

import { EBADF, EINVAL, ENOENT } from "../core/errno.ts";
import {
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_EOF,
  EV_ERROR,
  EV_ONESHOT,
  EV_RECEIPT,
} from "../core/constants.ts";
import { descriptors, lookup, lookupAs, requireNumber } from "../core/fd_table.ts";
import { checkTimespec, type Timespec, waitTimeoutMs } from "../core/time.ts";
import { type Change, filterOps, type KEvent, Knote } from "./_filter.ts";
import { KQueueDescription, writeEvent } from "./_instance.ts";
import "./_fd_filters.ts";
import "./_timer_filter.ts";
import "./_user_filter.ts";
import "./_signal_filter.ts";
import { traced, tracing } from "../core/_call_trace.ts";

export type { KEvent };

/** The flags a knote keeps from the change that created it. */
const CREATE_FLAGS = EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT;

/**
 * Creates a kqueue (`kqueue(2)`): a descriptor that collects events.
 *
 * @returns The new fd, or `-EMFILE`.
 *
 * @example
 * ```ts
 * import { close, kqueue } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const kq = kqueue();
 * assert.ok(kq >= 0);
 * close(kq);
 * ```
 */
export function kqueue(): number {
  if (tracing) return traced("kqueue", kqueue);
  return descriptors.allocate(new KQueueDescription());
}

/** Copies and type-checks one change. */
function readChange(ev: KEvent, out: Change): void {
  if (ev === null || typeof ev !== "object") throw new TypeError("a change must be an object");
  requireNumber(ev.ident, "change.ident");
  requireNumber(ev.filter, "change.filter");
  requireNumber(ev.flags, "change.flags");
  requireNumber(ev.fflags ?? 0, "change.fflags");
  requireNumber(ev.data ?? 0, "change.data");
  out.ident = ev.ident;
  out.filter = ev.filter;
  out.flags = (ev.flags >>> 0) & ~(EV_ERROR | EV_EOF);
  out.fflags = (ev.fflags ?? 0) >>> 0;
  out.data = ev.data ?? 0;
  out.udata = ev.udata;
}

/** Applies one change (FreeBSD's `kqueue_register`); returns a positive errno or 0. */
function register(kq: KQueueDescription, ch: Change): number {
  const flags = ch.flags;
  if ((flags & (EV_ENABLE | EV_DISABLE)) === (EV_ENABLE | EV_DISABLE)) return EINVAL;
  const ops = filterOps(ch.filter);
  if (ops === undefined) return EINVAL;
  const validIdent = Number.isInteger(ch.ident) && ch.ident >= 0;
  let desc = null;
  if (ops.isFd) {
    desc = validIdent ? descriptors.get(ch.ident) : undefined;
    if (desc === undefined) return EBADF;
    // A kqueue cannot watch itself.
    if (desc === kq) return EINVAL;
  } else if (!validIdent) {
    return EINVAL;
  }
  let kn = kq.find(ch.filter, ch.ident);
  if (kn === undefined) {
    if (!(flags & EV_ADD)) return ENOENT;
    const bad = ops.validate(ch);
    if (bad) return bad;
    kn = new Knote(
      kq,
      ch.ident,
      ch.filter,
      ops,
      desc,
      flags & CREATE_FLAGS,
      ch.fflags,
      ch.data,
      ch.udata,
    );
    const err = kq.insert(kn);
    if (err) return err;
    if (flags & EV_DISABLE) kn.disabled = true;
    if (flags & EV_DELETE) {
      kq.drop(kn);
      return 0;
    }
    kq.evaluate(kn);
    return 0;
  }
  if (flags & EV_DELETE) {
    kq.drop(kn);
    return 0;
  }
  if (flags & EV_ADD) {
    const bad = ops.validate(ch);
    if (bad) return bad;
  }
  if (flags & EV_ENABLE) kn.disabled = false;
  else if (flags & EV_DISABLE) kq.disable(kn);
  kn.udata = ch.udata;
  ops.touch(kn, ch);
  kq.evaluate(kn);
  return 0;
}

/**
 * Applies `changes` in order. Returns the count of `EV_ERROR` entries
 * written to `eventlist` (>= 0), or `-errno` when a failed (or receipt)
 * change found no slot left, and `null` when every change applied without
 * taking a slot.
 */
function applyChanges(
  kq: KQueueDescription,
  changes: KEvent[],
  eventlist: KEvent[],
  nevents: number,
): number | null {
  const ch: Change = { ident: 0, filter: 0, flags: 0, fflags: 0, data: 0, udata: undefined };
  let slots = 0;
  for (let i = 0; i < changes.length; i++) {
    readChange(changes[i], ch);
    const err = register(kq, ch);
    if (err === 0 && !(ch.flags & EV_RECEIPT)) continue;
    if (slots >= nevents) return err ? -err : 0;
    writeEvent(eventlist, slots++, ch.ident, ch.filter, EV_ERROR, ch.fflags, err, ch.udata);
  }
  return slots > 0 ? slots : null;
}

/**
 * The object layer's synchronous change path: applies `changes` and returns
 * 0 or the first failed change's `-errno`.
 */
export function keventChanges(kq: number, changes: KEvent[]): number {
  if (tracing) return traced("keventChanges", keventChanges, kq, changes);
  if (!Array.isArray(changes)) throw new TypeError("changelist must be an array");
  const desc = lookupAs(kq, KQueueDescription, EBADF);
  if (typeof desc === "number") return desc;
  const ch: Change = { ident: 0, filter: 0, flags: 0, fflags: 0, data: 0, udata: undefined };
  for (let i = 0; i < changes.length; i++) {
    readChange(changes[i], ch);
    const err = register(desc, ch);
    if (err) return -err;
  }
  return 0;
}

/**
 * Registers changes and collects events (`kevent(2)`).
 *
 * Changes are applied first, in order, synchronously (before the promise is
 * returned). A change that fails, or carries `EV_RECEIPT`, takes the next
 * `eventlist` slot (`EV_ERROR` in `flags`, `data` the errno, 0 for success)
 * while `nevents` allows, and the call then resolves to that count at once;
 * with no slot left it resolves to `-errno` and later changes are not
 * applied. Otherwise, with `nevents` 0 it resolves to 0; else to up to
 * `nevents` pending events, oldest first, waiting for one when there are
 * none (`timeout` `null`: forever; `{sec: 0, nsec: 0}`: not at all).
 *
 * @param kq The kqueue fd.
 * @param changelist Changes to apply (may be the same array as `eventlist`).
 * @param eventlist Receives the events in `[0, n)` (objects already there are reused).
 * @param nevents How many entries to fill at most (>= 0).
 * @param timeout `{sec, nsec}`, or `null` to wait forever.
 * @param signal Aborting it ends a wait with `-EINTR` (stands in for a signal).
 * @returns The count of entries written, 0 on timeout; `-EBADF` (`kq` is not
 * a kqueue), `-EINVAL` (`nevents < 0`, or a bad `timeout` when `nevents > 0`),
 * a change's `-errno`, `-EINTR`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example Reading a pipe the BSD way
 * ```ts
 * import {
 *   close, EV_ADD, EVFILT_READ, kevent, kqueue, pipe, write, type KEvent,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const kq = kqueue();
 * const fds: number[] = [];
 * pipe(fds);
 * const change = { ident: fds[0], filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 0, udata: "in" };
 * assert.equal(await kevent(kq, [change], [], 0, null), 0);
 * write(fds[1], new Uint8Array(5));
 * const events: KEvent[] = [];
 * assert.equal(await kevent(kq, [], events, 8, null), 1);
 * assert.equal(events[0].data, 5); // bytes to read
 * assert.equal(events[0].udata, "in");
 * fds.forEach(close);
 * close(kq);
 * ```
 */
export function kevent(
  kq: number,
  changelist: KEvent[],
  eventlist: KEvent[],
  nevents: number,
  timeout: Timespec | null,
  signal?: AbortSignal,
): Promise<number> {
  if (tracing) return traced("kevent", kevent, kq, changelist, eventlist, nevents, timeout, signal);
  if (!Array.isArray(changelist)) throw new TypeError("changelist must be an array");
  if (!Array.isArray(eventlist)) throw new TypeError("eventlist must be an array");
  requireNumber(nevents, "nevents");
  // Types now; the range only once there are events to wait for (FreeBSD's order).
  const validTimeout = timeout === null || timeout === undefined ||
    checkTimespec(timeout, "timeout");
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
  const desc = lookup(kq);
  if (!(desc instanceof KQueueDescription)) return Promise.resolve(-EBADF);
  if (!Number.isInteger(nevents) || nevents < 0) return Promise.resolve(-EINVAL);
  const receipts = applyChanges(desc, changelist, eventlist, nevents);
  if (receipts !== null) return Promise.resolve(receipts);
  if (nevents === 0) return Promise.resolve(0);
  if (!validTimeout) return Promise.resolve(-EINVAL);
  return desc.wait(eventlist, 0, nevents, waitTimeoutMs(timeout), signal);
}
