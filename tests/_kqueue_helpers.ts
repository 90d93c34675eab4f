/**
 * Helpers for the kqueue tests: building changes, collecting events.
 *
 * @module
 */

import { type KEvent, kevent } from "../mod.ts";

/** A change (or expected event) with defaults for the fields a test does not care about. */
export function kev(
  ident: number,
  filter: number,
  flags: number,
  fflags = 0,
  data = 0,
  udata: unknown = undefined,
): KEvent {
  return { ident, filter, flags, fflags, data, udata };
}

/** Applies changes with no event list; returns kevent's result. */
export function change(kq: number, ...changes: KEvent[]): Promise<number> {
  return kevent(kq, changes, [], 0, null);
}

/** Polls (timeout 0) and returns the events. */
export async function poll(kq: number, nevents = 64): Promise<KEvent[]> {
  const out: KEvent[] = [];
  const n = await kevent(kq, [], out, nevents, { sec: 0, nsec: 0 });
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  return out.slice(0, n);
}

/** Waits (no timeout) for events and returns them. */
export async function next(kq: number, nevents = 64): Promise<KEvent[]> {
  const out: KEvent[] = [];
  const n = await kevent(kq, [], out, nevents, null);
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  return out.slice(0, n);
}
