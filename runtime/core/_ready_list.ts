/**
 * The ready list of a waitable instance (an epoll's `rdllist`, a kqueue's
 * `kq_head`): an intrusive FIFO of the items whose readiness was raised and
 * not yet reported.
 *
 * Invariants:
 * - An item is on the list exactly when its `queued` flag is set, and at
 *   most once: `append` is only called for an item that is not queued.
 * - `count` is the number of queued items; `head` is the oldest.
 * - Links live in the items themselves, so queueing allocates nothing and
 *   `unlink` is O(1) from anywhere in the list.
 *
 * @module
 */

/** The links an item carries to sit on a {@linkcode ReadyList}. */
export interface ReadyLinks<T> {
  prev: T | null;
  next: T | null;
  /** Whether the item is on its list now. */
  queued: boolean;
}

/** An intrusive FIFO of ready items. */
export class ReadyList<T extends ReadyLinks<T>> {
  #head: T | null = null;
  #tail: T | null = null;
  #count = 0;

  /** The oldest queued item, or `null`. */
  get head(): T | null {
    return this.#head;
  }

  /** How many items are queued (some may be stale until their owner re-checks them). */
  get count(): number {
    return this.#count;
  }

  /** Queues `item` at the tail; it must not be queued already. */
  append(item: T): void {
    item.queued = true;
    item.next = null;
    item.prev = this.#tail;
    if (this.#tail) this.#tail.next = item;
    else this.#head = item;
    this.#tail = item;
    this.#count++;
  }

  /** Takes `item` off the list; nothing happens when it is not queued. */
  unlink(item: T): void {
    if (!item.queued) return;
    if (item.prev) item.prev.next = item.next;
    else this.#head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.#tail = item.prev;
    item.prev = item.next = null;
    item.queued = false;
    this.#count--;
  }

  /** Forgets every item (the owner is being released; the items go with it). */
  clear(): void {
    this.#head = this.#tail = null;
    this.#count = 0;
  }
}
