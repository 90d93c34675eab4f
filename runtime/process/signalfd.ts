/**
 * Signals as descriptors (`signalfd(2)`), over `Deno.addSignalListener`.
 *
 * Linux's model, kept here: a signal that arrives for a listed number
 * becomes *pending* for the process; every signalfd whose mask lists a
 * pending signal is readable (`EPOLLIN`); a `read` dequeues pending
 * signals as 128-byte `signalfd_siginfo` records, so two signalfds listing
 * the same signal share its one pending instance, as two signalfds share a
 * Linux process's pending set.
 *
 * - Coalescing (`legacy_queue`): a signal that arrives while it is already
 *   pending is dropped and wakes nobody, so an edge-triggered watcher sees
 *   one edge per pending instance.
 * - Dequeue order (`next_signal`): the synchronous signals (`SIGTRAP`,
 *   `SIGBUS`, `SIGSYS`) first, then the lowest number.
 * - A record carries `ssi_signo` (offset 0); every other field is 0:
 *   Deno's listener does not tell the sender (`ssi_pid`, `ssi_uid`) or the
 *   cause (`ssi_code`).
 * - While a signalfd (or an `EVFILT_SIGNAL` knote) holds a signal, Deno's
 *   listener replaces its default action, as blocking the signal with
 *   `sigprocmask` does in C; the last close brings the default action back,
 *   and a pending instance no signalfd lists any more is discarded.
 *
 * Deviation from Linux: `SIGKILL` and `SIGSTOP` (which Linux drops from the
 * mask silently), the signals Deno refuses to catch and real-time signals
 * give `-EINVAL`: a program must not believe it handles them.
 *
 * @module
 */

import { Description } from "../core/description.ts";
import { EAGAIN, EBADF, EINVAL } from "../core/errno.ts";
import { EPOLLIN, SFD_CLOEXEC, SFD_NONBLOCK, SIGNALFD_SIGINFO_SIZE } from "../core/constants.ts";
import { descriptors, lookupAs, requireNumber } from "../core/fd_table.ts";
import { isSignalNumber, subscribeSignal } from "./_signal_source.ts";
import { keepAliveWhileWaiting } from "./_keep_alive.ts";
import { traced, tracing } from "../core/_call_trace.ts";

/** A set of signal numbers 1..31 as bits (bit `n` is signal `n`). */
type SigSet = number;

/** `next_signal`'s SYNCHRONOUS_MASK, less what Deno cannot catch: SIGTRAP, SIGBUS, SIGSYS. */
const SYNCHRONOUS: SigSet = (1 << 5) | (1 << 7) | (1 << 31);

/** The pending signals, process-wide (Linux's `shared_pending`). */
let pending: SigSet = 0;
/** The open signalfds. */
const open = new Set<SignalFdDescription>();
/** Per signal: how many signalfds list it, and the subscription that catches it for them. */
const held = new Map<number, { count: number; stop: () => void }>();

/** A signal arrived: make it pending and wake the signalfds that list it, unless it already was. */
function arrived(signo: number): void {
  const bit = 1 << signo;
  if ((pending & bit) !== 0) return; // legacy_queue: coalesced, no wake-up
  pending |= bit;
  for (const sfd of open) if ((sfd.mask & bit) !== 0) sfd.raise();
}

/** Catches every signal of `set` for signalfds (all or none); 0 or `-EINVAL`. */
function hold(set: SigSet): number {
  const taken: number[] = [];
  for (const signo of members(set)) {
    const h = held.get(signo);
    if (h !== undefined) {
      h.count++;
      taken.push(signo);
      continue;
    }
    const stop = subscribeSignal(signo, arrived);
    if (typeof stop === "number") {
      unhold(taken);
      return stop;
    }
    held.set(signo, { count: 1, stop });
    taken.push(signo);
  }
  return 0;
}

/** Lets go of signals taken by {@linkcode hold}; the last one restores the default action. */
function unhold(signals: Iterable<number>): void {
  for (const signo of signals) {
    const h = held.get(signo)!;
    if (--h.count > 0) continue;
    held.delete(signo);
    h.stop();
    pending &= ~(1 << signo); // nobody will read it any more
  }
}

/** The signal numbers in a set, lowest first. */
function* members(set: SigSet): Iterable<number> {
  for (let signo = 1; signo < 32; signo++) if ((set & (1 << signo)) !== 0) yield signo;
}

/** The next signal `read` dequeues from `ready` (non-zero): synchronous ones first, then the lowest. */
function nextSignal(ready: SigSet): number {
  const sync = ready & SYNCHRONOUS;
  const from = sync !== 0 ? sync : ready;
  return 31 - Math.clz32(from & -from);
}

/** A signalfd. Internal: programs hold its fd. */
export class SignalFdDescription extends Description {
  readonly kind = "signalfd";
  #mask: SigSet = 0;
  #release = keepAliveWhileWaiting();

  /** The signals it lists, as bits. */
  get mask(): SigSet {
    return this.#mask;
  }

  /** Replaces the mask (all or nothing); 0 or `-EINVAL`. */
  setMask(set: SigSet): number {
    const err = hold(set);
    if (err < 0) return err;
    unhold(members(this.#mask));
    this.#mask = set;
    if ((pending & set) !== 0) this.notify(EPOLLIN);
    return 0;
  }

  /** `signalfd_poll`: readable while a listed signal is pending. */
  poll(): number {
    return (pending & this.#mask) !== 0 ? EPOLLIN : 0;
  }

  /** Dequeues pending listed signals, one 128-byte record each, as many as fit. */
  override read(buf: Uint8Array): number {
    if (buf.length < SIGNALFD_SIGINFO_SIZE) return -EINVAL;
    const max = Math.floor(buf.length / SIGNALFD_SIGINFO_SIZE);
    let n = 0;
    while (n < max) {
      const ready = pending & this.#mask;
      if (ready === 0) break;
      const signo = nextSignal(ready);
      pending &= ~(1 << signo);
      const record = buf.subarray(n * SIGNALFD_SIGINFO_SIZE, (n + 1) * SIGNALFD_SIGINFO_SIZE);
      record.fill(0);
      new DataView(record.buffer, record.byteOffset, 4).setUint32(0, signo, true);
      n++;
    }
    return n === 0 ? -EAGAIN : n * SIGNALFD_SIGINFO_SIZE;
  }

  /** Raises readiness (a listed signal became pending). */
  raise(): void {
    this.notify(EPOLLIN);
  }

  protected override onRelease(): void {
    open.delete(this);
    unhold(members(this.#mask));
    this.#mask = 0;
    this.#release();
  }

  constructor() {
    super();
    open.add(this);
  }
}

/**
 * Creates a signalfd, or changes the signals of one (`signalfd(2)`): the
 * descriptor is readable while one of `signals` is pending, and `read`
 * takes 128-byte `signalfd_siginfo` records (`ssi_signo`, a little-endian
 * `u32` at offset 0; the other fields are 0, Deno does not tell the
 * sender). While it is open the listed signals no longer have their default
 * action (a `SIGTERM` does not end the process); closing the last
 * signalfd or `EVFILT_SIGNAL` knote for a signal restores it.
 *
 * Two arrivals before a read make one record (one pending instance per
 * signal, as on Linux); a read with room for less than one record is
 * `-EINVAL`, with none pending `-EAGAIN`. A waiting `epollWait` keeps the
 * process alive; an open signalfd alone does not.
 *
 * @param fd `-1` for a new signalfd, or a signalfd whose signals to replace.
 * @param signals Signal numbers (Linux's: {@linkcode SIGHUP} 1, `SIGINT` 2,
 * `SIGQUIT` 3, `SIGUSR1` 10, `SIGUSR2` 12, `SIGTERM` 15, `SIGWINCH` 28…).
 * @param flags {@linkcode SFD_NONBLOCK}, {@linkcode SFD_CLOEXEC} (accepted;
 * every descriptor here is non-blocking).
 * @returns The fd; `-EINVAL` for other flags, a number that is not a
 * signal Deno can catch (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`,
 * `SIGSEGV`, real-time signals), or an `fd` that is not a signalfd;
 * `-EBADF` for a closed `fd`; `-EMFILE`.
 * @throws {TypeError} When `signals` is not an array of numbers.
 *
 * @example A signal as an event in an epoll loop
 * ```ts
 * import {
 *   close, EPOLL_CTL_ADD, epollCreate1, epollCtl, type EpollEvent, EPOLLIN, epollWait, read,
 *   SIGHUP, signalfd,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sfd = signalfd(-1, [SIGHUP], 0);
 * const epfd = epollCreate1(0);
 * epollCtl(epfd, EPOLL_CTL_ADD, sfd, { events: EPOLLIN, data: sfd });
 * Deno.kill(Deno.pid, "SIGHUP"); // caught by the signalfd: no default action
 * const events: EpollEvent[] = [];
 * assert.equal(await epollWait(epfd, events, 1, -1), 1);
 * const info = new Uint8Array(128);
 * assert.equal(read(sfd, info), 128);
 * assert.equal(new DataView(info.buffer).getUint32(0, true), SIGHUP); // ssi_signo
 * close(epfd);
 * close(sfd);
 * ```
 */
export function signalfd(fd: number, signals: number[], flags: number): number {
  if (tracing) return traced("signalfd", signalfd, fd, signals, flags);
  requireNumber(fd, "fd");
  requireNumber(flags, "flags");
  if (!Array.isArray(signals)) throw new TypeError("signals must be an array of signal numbers");
  let set: SigSet = 0;
  for (const signo of signals) {
    requireNumber(signo, "signal");
    if (!isSignalNumber(signo)) return -EINVAL;
    set |= 1 << signo;
  }
  if (!Number.isInteger(flags) || (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC)) !== 0) return -EINVAL;
  if (fd !== -1) {
    const sfd = lookupAs(fd, SignalFdDescription, EINVAL);
    if (typeof sfd === "number") return fd < 0 ? -EBADF : sfd;
    const err = sfd.setMask(set);
    return err < 0 ? err : fd;
  }
  const sfd = new SignalFdDescription();
  const err = sfd.setMask(set);
  if (err < 0) {
    sfd.retain();
    sfd.release();
    return err;
  }
  const made = descriptors.allocate(sfd);
  if (made < 0) {
    sfd.retain();
    sfd.release();
  }
  return made;
}
