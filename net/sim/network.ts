/**
 * The simulated network: hosts, links, faults, virtual time and the driver
 * that runs the hosts' programs.
 *
 * Invariants (the determinism essay):
 * - Every source of variation is drawn from the run's seed: the network's
 *   own stream, one stream per link direction and one per host, each
 *   forked by name, so one seed and one program give one trace.
 * - Virtual time is an integer count of nanoseconds that moves only in
 *   {@linkcode SimNetwork.step}, to the next event of the queue, and only
 *   once nothing can run: after each event the driver lets the programs
 *   run to their next wait through `MessageChannel` barriers (a macrotask:
 *   every microtask has run before it), repeated while the hosts keep
 *   making calls.
 * - Everything that waits inside a host (a wait's timeout, `sleep`, TCP's
 *   timers) is an event of the queue; nothing in the simulation reads the
 *   real clock.
 * - Faults are what TCP shows: a dropped, held or duplicated segment
 *   becomes delay, retransmission and finally `ETIMEDOUT`; the byte stream
 *   never has a hole.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Clock, ClockAlarm } from "../../runtime/core/clock.ts";
import { EventQueue, type SimEvent } from "./_event_queue.ts";
import { type LinkOptions, type TcpKnobs, tcpKnobs } from "./_knobs.ts";
import { LinkDir } from "./_link.ts";
import { Prng } from "./_prng.ts";
import type { Segment } from "./_segment.ts";
import { type SimTraceEvent, Trace } from "./_trace.ts";
import { type BlockedWait, SimError, SimHostDown } from "./errors.ts";
import { GlobalPatch, VIRTUAL_EPOCH_MS } from "./globals.ts";
import { Host, type SimHost, type SimHostOptions, type SimMain } from "./host.ts";
import { RST } from "./_segment.ts";
import { Stack } from "./_stack.ts";

const MS = 1_000_000;

/** Options of {@linkcode createSimNetwork}. */
export interface SimNetworkOptions {
  /** The seed (u32). Default: `DENO_EPOLL_SIM_SEED` when readable, else a fresh one. */
  seed?: number;
  /** Conditions of every link unless {@linkcode SimNetwork.setLink} says otherwise. */
  link?: LinkOptions;
  /** TCP knobs (Linux's defaults). */
  tcp?: Partial<TcpKnobs>;
}

/** What {@linkcode SimNetwork.run} resolves to. */
export interface SimReport {
  /** The run's seed (`DENO_EPOLL_SIM_SEED=seed` replays it). */
  seed: number;
  /** Virtual ms at the end. */
  now: number;
  /** Events run. */
  steps: number;
  /** The digest of the trace ({@linkcode SimNetwork.traceHash}). */
  traceHash: string;
}

/** Options of {@linkcode SimNetwork.run}. */
export interface SimRunOptions {
  /** Stop at this virtual time (ms). */
  until?: number;
  /** Fail with a `SimError` after this many steps. */
  maxSteps?: number;
}

/** What a rule decides for a segment. */
export type RuleVerdict = "pass" | "drop" | { delay: number };

/** A `netstat` row. */
export interface NetstatRow {
  /** The host's name. */
  host: string;
  /** The descriptor in the host's table, or -1 for a connection without one (closing, TIME_WAIT). */
  fd: number;
  /** Local `address:port` (`0.0.0.0:0` before bind). */
  local: string;
  /** Peer `address:port`, or `*:*`. */
  peer: string;
  /** Linux's state name: `LISTEN`, `SYN_SENT`, ..., `TIME_WAIT`, or `CLOSED`. */
  state: string;
  /** Bytes written and not yet acknowledged (`ss`'s Send-Q). */
  sendQ: number;
  /** Bytes received and not yet read; for a listener, connections not yet accepted. */
  recvQ: number;
}

/** A host, its name, or one of its addresses. */
export type HostRef = SimHost | string;

/** `DENO_EPOLL_SIM_SEED`, when set and readable. */
export function envSeed(): number | undefined {
  try {
    const q = Deno.permissions.querySync({ name: "env", variable: "DENO_EPOLL_SIM_SEED" });
    if (q.state !== "granted") return undefined;
    const v = Deno.env.get("DENO_EPOLL_SIM_SEED");
    return v === undefined || v === "" ? undefined : Number(v) >>> 0;
  } catch {
    return undefined;
  }
}

/** One simulated network. Make one with {@linkcode createSimNetwork}. */
export class SimNetwork {
  /** The run's seed. */
  readonly seed: number;
  /** The TCP knobs in force (Linux's defaults unless `opts.tcp` changed them). */
  readonly knobs: TcpKnobs;
  readonly #trace: Trace = new Trace();
  readonly #queue = new EventQueue();
  readonly #prng: Prng;
  readonly #linkDefaults: LinkOptions;
  readonly #links = new Map<string, LinkDir<Segment>>();
  readonly #linkOpts = new Map<string, LinkOptions>();
  readonly #hosts = new Map<string, Host>();
  readonly #byAddress = new Map<string, Host>();
  readonly #cuts = new Set<string>();
  readonly #isolated = new Set<string>();
  readonly #holds = new Set<string>();
  #rules: ((s: Segment) => RuleVerdict)[] = [];
  #now = 0;
  #steps = 0;
  /**
   * @internal Changes a program may observe: readiness raised on a simulated
   * socket, a wait's timer, a program started. An event that moves
   * neither needs no barrier after it.
   */
  pokes = 0;
  #failure: SimError | null = null;
  #globals: GlobalPatch | undefined;
  #starting: Host[] = [];
  /** Turns of the hosts' fairness policy in flight: the driver waits for them. */
  #turning = 0;
  /** The virtual clock every host's kernel runs on. */
  readonly #clock: Clock = {
    now: () => this.now(),
    wallNow: () => VIRTUAL_EPOCH_MS + this.now(),
    alarm: (deadline: number, fire: () => void): ClockAlarm => {
      const at = Math.max(this.#now, Math.ceil(deadline * MS));
      const ev = this.#queue.push(at, this.#prng.u32(), () => {
        this.pokes++;
        fire();
      });
      return { cancel: () => this.cancel(ev), keepAlive: () => {} };
    },
  };
  #clients = new Set<Host>();

  /** Use {@linkcode createSimNetwork}. */
  constructor(opts: SimNetworkOptions = {}) {
    this.seed = (opts.seed ?? envSeed() ?? (crypto.getRandomValues(new Uint32Array(1))[0])) >>> 0;
    this.knobs = tcpKnobs(opts.tcp);
    this.#prng = Prng.fork(this.seed, "network");
    this.#linkDefaults = { ...opts.link };
  }

  // ---- Time and events ------------------------------------------------------

  /** Virtual milliseconds since the start. */
  now(): number {
    return this.#now / MS;
  }

  /** Virtual nanoseconds since the start. */
  nowNs(): number {
    return this.#now;
  }

  /** @internal Schedules `fn` after `ms` virtual milliseconds (a seeded tie-break among equals). */
  after(ms: number, fn: () => void, tie: number = this.#prng.u32()): SimEvent {
    return this.#queue.push(this.#now + Math.max(0, Math.round(ms * MS)), tie, fn);
  }

  /** @internal Cancels a scheduled event. */
  cancel(ev: SimEvent | undefined): void {
    this.#queue.cancel(ev);
  }

  /** Every event of the run so far (built when read). */
  get trace(): SimTraceEvent[] {
    return this.#trace.events;
  }

  /** @internal Adds a line to the trace. */
  note(host: string, kind: string, text: string): void {
    this.#trace.note(this.#now, host, kind, text);
  }

  /** @internal Adds a host's call and its result to the trace. */
  noteCall(host: string, name: string, args: readonly unknown[], result: unknown): void {
    this.#trace.call(this.#now, host, name, args, result);
  }

  /** The digest of the trace so far. */
  traceHash(): string {
    return this.#trace.hash();
  }

  // ---- Hosts ----------------------------------------------------------------

  /** Adds a host: deterministic addresses (10.0.0.n, fd00::n) unless given. */
  addHost(name: string, opts: SimHostOptions = {}): Host {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("host name must be a non-empty string");
    }
    if (this.#hosts.has(name)) throw new Error(`duplicate host name: ${name}`);
    const n = this.#hosts.size + 1;
    const addresses = opts.addresses ?? [`10.0.${n >> 8}.${n & 255}`, `fd00::${n.toString(16)}`];
    for (const a of addresses) {
      if (this.#byAddress.has(a)) throw new Error(`duplicate address: ${a}`);
    }
    const seed = this.seed;
    const stack = new Stack(name, addresses, this.knobs, {
      nowNs: () => this.#now,
      transmit: (seg) => this.#transmit(seg),
      after: (ms, fn) => this.after(ms, fn),
      cancel: (ev) => this.cancel(ev),
      trace: (host, kind, text) => this.note(host, kind, text),
      poke: () => this.pokes++,
    }, Prng.fork(seed, `stack:${name}`));
    const host = new Host(
      this,
      name,
      addresses,
      stack,
      Prng.fork(seed, `host:${name}`),
      this.#clock,
    );
    this.#hosts.set(name, host);
    for (const a of addresses) this.#byAddress.set(a, host);
    return host;
  }

  /** The host for a reference (a host, a name, an address). */
  host(ref: HostRef): Host {
    if (ref instanceof Host) return ref;
    const key = typeof ref === "string" ? ref : ref.name;
    const h = this.#hosts.get(key) ?? this.#byAddress.get(key);
    if (h === undefined) throw new Error(`no such host: ${ref}`);
    return h;
  }

  /** The first address of a host name (the sim's DNS), or `null`. */
  resolve(name: string): string | null {
    return this.#hosts.get(name)?.addresses[0] ?? null;
  }

  /** Starts `main` on `host` (kept, so that `restart` runs it again). */
  spawn(host: HostRef, main: SimMain): void {
    const h = this.host(host);
    h.main = main;
    h.start();
  }

  /** `addHost` + `spawn`; `run()` ends when every client's `main` has settled. */
  client(name: string, main: SimMain, opts?: SimHostOptions): Host {
    const h = this.addHost(name, opts);
    this.#clients.add(h);
    this.spawn(h, main);
    return h;
  }

  /** @internal Starts `host`'s program at the next driving call (inside the globals, when installed). */
  startSoon(host: Host): void {
    if (!this.#starting.includes(host)) this.#starting.push(host);
  }

  /** Whether a launched program is still loading (see `Host.starting`). */
  #loading(): boolean {
    for (const h of this.#hosts.values()) if (h.starting) return true;
    return false;
  }

  #launch(): void {
    const hosts = this.#starting;
    this.#starting = [];
    for (const h of hosts) h.launch();
  }

  /** @internal A host's program threw: the run fails. */
  hostFailed(host: Host, cause: unknown): void {
    this.note(host.name, "host", `main threw: ${cause instanceof Error ? cause.message : cause}`);
    this.#failure ??= this.#error("the host's program threw", host.name, cause);
  }

  #error(what: string, host: string | null, cause: unknown): SimError {
    return new SimError(what, {
      seed: this.seed,
      now: this.now(),
      step: this.#steps,
      host,
      cause,
      blocked: this.blocked(),
    });
  }

  /** Every host's pending waits. */
  blocked(): BlockedWait[] {
    const out: BlockedWait[] = [];
    for (const h of this.#hosts.values()) {
      if (h.settled) continue;
      for (const call of h.waits()) out.push({ host: h.name, call });
    }
    return out;
  }

  // ---- The driver -----------------------------------------------------------

  /**
   * Lets the programs run until they all wait again. One macrotask is
   * enough for everything that runs in microtasks (a woken wait, the
   * program's code up to its next wait); the only macrotasks a program
   * makes here are the fairness turns of its waits and the loading of a
   * module it imports, and the barrier repeats while either is pending.
   */
  async #quiesce(): Promise<void> {
    do await barrier(); while (this.#turning > 0 || this.#loading());
  }

  /** Runs the next event (advancing virtual time to it) and lets the programs react. */
  step(): Promise<boolean> {
    return this.#driving(() => this.#step());
  }

  async #step(): Promise<boolean> {
    const ev = this.#queue.pop();
    if (ev === undefined) return false;
    this.#now = ev.at;
    this.#steps++;
    const pokes = this.pokes;
    ev.fire();
    this.#launch();
    if (this.pokes !== pokes) await this.#quiesce();
    return true;
  }

  readonly #parked: ((e: Error) => void)[] = [];

  /** @internal A promise that settles only when the network is disposed (rejecting): where a killed program waits. */
  parked(): Promise<never> {
    if (this.#disposed) return Promise.reject(new SimHostDown("(disposed)"));
    return new Promise<never>((_, reject) => this.#parked.push(reject));
  }

  #disposed = false;

  /** @internal A host's wait lets the driver's loop turn once (its fairness policy): one macrotask. */
  async turn(): Promise<void> {
    this.#turning++;
    try {
      await barrier();
    } finally {
      this.#turning--;
    }
  }

  /** Lets the programs settle, then runs `body` (with the globals patched, when installed). */
  async #driving<T>(body: () => Promise<T>): Promise<T> {
    this.#globals?.apply();
    try {
      this.#launch();
      await this.#quiesce();
      return await body();
    } finally {
      this.#globals?.restore();
    }
  }

  /**
   * Opt-in, while each run lasts: `Date.now`, `performance.now`,
   * `setTimeout`/`setInterval`, `Math.random` and `crypto.getRandomValues`
   * become virtual and seeded; `Deno.connect`, `Deno.listen` and `fetch`
   * called from a host throw {@linkcode SimLeakError}.
   */
  installGlobals(): void {
    this.#globals ??= new GlobalPatch({
      now: () => this.now(),
      after: (ms, fn) => this.after(ms, fn),
      cancel: (ev) => this.cancel(ev),
      poke: () => this.pokes++,
    }, Prng.fork(this.seed, "globals"));
    this.note("sim", "fault", "installGlobals");
  }

  #clientsDone(): boolean {
    for (const c of this.#clients) if (!c.settled) return false;
    return true;
  }

  /**
   * Runs until every client's program has settled (or, without clients,
   * until nothing is left to do), `until` or `maxSteps`.
   */
  run(opts: SimRunOptions = {}): Promise<SimReport> {
    return this.#driving(() => this.#run(opts));
  }

  async #run(opts: SimRunOptions): Promise<SimReport> {
    const until = opts.until === undefined ? Infinity : Math.round(opts.until * MS);
    const maxSteps = opts.maxSteps ?? Infinity;
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      if (this.#clients.size > 0 && this.#clientsDone()) break;
      const next = this.#queue.peek();
      if (next === undefined) {
        if (this.#clients.size > 0) {
          throw this.#error("deadlock: nothing can run and no event is pending", null, undefined);
        }
        break;
      }
      if (next.at > until) {
        this.#now = until;
        break;
      }
      if (this.#steps >= maxSteps) {
        throw this.#error(`step limit (${maxSteps}) reached`, null, undefined);
      }
      await this.#step();
    }
    if (this.#failure !== null) throw this.#failure;
    return { seed: this.seed, now: this.now(), steps: this.#steps, traceHash: this.traceHash() };
  }

  /** Runs for `ms` of virtual time (the programs' errors reject it). */
  runFor(ms: number): Promise<void> {
    const end = this.#now + Math.round(ms * MS);
    return this.#driving(() => this.#runFor(end));
  }

  async #runFor(end: number): Promise<void> {
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      const next = this.#queue.peek();
      if (next === undefined || next.at > end) break;
      await this.#step();
    }
    if (this.#failure !== null) throw this.#failure;
    this.#now = Math.max(this.#now, end);
  }

  /** Runs until `pred()` holds (checked after each step); rejects on a deadlock. */
  runUntil(pred: () => boolean, opts: { maxSteps?: number } = {}): Promise<void> {
    const limit = this.#steps + (opts.maxSteps ?? 10_000_000);
    return this.#driving(() => this.#runUntil(pred, limit));
  }

  async #runUntil(pred: () => boolean, limit: number): Promise<void> {
    while (!pred()) {
      if (this.#failure !== null) throw this.#failure;
      if (this.#steps >= limit) throw this.#error("runUntil: step limit reached", null, undefined);
      if (!(await this.#step())) {
        throw this.#error("deadlock: runUntil's condition never held", null, undefined);
      }
    }
    if (this.#failure !== null) throw this.#failure;
  }

  // ---- Segments -------------------------------------------------------------

  #dir(from: string, to: string): LinkDir<Segment> {
    const k = `${from}>${to}`;
    let d = this.#links.get(k);
    if (d === undefined) {
      d = new LinkDir<Segment>(this.#linkOpts.get(k) ?? this.#linkDefaults, this.seed, k);
      if (from === to && !this.#linkOpts.has(k)) d.opts = { latency: 0 };
      this.#links.set(k, d);
    }
    return d;
  }

  #cut(from: string, to: string): boolean {
    return from !== to &&
      (this.#cuts.has(`${from}>${to}`) || this.#isolated.has(from) || this.#isolated.has(to));
  }

  #drop(seg: Segment, why: string): void {
    this.#trace.segment(this.#now, seg.from, "drop", seg, why);
  }

  #transmit(seg: Segment): void {
    const dst = this.#byAddress.get(seg.dst.address) ??
      (seg.dst.address === "127.0.0.1" || seg.dst.address === "::1"
        ? this.#hosts.get(seg.from)
        : undefined);
    this.#trace.segment(this.#now, seg.from, "send", seg);
    if (dst === undefined) return this.#drop(seg, "no route");
    seg.to = dst.name;
    if (this.#cut(seg.from, seg.to)) return this.#drop(seg, "partition");
    let extra = 0;
    for (const rule of this.#rules) {
      const v = rule(seg);
      if (v === "drop") return this.#drop(seg, "rule");
      if (typeof v === "object" && v !== null) extra += Math.max(0, v.delay);
    }
    const dir = this.#dir(seg.from, seg.to);
    if (dir.lost()) return this.#drop(seg, "loss");
    const at = dir.arrival(this.#now, seg.data.length) + Math.round(extra * MS);
    const copies = dir.duplicated() ? 2 : 1;
    for (let i = 0; i < copies; i++) this.#queue.push(at, dir.tie, () => this.#deliver(seg, at));
  }

  #deliver(seg: Segment, at: number): void {
    if (this.#cut(seg.from, seg.to)) return this.#drop(seg, "partition");
    if (this.#holds.has(`${seg.from}>${seg.to}`)) {
      (this.#dir(seg.from, seg.to).held ??= []).push({ item: seg, at });
      return;
    }
    const host = this.#hosts.get(seg.to)!;
    if (!host.stack.up) return this.#drop(seg, "host down");
    this.#trace.segment(this.#now, seg.to, "deliver", seg);
    host.stack.receive(seg);
  }

  // ---- Faults ---------------------------------------------------------------

  #pairs(a: HostRef, b: HostRef, oneWay: boolean | undefined): [string, string][] {
    const x = this.host(a).name, y = this.host(b).name;
    return oneWay ? [[x, y]] : [[x, y], [y, x]];
  }

  /** Sets the conditions of the link between `a` and `b` (both directions unless `oneWay`). */
  setLink(a: HostRef, b: HostRef, opts: LinkOptions): void {
    for (const [x, y] of this.#pairs(a, b, opts.oneWay)) {
      const k = `${x}>${y}`;
      const merged = { ...this.#linkDefaults, ...opts };
      this.#linkOpts.set(k, merged);
      const d = this.#links.get(k);
      if (d !== undefined) d.opts = merged;
    }
    this.note(
      "sim",
      "fault",
      `setLink ${this.host(a).name} ${this.host(b).name} ${JSON.stringify(opts)}`,
    );
  }

  /** Drops every segment between `a` and `b` until `repair`. */
  partition(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    for (const [x, y] of this.#pairs(a, b, opts.oneWay)) this.#cuts.add(`${x}>${y}`);
    this.note(
      "sim",
      "fault",
      `partition ${this.host(a).name} ${this.host(b).name}${opts.oneWay ? " oneWay" : ""}`,
    );
  }

  /** Undoes `partition`. */
  repair(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    for (const [x, y] of this.#pairs(a, b, opts.oneWay)) this.#cuts.delete(`${x}>${y}`);
    this.note(
      "sim",
      "fault",
      `repair ${this.host(a).name} ${this.host(b).name}${opts.oneWay ? " oneWay" : ""}`,
    );
  }

  /** Segments between `a` and `b` wait until `release`, then arrive in order. */
  hold(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    for (const [x, y] of this.#pairs(a, b, opts.oneWay)) this.#holds.add(`${x}>${y}`);
    this.note("sim", "fault", `hold ${this.host(a).name} ${this.host(b).name}`);
  }

  /** Delivers what `hold` kept, in order. */
  release(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    for (const [x, y] of this.#pairs(a, b, opts.oneWay)) this.#release(x, y);
    this.note("sim", "fault", `release ${this.host(a).name} ${this.host(b).name}`);
  }

  #release(x: string, y: string): void {
    this.#holds.delete(`${x}>${y}`);
    const d = this.#links.get(`${x}>${y}`);
    const held = d?.held;
    if (d === undefined || !held) return;
    d.held = null;
    for (const h of held) {
      const at = Math.max(this.#now, h.at);
      this.#queue.push(at, d.tie, () => this.#deliver(h.item, at));
    }
  }

  /** Cuts one host off from every other. */
  isolate(host: HostRef): void {
    this.#isolated.add(this.host(host).name);
    this.note("sim", "fault", `isolate ${this.host(host).name}`);
  }

  /** Undoes every partition, isolation and hold. */
  heal(): void {
    this.#cuts.clear();
    this.#isolated.clear();
    for (const k of [...this.#holds]) {
      const [x, y] = k.split(">");
      this.#release(x, y);
    }
    this.note("sim", "fault", "heal");
  }

  /** Adds a rule consulted for every segment; returns its removal. */
  rule(fn: (segment: Segment) => RuleVerdict): () => void {
    this.#rules = [...this.#rules, fn];
    this.note("sim", "fault", `rule added (${this.#rules.length})`);
    return () => {
      this.#rules = this.#rules.filter((r) => r !== fn);
      this.note("sim", "fault", "rule removed");
    };
  }

  /** An RST on the connection behind `fd` of `host`, at both ends, each at its delivery time. */
  reset(host: HostRef, fd: number): void {
    const h = this.host(host);
    const sock = h.socketOf(fd);
    const t = sock?.tcb;
    if (t === undefined || t === null) {
      throw new Error(`host ${h.name} fd ${fd} is not a connection`);
    }
    this.note("sim", "fault", `reset ${h.name} fd ${fd}`);
    const empty = new Uint8Array(0);
    const peer = this.#byAddress.get(t.remote.address) ?? h;
    const toPeer = {
      src: t.local,
      dst: t.remote,
      flags: RST,
      seq: t.sndNxt,
      ack: 0,
      wnd: 0,
      data: empty,
      from: h.name,
      to: "",
    };
    const toUs = {
      src: t.remote,
      dst: t.local,
      flags: RST,
      seq: t.rcvNxt,
      ack: 0,
      wnd: 0,
      data: empty,
      from: peer.name,
      to: "",
    };
    this.#transmit(toPeer);
    this.#transmit(toUs);
  }

  /** Kills the program: its descriptors close as `close()` would; the kernel lives on. */
  kill(host: HostRef): void {
    const h = this.host(host);
    this.note(h.name, "fault", "kill");
    h.kill(false);
  }

  /** Power loss: program and kernel state gone, nothing sent. */
  crash(host: HostRef): void {
    const h = this.host(host);
    this.note(h.name, "fault", "crash");
    h.kill(true);
  }

  /** After kill or crash: an empty descriptor table, `main` runs again. */
  restart(host: HostRef): void {
    const h = this.host(host);
    this.note(h.name, "fault", "restart");
    h.stack.up = true;
    h.start();
  }

  /** The program stops running; its kernel keeps acknowledging. */
  pause(host: HostRef): void {
    this.note(this.host(host).name, "fault", "pause");
    this.host(host).pause();
  }

  /** Undoes `pause`. */
  resume(host: HostRef): void {
    this.note(this.host(host).name, "fault", "resume");
    this.host(host).resume();
  }

  /**
   * Ends the simulation: every host's descriptors are closed without a
   * segment (as a crash would) and the queue is emptied. Idempotent.
   */
  dispose(): void {
    for (const h of this.#hosts.values()) if (!h.kernel.isShutdown) h.kill(true);
    while (this.#queue.pop() !== undefined) { /* drop */ }
    // Killed programs stop waiting now, with an error: a module's top-level await must settle.
    this.#disposed = true;
    for (const reject of this.#parked.splice(0)) reject(new SimHostDown("(disposed)"));
  }

  /** {@linkcode SimNetwork.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- Observing ------------------------------------------------------------

  /** Sockets and connections with Linux's state names. */
  netstat(host?: HostRef): NetstatRow[] {
    const rows: NetstatRow[] = [];
    const hosts = host === undefined ? [...this.#hosts.values()] : [this.host(host)];
    const ep = (e: { address: string; port: number } | null) =>
      e === null ? "*:*" : `${e.address}:${e.port}`;
    for (const h of hosts) {
      const seen = new Set<unknown>();
      for (const [fd, s] of h.sockets()) {
        seen.add(s.tcb);
        rows.push({
          host: h.name,
          fd,
          local: ep(s.local),
          peer: ep(s.tcb?.remote ?? null),
          state: s.state,
          sendQ: s.tcb?.sendQ ?? 0,
          recvQ: s.listening ? s.acceptQ.length : s.tcb?.recvQ.length ?? 0,
        });
      }
      for (const t of h.stack.conns.values()) {
        if (seen.has(t)) continue;
        rows.push({
          host: h.name,
          fd: -1,
          local: ep(t.local),
          peer: ep(t.remote),
          state: t.state,
          sendQ: t.sendQ,
          recvQ: t.recvQ.length,
        });
      }
    }
    return rows;
  }
}

/**
 * One macrotask: every pending microtask has run when it resolves.
 * `setImmediate` is used rather than a kept `MessageChannel`, whose
 * messages Deno delivers from its receive loop within the microtask queue
 * (measured: at the second microtask hop), and rather than a fresh channel
 * per turn (~20 us against ~2 us here).
 */
function barrier(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Creates a simulated network.
 *
 * @example
 * ```ts
 * import { createSimNetwork } from "@deno-epoll/epoll/sim";
 * const sim = createSimNetwork({ seed: 1 });
 * const report = await sim.run();
 * console.log(report.now); // 0
 * ```
 */
export function createSimNetwork(opts?: SimNetworkOptions): SimNetwork {
  return new SimNetwork(opts);
}
