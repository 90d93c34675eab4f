/**
 * Per-connection deadlines for the example servers, on one timerfd: a
 * min-heap of connections keyed by deadline, and the timerfd armed for the
 * earliest. Moving a deadline later (the common case: every request pushes
 * the idle deadline back) only stores the new time; the heap entry is
 * re-keyed when it surfaces. Moving it earlier sifts it up at once.
 *
 * The server adds the timerfd to its epoll set; when it is readable, it calls
 * {@linkcode Deadlines.expire}.
 *
 * @module
 */

import {
  CLOCK_MONOTONIC,
  close,
  read,
  TFD_NONBLOCK,
  TFD_TIMER_ABSTIME,
  timerfdCreate,
  timerfdSettime,
} from "../mod.ts";

/** Something with a deadline (a connection). */
export interface Timed {
  /** The deadline (`performance.now()` milliseconds), or `Infinity` for none. */
  deadline: number;
  /** Position in the heap, -1 when not in it. Owned by {@linkcode Deadlines}. */
  heapIndex: number;
  /** The deadline the heap orders this entry by (at most `deadline`). Owned by {@linkcode Deadlines}. */
  heapKey: number;
}

/** The deadline heap and its timerfd. */
export class Deadlines<T extends Timed> {
  /** The timerfd to watch for `EPOLLIN`. */
  readonly fd: number;
  #heap: T[] = [];
  #armed = Infinity;
  #tick = new Uint8Array(8);

  constructor() {
    this.fd = timerfdCreate(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (this.fd < 0) throw new Error(`timerfdCreate: ${this.fd}`);
  }

  /** Sets `item`'s deadline to `at` (`Infinity` clears it). */
  set(item: T, at: number): void {
    item.deadline = at;
    if (at === Infinity) return; // found stale when it surfaces
    if (item.heapIndex < 0) {
      item.heapKey = at;
      item.heapIndex = this.#heap.length;
      this.#heap.push(item);
      this.#up(item.heapIndex);
    } else if (at < item.heapKey) {
      item.heapKey = at;
      this.#up(item.heapIndex);
    }
    this.#arm();
  }

  /** Removes `item` (a closed connection). */
  delete(item: T): void {
    item.deadline = Infinity;
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.#heap.pop()!;
    item.heapIndex = -1;
    if (last !== item) {
      this.#heap[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
  }

  /** Reads the timerfd and calls `onExpired` for every item whose deadline has passed. */
  expire(onExpired: (item: T) => void): void {
    read(this.fd, this.#tick);
    this.#armed = Infinity;
    const now = performance.now();
    while (this.#heap.length > 0 && this.#heap[0].heapKey <= now) {
      const item = this.#heap[0];
      if (item.deadline > now) {
        if (item.deadline === Infinity) {
          this.delete(item);
        } else {
          item.heapKey = item.deadline; // moved later meanwhile: re-key
          this.#down(0);
        }
        continue;
      }
      this.delete(item);
      onExpired(item);
    }
    this.#arm();
  }

  /** Closes the timerfd. */
  close(): void {
    close(this.fd);
  }

  #arm(): void {
    const next = this.#heap.length > 0 ? this.#heap[0].heapKey : Infinity;
    if (next === this.#armed) return;
    this.#armed = next;
    const at = next === Infinity ? 0 : Math.max(next, 0.001);
    const sec = Math.floor(at / 1000);
    timerfdSettime(this.fd, TFD_TIMER_ABSTIME, {
      interval: { sec: 0, nsec: 0 },
      value: { sec, nsec: Math.round((at - sec * 1000) * 1e6) % 1e9 },
    });
  }

  #up(i: number): void {
    const h = this.#heap;
    const item = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].heapKey <= item.heapKey) break;
      h[i] = h[p];
      h[i].heapIndex = i;
      i = p;
    }
    h[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const item = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1].heapKey < h[l].heapKey ? l + 1 : l;
      if (h[c].heapKey >= item.heapKey) break;
      h[i] = h[c];
      h[i].heapIndex = i;
      i = c;
    }
    h[i] = item;
    item.heapIndex = i;
  }
}
