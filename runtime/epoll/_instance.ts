/**
 * The epoll instance: interests, the ready list and the waiters. This is
 * the reactor's core; `runtime/epoll.ts` holds the calls that validate
 * arguments and drive it.
 *
 * Model, as in the kernel (`fs/eventpoll.c`) and in Miri's shim:
 * - An epoll is a {@linkcode Description} holding interests ("epitems"),
 *   each keyed by (watched description, fd number).
 * - An interest subscribes to its description's watchers. When the
 *   description raises bits the interest asks for, the interest is put on
 *   the epoll's ready list (once; it is an intrusive list) and one waiting
 *   task is woken.
 * - A harvest takes items from the head of the ready list, re-polls each
 *   (stale readiness is dropped here), and reports the bits that are still
 *   up. Level-triggered items go back to the tail, so when more are ready
 *   than `maxevents` successive waits rotate through them; edge-triggered
 *   items leave the list until the next arrival; `EPOLLONESHOT` items are
 *   disarmed until `EPOLL_CTL_MOD`. The work is proportional to the items
 *   returned, never to the size of the interest set.
 * - ADD and MOD poll the description at once and queue the item when it is
 *   already ready, edge-triggered too (`ep_insert`/`ep_modify`). MOD polls
 *   even when the item is already queued: polling an inner epoll drops its
 *   stale items, as `ep_item_poll` does.
 * - An epoll tells its own watchers (outer epolls) with the wake key
 *   `EPOLLIN` alone (`ep_poll_safewake`), so an outer interest that asks for
 *   `EPOLLRDNORM` without `EPOLLIN` is queued only by ADD/MOD's own poll.
 * - An epoll is itself pollable (readable while it has ready items), so it
 *   can sit inside another epoll; ADD refuses cycles and nesting deeper than
 *   Linux's `EP_MAX_NESTS` (4) with `-ELOOP`.
 * - Waiters queue FIFO and are woken one at a time (`ep->wq` is an exclusive
 *   wait queue); a waiter that leaves items behind wakes the next.
 *
 * @module
 */

import { Description, type FilterCounts, type Watcher } from "../core/description.ts";
import { EINTR } from "../core/errno.ts";
import { checkNesting } from "../core/_nesting.ts";
import { loopTurn, loopTurnDue } from "../core/_loop_turn.ts";
import { holdTimers } from "../timer/_queue.ts";
import {
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWAKEUP,
} from "../core/constants.ts";

/** One entry of an `epollWait` result, or the event given to `epollCtl`. */
export interface EpollEvent {
  /** The event mask: requested events on `epollCtl`, raised events on return. */
  events: number;
  /** Any value; returned exactly as given to the latest ADD or MOD. */
  data: unknown;
}

/** Flag bits that are not poll events (`EP_PRIVATE_BITS`). */
const PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/** The largest delay `setTimeout` takes; longer waits re-arm. */
const MAX_TIMER_MS = 0x7fffffff;

/** A registration of (description, fd) in one epoll: Linux's `epitem`. */
class Interest implements Watcher {
  /** Requested events, always with ERR|HUP, plus flag bits. */
  events: number;
  data: unknown;
  readonly exclusive: boolean;
  /** Ready-list links; `queued` tells whether the item is on the list. */
  prev: Interest | null = null;
  next: Interest | null = null;
  queued = false;

  constructor(
    readonly ep: EpollDescription,
    readonly desc: Description,
    readonly fd: number,
    events: number,
    data: unknown,
  ) {
    this.events = events;
    this.data = data;
    this.exclusive = (events & EPOLLEXCLUSIVE) !== 0;
  }

  wake(events: number): boolean {
    // A disarmed ONESHOT item, or bits it did not ask for: no wake-up.
    if ((this.events & ~PRIVATE_BITS) === 0) return false;
    if (events !== 0 && (events & this.events) === 0) return false;
    return this.ep.itemRaised(this, events);
  }

  detach(): void {
    this.ep.forget(this);
  }

  get owner(): Description {
    return this.ep;
  }
}

/** A task blocked in `epollWait`. */
interface Waiter {
  resolve: () => void;
  woken: boolean;
}

/**
 * An epoll instance. Internal: programs hold its fd, or the object layer's
 * `Epoll` class.
 */
export class EpollDescription extends Description {
  readonly kind = "epoll";
  /** Every interest of this epoll, to release them when it closes. */
  readonly items: Set<Interest> = new Set();
  #head: Interest | null = null;
  #tail: Interest | null = null;
  #readyCount = 0;
  #waiters: Waiter[] = [];

  /** Number of items on the ready list (some may be stale until re-polled). */
  get readyCount(): number {
    return this.#readyCount;
  }

  /** Readable while at least one queued item is really ready (`ep_eventpoll_poll`). */
  poll(): number {
    for (let it = this.#head; it !== null;) {
      const next = it.next;
      if ((it.desc.poll() & it.events) !== 0) return EPOLLIN | EPOLLRDNORM;
      // Queued but no longer ready: drop it, as the kernel does here.
      this.#unlink(it);
      it = next;
    }
    return 0;
  }

  /** The watched descriptions (for the nesting check shared with kqueue). */
  *watched(): Iterable<Description> {
    for (const item of this.items) yield item.desc;
  }

  /** kqueue's view: `data` 1 while readable; no `EVFILT_WRITE` on an epoll. */
  override counts(out: FilterCounts): void {
    super.counts(out);
    out.writable = -1;
    out.writeReady = false;
  }

  /** Finds the interest for (desc, fd), the key Linux uses. */
  find(desc: Description, fd: number): Interest | undefined {
    for (const w of desc.watchers) {
      if (w instanceof Interest && w.ep === this && w.fd === fd) return w;
    }
    return undefined;
  }

  insert(desc: Description, fd: number, events: number, data: unknown): number {
    const loop = checkNesting(this, desc);
    if (loop < 0) return loop;
    const item = new Interest(this, desc, fd, events, data);
    this.items.add(item);
    desc.watch(item);
    // Report readiness that already exists, edge-triggered too (ep_insert).
    this.#queueIfReady(item);
    return 0;
  }

  modify(item: Interest, events: number, data: unknown): number {
    item.events = events;
    item.data = data;
    // Re-arms ONESHOT and re-reports current readiness (ep_modify).
    this.#queueIfReady(item);
    return 0;
  }

  /**
   * ADD and MOD: poll the description (always: an inner epoll drops its
   * stale items while polled) and queue the item when it is ready now.
   * Unlike a wake-up from the description, an item already queued wakes
   * nobody (ep_insert and ep_modify only wake when they link the item).
   */
  #queueIfReady(item: Interest): void {
    if ((item.desc.poll() & item.events) === 0 || item.queued) return;
    this.itemRaised(item, 0);
  }

  remove(item: Interest): void {
    item.desc.unwatch(item);
    this.forget(item);
  }

  /** Drops an item whose description went away, or that was removed. */
  forget(item: Interest): void {
    this.items.delete(item);
    this.#unlink(item);
  }

  /** A watched description raised bits for `item`: queue it and wake a waiter. */
  itemRaised(item: Interest, events: number): boolean {
    if (!item.queued) this.#append(item);
    const woke = this.#wakeOne();
    // Nested epolls: we became (or stay) readable; tell our own watchers
    // with ep_poll_safewake's key, EPOLLIN alone.
    if (this.watchers.length > 0) this.notify(EPOLLIN);
    // Exclusive items count as a wake-up only if they woke a waiter for
    // their own direction (ep_poll_callback's switch on EPOLLIN/EPOLLOUT).
    if (!item.exclusive) return true;
    if (!woke) return false;
    switch (events & (EPOLLIN | EPOLLOUT)) {
      case 0:
        return true;
      case EPOLLIN:
        return (item.events & EPOLLIN) !== 0;
      case EPOLLOUT:
        return (item.events & EPOLLOUT) !== 0;
      default:
        return false;
    }
  }

  /**
   * Moves up to `max` ready events into `out`, starting at the head of the
   * ready list (`ep_send_events`).
   */
  harvest(out: EpollEvent[], max: number): number {
    let n = 0;
    // Visit each item queued now at most once: LT items re-queued at the
    // tail during this scan wait for the next call.
    for (let budget = this.#readyCount; budget > 0 && n < max; budget--) {
      const item = this.#head!;
      this.#unlink(item);
      const revents = (item.desc.poll() & item.events) >>> 0;
      if (revents === 0) continue;
      const slot = out[n];
      if (slot !== undefined && slot !== null && typeof slot === "object") {
        slot.events = revents;
        slot.data = item.data;
      } else {
        out[n] = { events: revents, data: item.data };
      }
      n++;
      if (item.events & EPOLLONESHOT) item.events &= PRIVATE_BITS;
      else if (!(item.events & EPOLLET)) this.#append(item);
    }
    if (this.#readyCount > 0) this.#wakeOne();
    return n;
  }

  /**
   * The whole of `ep_poll`: harvest what is ready; otherwise sleep until
   * woken, the timeout passes or `signal` aborts, and harvest again. A
   * wake-up that finds nothing (another waiter took the events, or they
   * went stale) sleeps again until the deadline. Arguments are already
   * validated by the calls in `epoll.ts`.
   *
   * @param out The output array.
   * @param max `maxevents`.
   * @param timeoutMs Milliseconds; -1 forever, 0 poll.
   * @param signal Aborting it ends the wait with `-EINTR`.
   * @returns The count of events, 0 on timeout, or `-EINTR`.
   */
  wait(
    out: EpollEvent[],
    max: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    // A wait that would return without sleeping resolves in a microtask: let
    // Deno's event loop turn first when it has not for a while, so that a
    // loop of such waits cannot starve I/O and timers (core/_loop_turn.ts).
    if (loopTurnDue()) return this.#waitAfterTurn(out, max, timeoutMs, signal);
    // ep_poll: ready events, then a zero timeout, win over a pending signal.
    const n = this.harvest(out, max);
    if (n > 0 || timeoutMs === 0) return Promise.resolve(n);
    if (signal?.aborted) return Promise.resolve(-EINTR);
    return this.#waitLoop(out, max, timeoutMs, signal);
  }

  async #waitAfterTurn(
    out: EpollEvent[],
    max: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    this.retain();
    try {
      await loopTurn();
      return await this.wait(out, max, timeoutMs, signal);
    } finally {
      this.release();
    }
  }

  async #waitLoop(
    out: EpollEvent[],
    max: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    // Hold the epoll for the whole wait: closing its fd does not end the wait.
    this.retain();
    try {
      const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
      for (;;) {
        const remaining = deadline === Infinity ? -1 : Math.max(0, deadline - performance.now());
        const why = await this.sleep(remaining, signal);
        if (why === "abort") return -EINTR;
        // Woken from a microtask (an in-memory peer), not by Deno I/O: the
        // same fairness as above.
        if (loopTurnDue()) await loopTurn();
        const n = this.harvest(out, max);
        if (n > 0 || why === "timeout") return n;
        if (deadline !== Infinity && performance.now() >= deadline) return 0;
      }
    } finally {
      this.release();
    }
  }

  /** Parks the caller until woken, the timeout fires or `signal` aborts. */
  sleep(timeoutMs: number, signal: AbortSignal | undefined): Promise<"wake" | "timeout" | "abort"> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A timerfd may be what wakes us: keep the shared timer alive meanwhile.
      const unhold = holdTimers();
      const waiter: Waiter = {
        woken: false,
        resolve: () => done("wake"),
      };
      const onAbort = () => done("abort");
      const done = (why: "wake" | "timeout" | "abort") => {
        if (waiter.woken) return;
        waiter.woken = true;
        if (timer !== undefined) clearTimeout(timer);
        unhold();
        signal?.removeEventListener("abort", onAbort);
        if (why !== "wake") {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
        }
        resolve(why);
      };
      if (timeoutMs >= 0) {
        timer = setTimeout(() => done("timeout"), Math.min(timeoutMs, MAX_TIMER_MS));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  protected override onRelease(): void {
    for (const item of this.items) item.desc.unwatch(item);
    this.items.clear();
    this.#head = this.#tail = null;
    this.#readyCount = 0;
  }

  #wakeOne(): boolean {
    const w = this.#waiters.shift();
    if (w === undefined) return false;
    w.resolve();
    return true;
  }

  #append(item: Interest): void {
    item.queued = true;
    item.next = null;
    item.prev = this.#tail;
    if (this.#tail) this.#tail.next = item;
    else this.#head = item;
    this.#tail = item;
    this.#readyCount++;
  }

  #unlink(item: Interest): void {
    if (!item.queued) return;
    if (item.prev) item.prev.next = item.next;
    else this.#head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.#tail = item.prev;
    item.prev = item.next = null;
    item.queued = false;
    this.#readyCount--;
  }
}
