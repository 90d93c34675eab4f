/**
 * The fabric: every link between the hosts, the faults set on them
 * (partitions, isolation, holds, rules) and the path a segment takes from
 * its sender's stack to its receiver's: routed, traced, judged by the
 * rules, lost, delayed, duplicated, held, then delivered or dropped.
 *
 * Links are directed (`from>to` by host name) and made on first use with
 * the network's default conditions; a host's link to itself (loopback)
 * has no latency unless `setLink` gave it some.
 *
 * @module
 */

import type { Driver } from "./_driver.ts";
import { MS } from "./_driver.ts";
import type { LinkOptions } from "./_knobs.ts";
import { LinkDir } from "./_link.ts";
import type { Segment } from "./_segment.ts";

/** What a rule decides for a segment. */
export type RuleVerdict = "pass" | "drop" | { delay: number };

/** What the fabric asks of the network. */
export interface FabricWorld {
  readonly seed: number;
  /** The name of the host owning `address` (loopback: the sender), or `undefined`. */
  route(address: string, from: string): string | undefined;
  /** Hands `seg` to host `to`'s stack; false when the host is down. */
  receive(to: string, seg: Segment): boolean;
  /** Adds an event to the trace. */
  note(host: string, kind: string, text: string): void;
  /** Adds a segment sent, delivered or dropped (`why`: the drop's reason) to the trace. */
  noteSegment(host: string, kind: "send" | "deliver" | "drop", seg: Segment, why?: string): void;
}

/** The links and their faults. */
export class Fabric {
  readonly #driver: Driver;
  readonly #world: FabricWorld;
  readonly #linkDefaults: LinkOptions;
  readonly #links = new Map<string, LinkDir<Segment>>();
  /** The same links by sender, then receiver: a segment's lookup builds no key string. */
  readonly #linksFrom = new Map<string, Map<string, LinkDir<Segment>>>();
  readonly #linkOpts = new Map<string, LinkOptions>();
  readonly #cuts = new Set<string>();
  readonly #isolated = new Set<string>();
  readonly #holds = new Set<string>();
  #rules: ((s: Segment) => RuleVerdict)[] = [];

  constructor(driver: Driver, world: FabricWorld, linkDefaults: LinkOptions) {
    this.#driver = driver;
    this.#world = world;
    this.#linkDefaults = { ...linkDefaults };
  }

  // ---- The path of a segment ------------------------------------------------

  #dir(from: string, to: string): LinkDir<Segment> {
    let row = this.#linksFrom.get(from);
    if (row === undefined) this.#linksFrom.set(from, row = new Map());
    let d = row.get(to);
    if (d === undefined) {
      const k = `${from}>${to}`;
      d = new LinkDir<Segment>(this.#linkOpts.get(k) ?? this.#linkDefaults, this.#world.seed, k);
      if (from === to && !this.#linkOpts.has(k)) d.opts = { latency: 0 };
      this.#links.set(k, d);
      row.set(to, d);
    }
    return d;
  }

  #cut(from: string, to: string): boolean {
    if (this.#cuts.size === 0 && this.#isolated.size === 0) return false;
    return from !== to &&
      (this.#cuts.has(`${from}>${to}`) || this.#isolated.has(from) || this.#isolated.has(to));
  }

  #drop(seg: Segment, why: string): void {
    this.#world.noteSegment(seg.from, "drop", seg, why);
  }

  /** Sends `seg` from host `seg.from` towards `seg.dst`. */
  transmit(seg: Segment): void {
    const dst = this.#world.route(seg.dst.address, seg.from);
    this.#world.noteSegment(seg.from, "send", seg);
    if (dst === undefined) return this.#drop(seg, "no route");
    seg.to = dst;
    if (this.#cut(seg.from, seg.to)) return this.#drop(seg, "partition");
    let extra = 0;
    for (const rule of this.#rules) {
      const v = rule(seg);
      if (v === "drop") return this.#drop(seg, "rule");
      if (typeof v === "object" && v !== null) extra += Math.max(0, v.delay);
    }
    const dir = this.#dir(seg.from, seg.to);
    if (dir.lost()) return this.#drop(seg, "loss");
    const ordered = seg.proto === "tcp";
    const at = dir.arrival(this.#driver.nowNs(), seg.data.length, ordered) +
      Math.round(extra * MS);
    const copies = dir.duplicated() ? 2 : 1;
    for (let i = 0; i < copies; i++) this.#driver.at(at, dir.tie, this.#arrive, seg);
  }

  /** A segment's arrival (one function for every one: the segment is the event's argument). */
  readonly #arrive = (seg: Segment): void => this.#deliver(seg, this.#driver.nowNs());

  #deliver(seg: Segment, at: number): void {
    if (this.#cut(seg.from, seg.to)) return this.#drop(seg, "partition");
    if (this.#holds.size > 0 && this.#holds.has(`${seg.from}>${seg.to}`)) {
      (this.#dir(seg.from, seg.to).held ??= []).push({ item: seg, at });
      return;
    }
    if (!this.#world.receive(seg.to, seg)) return this.#drop(seg, "host down");
  }

  // ---- Faults (by host name; traced) ---------------------------------------

  #pairs(x: string, y: string, oneWay: boolean | undefined): [string, string][] {
    return oneWay ? [[x, y]] : [[x, y], [y, x]];
  }

  /** Sets the conditions of the link `x`-`y` (over the network's defaults). */
  setLink(x: string, y: string, opts: LinkOptions): void {
    for (const [f, t] of this.#pairs(x, y, opts.oneWay)) {
      const k = `${f}>${t}`;
      const merged = { ...this.#linkDefaults, ...opts };
      this.#linkOpts.set(k, merged);
      const d = this.#links.get(k);
      if (d !== undefined) d.opts = merged;
    }
    this.#world.note("sim", "fault", `setLink ${x} ${y} ${JSON.stringify(opts)}`);
  }

  /** Drops every segment between `x` and `y` until `repair`. */
  partition(x: string, y: string, oneWay: boolean | undefined): void {
    for (const [f, t] of this.#pairs(x, y, oneWay)) this.#cuts.add(`${f}>${t}`);
    this.#world.note("sim", "fault", `partition ${x} ${y}${oneWay ? " oneWay" : ""}`);
  }

  /** Undoes `partition`. */
  repair(x: string, y: string, oneWay: boolean | undefined): void {
    for (const [f, t] of this.#pairs(x, y, oneWay)) this.#cuts.delete(`${f}>${t}`);
    this.#world.note("sim", "fault", `repair ${x} ${y}${oneWay ? " oneWay" : ""}`);
  }

  /** Segments between `x` and `y` wait until `release`. */
  hold(x: string, y: string, oneWay: boolean | undefined): void {
    for (const [f, t] of this.#pairs(x, y, oneWay)) this.#holds.add(`${f}>${t}`);
    this.#world.note("sim", "fault", `hold ${x} ${y}`);
  }

  /** Delivers what `hold` kept, in order. */
  release(x: string, y: string, oneWay: boolean | undefined): void {
    for (const [f, t] of this.#pairs(x, y, oneWay)) this.#release(f, t);
    this.#world.note("sim", "fault", `release ${x} ${y}`);
  }

  #release(x: string, y: string): void {
    this.#holds.delete(`${x}>${y}`);
    const d = this.#links.get(`${x}>${y}`);
    const held = d?.held;
    if (d === undefined || !held) return;
    d.held = null;
    const now = this.#driver.nowNs();
    for (const h of held) {
      const at = Math.max(now, h.at);
      this.#driver.at(at, d.tie, this.#arrive, h.item);
    }
  }

  /** Cuts one host off from every other. */
  isolate(x: string): void {
    this.#isolated.add(x);
    this.#world.note("sim", "fault", `isolate ${x}`);
  }

  /** Undoes every partition, isolation and hold. */
  heal(): void {
    this.#cuts.clear();
    this.#isolated.clear();
    for (const k of [...this.#holds]) {
      const [x, y] = k.split(">");
      this.#release(x, y);
    }
    this.#world.note("sim", "fault", "heal");
  }

  /** Adds a rule consulted for every segment; returns its removal. */
  rule(fn: (segment: Segment) => RuleVerdict): () => void {
    this.#rules = [...this.#rules, fn];
    this.#world.note("sim", "fault", `rule added (${this.#rules.length})`);
    return () => {
      this.#rules = this.#rules.filter((r) => r !== fn);
      this.#world.note("sim", "fault", "rule removed");
    };
  }
}
