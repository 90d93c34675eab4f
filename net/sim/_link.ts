/**
 * One direction of a link between two hosts: its conditions, its faults
 * (partition, hold) and the arithmetic of a segment's trip. Serialisation
 * (`bandwidth`) queues segments one after the other; latency (fixed, a
 * range, plus jitter) is added after it, and a TCP segment never arrives
 * before the one sent ahead of it on the same direction, so only loss,
 * duplication and rules' delays disturb their order. A UDP datagram
 * (`ordered` false) takes its own drawn delay: under jitter or a latency
 * range datagrams may overtake each other (UDP keeps no order), and
 * they hold back nothing behind them.
 *
 * @module
 */

import type { LinkOptions } from "./_knobs.ts";
import { Prng } from "./_prng.ts";

const MS = 1_000_000;

/** A held segment: delivered in order on release. */
export interface Held<T> {
  item: T;
  /** When it would have arrived (ns). */
  at: number;
}

/** One direction `a -> b`. */
export class LinkDir<T> {
  opts: LinkOptions;
  readonly prng: Prng;
  /** Seeded tie-break for this direction's events. */
  readonly tie: number;
  #busyUntil = 0;
  #lastArrival = 0;
  partitioned = false;
  held: Held<T>[] | null = null;

  constructor(opts: LinkOptions, seed: number, name: string) {
    this.opts = { ...opts };
    this.prng = Prng.fork(seed, `link:${name}`);
    this.tie = this.prng.u32();
  }

  /** Whether this segment is lost. */
  lost(): boolean {
    return this.prng.chance(this.opts.loss ?? 0);
  }

  /** Whether this segment is delivered twice. */
  duplicated(): boolean {
    return this.prng.chance(this.opts.duplicate ?? 0);
  }

  /** The arrival time (ns) of `bytes` of payload sent at `now` (ns); `ordered`: not before the last. */
  arrival(now: number, bytes: number, ordered = true): number {
    const o = this.opts;
    let t = now;
    if (o.bandwidth !== undefined && o.bandwidth > 0 && Number.isFinite(o.bandwidth)) {
      t = Math.max(now, this.#busyUntil) + Math.ceil(bytes * 1e9 / o.bandwidth);
      this.#busyUntil = t;
    }
    const lat = o.latency ?? 1;
    const base = typeof lat === "number" ? lat : lat.min + this.prng.float() * (lat.max - lat.min);
    const jitter = o.jitter ? this.prng.float() * o.jitter : 0;
    t += Math.round((base + jitter) * MS);
    if (!ordered) return t;
    t = Math.max(t, this.#lastArrival);
    this.#lastArrival = t;
    return t;
  }
}
