/**
 * The epoll instance: interests, the ready list and the waiters. This is
 * the reactor's core; `runtime/epoll/epoll.ts` holds the calls that validate
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
import { checkNesting } from "../core/_nesting.ts";
import { ReadyList } from "../core/_ready_list.ts";
import { WaitQueue } from "../core/_wait_queue.ts";
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

/**
 * An epoll instance. Internal: programs hold its fd, or the object layer's
 * `Epoll` class.
 */
export class EpollDescription extends Description {
  readonly kind = "epoll";
  /** Every interest of this epoll, to release them when it closes. */
  readonly items: Set<Interest> = new Set();
  /** Items whose readiness was raised and not yet reported (`rdllist`). */
  #ready = new ReadyList<Interest>();
  /** Tasks blocked in `epollWait` on this epoll (`ep->wq`). */
  #waiters = new WaitQueue();

  /** Readable while at least one queued item is really ready (`ep_eventpoll_poll`). */
  poll(): number {
    for (let it = this.#ready.head; it !== null;) {
      const next = it.next;
      if ((it.desc.poll(it.events) & it.events) !== 0) return EPOLLIN | EPOLLRDNORM;
      // Queued but no longer ready: drop it, as the kernel does here.
      this.#ready.unlink(it);
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
    this.#waiters.pollNow(); // kernel wake-ups that came first are queued first
    if ((item.desc.poll(item.events) & item.events) === 0 || item.queued) return;
    this.itemRaised(item, 0);
  }

  remove(item: Interest): void {
    item.desc.unwatch(item);
    this.forget(item);
  }

  /** Drops an item whose description went away, or that was removed. */
  forget(item: Interest): void {
    this.items.delete(item);
    this.#ready.unlink(item);
  }

  /** A watched description raised bits for `item`: queue it and wake a waiter. */
  itemRaised(item: Interest, events: number): boolean {
    if (!item.queued) {
      this.#waiters.pollNow(); // kernel wake-ups that came first are queued first
      // That poll may have raised this very item (its kernel edge came in
      // between): appending it again would link it twice and corrupt the list.
      if (!item.queued) this.#ready.append(item);
    }
    const woke = this.#waiters.wakeOne();
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
    for (let budget = this.#ready.count; budget > 0 && n < max; budget--) {
      const item = this.#ready.head!;
      this.#ready.unlink(item);
      const revents = (item.desc.poll(item.events) & item.events) >>> 0;
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
      else if (!(item.events & EPOLLET)) this.#ready.append(item);
    }
    if (this.#ready.count > 0) this.#waiters.wakeOne();
    return n;
  }

  /**
   * The whole of `ep_poll`: harvest what is ready; otherwise sleep until
   * woken, the timeout passes or `signal` aborts, and harvest again (the
   * loop is this epoll's {@linkcode WaitQueue}). Arguments are already
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
    return this.#waiters.wait(this, () => this.harvest(out, max), timeoutMs, signal);
  }

  protected override onRelease(): void {
    for (const item of this.items) item.desc.unwatch(item);
    this.items.clear();
    this.#ready.clear();
  }
}
