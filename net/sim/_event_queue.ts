/**
 * The simulation's one event queue: a binary min-heap ordered by
 * (virtual time, tie, sequence). Virtual time is an integer count of
 * nanoseconds; `tie` is a seeded draw given by whoever schedules (so events
 * of different sources due at the same instant run in a seeded order); the
 * sequence number (insertion order) decides the rest, which keeps the
 * events of one source with one tie (a link direction) in FIFO order.
 *
 * Cancelling marks an event dead; it is dropped when it reaches the top.
 *
 * @module
 */

/** A scheduled event. */
export interface SimEvent {
  /** Virtual time, integer nanoseconds. */
  at: number;
  /** Seeded tie-break among events due at the same instant. */
  tie: number;
  /** Insertion order. */
  seq: number;
  /** Set by {@linkcode EventQueue.cancel}. */
  dead: boolean;
  /** Runs the event (called with {@linkcode SimEvent.arg}). */
  fire: (arg: never) => void;
  /** What `fire` is called with: one function serves many events without a closure each. */
  arg: unknown;
}

function before(a: SimEvent, b: SimEvent): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.tie !== b.tie) return a.tie < b.tie;
  return a.seq < b.seq;
}

/** The queue. */
export class EventQueue {
  #heap: SimEvent[] = [];
  #seq = 0;
  #live = 0;

  /** Live (not cancelled) events queued. */
  get size(): number {
    return this.#live;
  }

  /** Queues `fire(arg)` at `at` (ns) with tie-break `tie`; returns the event (to cancel it). */
  push<A>(at: number, tie: number, fire: (arg: A) => void, arg?: A): SimEvent {
    const e: SimEvent = { at, tie, seq: this.#seq++, dead: false, fire, arg };
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
    this.#live++;
    return e;
  }

  /** Cancels `e` (no effect when already run or cancelled). */
  cancel(e: SimEvent | undefined): void {
    if (e === undefined || e.dead) return;
    e.dead = true;
    this.#live--;
  }

  /** The earliest live event, without removing it. */
  peek(): SimEvent | undefined {
    this.#dropDead();
    return this.#heap[0];
  }

  /** Removes and returns the earliest live event. */
  pop(): SimEvent | undefined {
    this.#dropDead();
    const e = this.#removeTop();
    if (e !== undefined) {
      e.dead = true;
      this.#live--;
    }
    return e;
  }

  #dropDead(): void {
    while (this.#heap.length > 0 && this.#heap[0].dead) this.#removeTop();
  }

  #removeTop(): SimEvent | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && before(h[l + 1], h[l]) ? l + 1 : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
