/**
 * The kqueue instance: knotes, the ready list and the waiters (FreeBSD's
 * `struct kqueue` and `kqueue_scan`); `kevent.ts` holds the calls.
 *
 * - Knotes are keyed by `(filter, ident)`. READ/WRITE knotes watch their
 *   description through the same {@linkcode Watcher} hook epoll interests
 *   use; timer and user knotes are raised by their filter.
 * - A raised knote is evaluated by its filter; if the condition holds and
 *   the knote is enabled, it is appended to the ready list (once) and one
 *   waiter is woken. The kqueue is itself a description, readable while
 *   events are pending, so epolls and kqueues can watch it.
 * - A scan takes knotes from the head, re-evaluates each (dropping those
 *   whose condition has gone) and copies the event out, oldest first.
 *   Level-triggered knotes go back to the tail; `EV_CLEAR` and
 *   `EV_DISPATCH` knotes leave the list until raised again (DISPATCH also
 *   disables); `EV_ONESHOT` knotes are deleted.
 * - `close(fd)` deletes the knotes whose ident is `fd` in every kqueue of
 *   the same kernel (a close hook, `kernel.ts`; fd numbers are per kernel);
 *   closing the kqueue drops its knotes.
 *
 * @module
 */

import { Description, type FilterCounts } from "../core/description.ts";
import {
  EPOLLIN,
  EPOLLRDNORM,
  EV_CLEAR,
  EV_DISPATCH,
  EV_EOF,
  EV_ONESHOT,
  EV_RECEIPT,
} from "../core/constants.ts";
import { currentKernel, onDescriptorClose, PerKernel } from "../core/kernel.ts";
import { ReadyList } from "../core/_ready_list.ts";
import { WaitQueue } from "../core/_wait_queue.ts";
import type { KEvent, Knote, KnoteOwner } from "./_filter.ts";

/** The flags a returned event keeps from its knote. */
const KEPT_FLAGS = EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT;

/**
 * The one key of `(filter, ident)` in a kqueue: a number for idents below
 * 2^48 (the filter, -1..-11, packed into the low 4 bits: one Map lookup, no
 * string), a string above.
 */
function keyOf(filter: number, ident: number): number | string {
  return ident < 2 ** 48 ? ident * 16 + ~filter : `${filter}:${ident}`;
}

/** Every READ/WRITE knote by ident, across one kernel's kqueues, for `close(fd)`. */
type FdKnotes = Map<number, Set<Knote>>;

const fdKnotesOf = new PerKernel<FdKnotes>(() => new Map());

onDescriptorClose((fd, kernel) => {
  const set = fdKnotesOf.of(kernel).get(fd);
  if (set === undefined) return;
  for (const kn of [...set]) kn.kq.drop(kn);
});

/** A kqueue. Internal: programs hold its fd, or the object layer's `KQueue`. */
export class KQueueDescription extends Description implements KnoteOwner {
  readonly kind = "kqueue";
  /** Every knote, by {@linkcode keyOf}`(filter, ident)`. */
  #knotes = new Map<number | string, Knote>();
  /** Knotes whose event is pending (`kq_head`). */
  #ready = new ReadyList<Knote>();
  /** Tasks blocked in `kevent` on this kqueue. */
  #waiters = new WaitQueue();
  /** Its kernel's index of fd knotes (fd numbers are per kernel). */
  readonly #fdKnotes: FdKnotes = fdKnotesOf.of(currentKernel());

  /** Knotes on the ready list. */
  get pending(): number {
    return this.#ready.count;
  }

  /** Readable while a queued knote's condition still holds (stale ones are dropped). */
  poll(): number {
    for (let kn = this.#ready.head; kn !== null;) {
      const next = kn.next;
      if (kn.ops.event(kn)) return EPOLLIN | EPOLLRDNORM;
      kn.active = false;
      this.#ready.unlink(kn);
      kn = next;
    }
    return 0;
  }

  /** `EVFILT_READ` data: the pending events; no `EVFILT_WRITE` on a kqueue. */
  override counts(out: FilterCounts): void {
    out.readable = this.poll() ? this.#ready.count : 0;
    out.readEof = false;
    out.writable = -1;
    out.writeReady = false;
    out.writeEof = false;
    out.error = 0;
  }

  /** The watched descriptions (for the nesting check shared with epoll). */
  *watched(): Iterable<Description> {
    for (const kn of this.#knotes.values()) if (kn.desc !== null) yield kn.desc;
  }

  /** The knote for `(filter, ident)`. */
  find(filter: number, ident: number): Knote | undefined {
    return this.#knotes.get(keyOf(filter, ident));
  }

  /** Attaches and indexes a new knote; returns a positive errno or 0. */
  insert(kn: Knote): number {
    const err = kn.ops.attach(kn);
    if (err) {
      kn.ops.detach(kn);
      return err;
    }
    this.#knotes.set(keyOf(kn.filter, kn.ident), kn);
    if (kn.desc !== null) {
      kn.desc.watch(kn);
      let set = this.#fdKnotes.get(kn.ident);
      if (set === undefined) this.#fdKnotes.set(kn.ident, set = new Set());
      set.add(kn);
    }
    return 0;
  }

  /** Deletes a knote and its pending event (idempotent). */
  drop(kn: Knote): void {
    const key = keyOf(kn.filter, kn.ident);
    if (this.#knotes.get(key) !== kn) return;
    this.#knotes.delete(key);
    this.#ready.unlink(kn);
    kn.ops.detach(kn);
    if (kn.desc !== null) {
      const set = this.#fdKnotes.get(kn.ident);
      set?.delete(kn);
      if (set?.size === 0) this.#fdKnotes.delete(kn.ident);
    }
  }

  /** `EV_DISABLE`: stop reporting and drop the pending event. */
  disable(kn: Knote): void {
    kn.disabled = true;
    this.#ready.unlink(kn);
  }

  /** Evaluates an enabled knote now (after a change) and queues it if its condition holds. */
  evaluate(kn: Knote): void {
    if (!kn.disabled) this.knoteRaised(kn, 0);
  }

  /** Takes a knote off the ready list without deleting it (a re-added timer). */
  dequeue(kn: Knote): void {
    kn.active = false;
    this.#ready.unlink(kn);
  }

  knoteRaised(kn: Knote, _hint: number): boolean {
    if (kn.disabled) return false;
    if (!kn.ops.event(kn)) return false;
    kn.active = true;
    if (!kn.queued) this.#ready.append(kn);
    const woke = this.#waiters.wakeOne();
    // Nested in an epoll or kqueue: we are (still) readable; tell them.
    if (this.watchers.length > 0) this.notify(EPOLLIN | EPOLLRDNORM);
    return woke;
  }

  /** Copies up to `max` pending events into `out` from `start` (FreeBSD's `kqueue_scan`). */
  harvest(out: KEvent[], start: number, max: number): number {
    let n = 0;
    // Visit each knote queued now at most once: requeued ones wait for the next call.
    for (let budget = this.#ready.count; budget > 0 && n < max; budget--) {
      const kn = this.#ready.head!;
      this.#ready.unlink(kn);
      if (!kn.ops.event(kn)) {
        kn.active = false;
        continue;
      }
      const flags = (kn.flags & KEPT_FLAGS) | (kn.eof ? EV_EOF : 0);
      writeEvent(out, start + n, kn.ident, kn.filter, flags, kn.fflags, kn.data, kn.udata);
      n++;
      kn.ops.retrieved(kn);
      if (kn.flags & EV_ONESHOT) {
        this.drop(kn);
      } else if (kn.flags & (EV_CLEAR | EV_DISPATCH)) {
        kn.active = false;
        if (kn.flags & EV_DISPATCH) kn.disabled = true;
      } else {
        this.#ready.append(kn);
      }
    }
    if (this.#ready.count > 0) this.#waiters.wakeOne();
    return n;
  }

  /**
   * Harvests; otherwise sleeps until woken, the timeout passes or `signal`
   * aborts, and harvests again (the loop is this kqueue's
   * {@linkcode WaitQueue}).
   *
   * @param timeoutMs Milliseconds; -1 forever, 0 poll.
   * @returns The count of events, 0 on timeout, or `-EINTR`.
   */
  wait(
    out: KEvent[],
    start: number,
    max: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    return this.#waiters.wait(this, () => this.harvest(out, start, max), timeoutMs, signal);
  }

  protected override onRelease(): void {
    for (const kn of [...this.#knotes.values()]) this.drop(kn);
    this.#knotes.clear();
    this.#ready.clear();
  }
}

/** Writes one entry into `out[i]`, reusing the object already there. */
export function writeEvent(
  out: KEvent[],
  i: number,
  ident: number,
  filter: number,
  flags: number,
  fflags: number,
  data: number,
  udata: unknown,
): void {
  const slot = out[i];
  if (slot !== undefined && slot !== null && typeof slot === "object") {
    slot.ident = ident;
    slot.filter = filter;
    slot.flags = flags >>> 0;
    slot.fflags = fflags >>> 0;
    slot.data = data;
    slot.udata = udata;
  } else {
    out[i] = { ident, filter, flags: flags >>> 0, fflags: fflags >>> 0, data, udata };
  }
}
