/**
 * kqueue shorthands: a change with defaults, applying changes, polling and
 * waiting for events, and test bodies run with a fresh kqueue (and a pipe).
 *
 * @module
 */

import assert from "node:assert/strict";
import { close, type KEvent, kevent, kqueue, pipe } from "../../mod.ts";

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

/** A test body run with a fresh kqueue, closed afterwards whatever happens. */
export function withKq(fn: (kq: number) => Promise<void>): () => Promise<void> {
  return async () => {
    const kq = kqueue();
    try {
      await fn(kq);
    } finally {
      close(kq);
    }
  };
}

/** Runs `fn` with a kqueue and a pipe (read end, write end), closing all three after. */
export function withPipe(
  fn: (kq: number, r: number, w: number) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const kq = kqueue();
    const fds: number[] = [];
    assert.equal(pipe(fds), 0);
    try {
      await fn(kq, fds[0], fds[1]);
    } finally {
      close(fds[0]);
      close(fds[1]);
      close(kq);
    }
  };
}

/** Waits (no timeout) for events and returns them. */
export async function next(kq: number, nevents = 64): Promise<KEvent[]> {
  const out: KEvent[] = [];
  const n = await kevent(kq, [], out, nevents, null);
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  return out.slice(0, n);
}
