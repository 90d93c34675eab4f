/**
 * The simulated network: hosts, the faults a test sets, and what it
 * observes. Virtual time and the loops that run the programs are the
 * driver's (`_driver.ts`); links and the path of a segment are the
 * fabric's (`_fabric.ts`); this class names hosts and wires them together.
 *
 * Invariants (the determinism essay):
 * - Every source of variation is drawn from the run's seed: the network's
 *   own stream, one stream per link direction and one per host, each
 *   forked by name, so one seed and one program give one trace.
 * - Virtual time moves only in the driver, once nothing can run (its
 *   invariants are in `_driver.ts`).
 * - Everything that waits inside a host (a wait's timeout, `sleep`, TCP's
 *   timers) is an event of the queue; nothing in the simulation reads the
 *   real clock.
 * - Faults are what TCP shows: a dropped, held or duplicated segment
 *   becomes delay, retransmission and finally `ETIMEDOUT`; the byte stream
 *   never has a hole.
 *
 * @module
 */

import { Driver, type SimReport, type SimRunOptions } from "./_driver.ts";
import type { SimEvent } from "./_event_queue.ts";
import { Fabric, type RuleVerdict } from "./_fabric.ts";
import { type LinkOptions, type TcpKnobs, tcpKnobs } from "./_knobs.ts";
import { type NetstatRow, netstatRows } from "./_netstat.ts";
import { Prng } from "./_prng.ts";
import { rstSegment, type Segment } from "./_segment.ts";
import { type SimTraceEvent, Trace } from "./_trace.ts";
import type { BlockedWait } from "./errors.ts";
import { GlobalPatch } from "./globals.ts";
import { Host, type SimHost, type SimHostOptions, type SimMain } from "./host.ts";
import { Stack } from "./_stack.ts";

export type { NetstatRow, RuleVerdict, SimReport, SimRunOptions };

/** Options of {@linkcode createSimNetwork}. */
export interface SimNetworkOptions {
  /** The seed (u32). Default: `DENO_EPOLL_SIM_SEED` when readable, else a fresh one. */
  seed?: number;
  /** Conditions of every link unless {@linkcode SimNetwork.setLink} says otherwise. */
  link?: LinkOptions;
  /** TCP knobs (Linux's defaults). */
  tcp?: Partial<TcpKnobs>;
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
  readonly #driver: Driver;
  readonly #fabric: Fabric;
  readonly #hosts = new Map<string, Host>();
  readonly #byAddress = new Map<string, Host>();
  #clients = new Set<Host>();
  #disposed = false;

  /** Use {@linkcode createSimNetwork}. */
  constructor(opts: SimNetworkOptions = {}) {
    this.seed = (opts.seed ?? envSeed() ?? (crypto.getRandomValues(new Uint32Array(1))[0])) >>> 0;
    this.knobs = tcpKnobs(opts.tcp);
    this.#driver = new Driver({
      seed: this.seed,
      loading: () => this.#loading(),
      clientsDone: () => this.#clients.size > 0 ? this.#clientsDone() : undefined,
      blocked: () => this.blocked(),
      traceHash: () => this.traceHash(),
    }, Prng.fork(this.seed, "network"));
    this.#fabric = new Fabric(this.#driver, {
      seed: this.seed,
      route: (address, from) =>
        this.#byAddress.get(address)?.name ??
          (address === "127.0.0.1" || address === "::1" ? from : undefined),
      receive: (to, seg) => {
        const host = this.#hosts.get(to)!;
        if (!host.stack.up) return false;
        this.noteSegment(to, "deliver", seg);
        host.stack.receive(seg);
        return true;
      },
      note: (host, kind, text) => this.note(host, kind, text),
      noteSegment: (host, kind, seg, why) => this.noteSegment(host, kind, seg, why),
    }, opts.link ?? {});
  }

  // ---- Time and events ------------------------------------------------------

  /** Virtual milliseconds since the start. */
  now(): number {
    return this.#driver.now();
  }

  /** Virtual nanoseconds since the start. */
  nowNs(): number {
    return this.#driver.nowNs();
  }

  /**
   * @internal Changes a program may observe: readiness raised on a simulated
   * socket, a wait's timer, a program started. An event that moves
   * neither needs no barrier after it.
   */
  get pokes(): number {
    return this.#driver.pokes;
  }
  set pokes(n: number) {
    this.#driver.pokes = n;
  }

  /** @internal Schedules `fn` after `ms` virtual milliseconds (a seeded tie-break among equals). */
  after(ms: number, fn: () => void, tie?: number): SimEvent {
    return this.#driver.after(ms, fn, tie);
  }

  /** @internal Cancels a scheduled event. */
  cancel(ev: SimEvent | undefined): void {
    this.#driver.cancel(ev);
  }

  /** Every event of the run so far (built when read). */
  get trace(): SimTraceEvent[] {
    return this.#trace.events;
  }

  /** @internal Adds a line to the trace (none once disposed: a dead program's last calls are not the run's). */
  note(host: string, kind: string, text: string): void {
    if (this.#disposed) return;
    this.#trace.note(this.#driver.nowNs(), host, kind, text);
  }

  /** @internal Adds a segment sent, delivered or dropped to the trace (none once disposed). */
  noteSegment(host: string, kind: string, seg: Segment, why?: string): void {
    if (this.#disposed) return;
    this.#trace.segment(this.#driver.nowNs(), host, kind, seg, why);
  }

  /**
   * @internal The trace itself, for the records that carry more than a
   * line (a host's calls); `undefined` once disposed.
   */
  get traceLog(): Trace | undefined {
    return this.#disposed ? undefined : this.#trace;
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
      nowNs: () => this.#driver.nowNs(),
      transmit: (seg) => this.#fabric.transmit(seg),
      after: (ms, fn) => this.after(ms, fn),
      cancel: (ev) => this.cancel(ev),
      trace: (host, kind, text) => this.note(host, kind, text),
      poke: () => this.#driver.pokes++,
    }, Prng.fork(seed, `stack:${name}`));
    const host = new Host(
      this,
      name,
      addresses,
      stack,
      Prng.fork(seed, `host:${name}`),
      this.#driver.clock,
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

  /** Starts `main` on `host` (kept, so that `restart` runs it again); an `Error` while its program runs. */
  spawn(host: HostRef, main: SimMain): void {
    const h = this.host(host);
    if (!h.settled) throw new Error(`host ${h.name} is running a program`);
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
    this.#driver.startSoon(host);
  }

  /** Hosts launched whose program may still be loading (the driver asks after every barrier). */
  readonly #launched = new Set<Host>();

  /** @internal `host`'s program was just launched. */
  launched(host: Host): void {
    this.#launched.add(host);
  }

  /** Whether a launched program is still loading (see `Host.starting`). */
  #loading(): boolean {
    if (this.#launched.size === 0) return false; // no iterator made after every barrier
    for (const h of this.#launched) {
      if (h.starting) return true;
      this.#launched.delete(h);
    }
    return false;
  }

  /** @internal A host's program threw: the run fails. */
  hostFailed(host: Host, cause: unknown): void {
    this.note(host.name, "host", `main threw: ${cause instanceof Error ? cause.message : cause}`);
    this.#driver.fail("the host's program threw", host.name, cause);
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

  #clientsDone(): boolean {
    for (const c of this.#clients) if (!c.settled) return false;
    return true;
  }

  // ---- Driving (the driver's loops) -----------------------------------------

  /** Runs the next event (advancing virtual time to it) and lets the programs react. */
  step(): Promise<boolean> {
    return this.#driver.step();
  }

  /**
   * Runs until every client's program has settled (or, without clients,
   * until nothing is left to do), `until` or `maxSteps`.
   */
  run(opts: SimRunOptions = {}): Promise<SimReport> {
    return this.#driver.run(opts);
  }

  /** Runs for `ms` of virtual time (the programs' errors reject it). */
  runFor(ms: number): Promise<void> {
    return this.#driver.runFor(ms);
  }

  /** Runs until `pred()` holds (checked after each step); rejects on a deadlock. */
  runUntil(pred: () => boolean, opts: { maxSteps?: number } = {}): Promise<void> {
    return this.#driver.runUntil(pred, opts);
  }

  /** @internal A promise that settles only when the network is disposed (rejecting): where a killed program waits. */
  parked(): Promise<never> {
    return this.#driver.parked();
  }

  /** @internal A host's wait lets the driver's loop turn once (its fairness policy): one macrotask. */
  turn(): Promise<void> {
    return this.#driver.turn();
  }

  /**
   * Opt-in, while each run lasts: `Date.now`, `performance.now`,
   * `setTimeout`/`setInterval`, `Math.random` and `crypto.getRandomValues`
   * become virtual and seeded; `Deno.connect`, `Deno.listen` and `fetch`
   * called from a host throw {@linkcode SimLeakError}.
   */
  installGlobals(): void {
    this.#driver.globals ??= new GlobalPatch({
      now: () => this.now(),
      after: (ms, fn) => this.after(ms, fn),
      cancel: (ev) => this.cancel(ev),
      poke: () => this.#driver.pokes++,
    }, Prng.fork(this.seed, "globals"));
    this.note("sim", "fault", "installGlobals");
  }

  // ---- Faults ---------------------------------------------------------------

  /** Sets the conditions of the link between `a` and `b` (both directions unless `oneWay`). */
  setLink(a: HostRef, b: HostRef, opts: LinkOptions): void {
    this.#fabric.setLink(this.host(a).name, this.host(b).name, opts);
  }

  /** Drops every segment between `a` and `b` until `repair`. */
  partition(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    this.#fabric.partition(this.host(a).name, this.host(b).name, opts.oneWay);
  }

  /** Undoes `partition`. */
  repair(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    this.#fabric.repair(this.host(a).name, this.host(b).name, opts.oneWay);
  }

  /** Segments between `a` and `b` wait until `release`, then arrive in order. */
  hold(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    this.#fabric.hold(this.host(a).name, this.host(b).name, opts.oneWay);
  }

  /** Delivers what `hold` kept, in order. */
  release(a: HostRef, b: HostRef, opts: { oneWay?: boolean } = {}): void {
    this.#fabric.release(this.host(a).name, this.host(b).name, opts.oneWay);
  }

  /** Cuts one host off from every other. */
  isolate(host: HostRef): void {
    this.#fabric.isolate(this.host(host).name);
  }

  /** Undoes every partition, isolation and hold. */
  heal(): void {
    this.#fabric.heal();
  }

  /** Adds a rule consulted for every segment; returns its removal. */
  rule(fn: (segment: Segment) => RuleVerdict): () => void {
    return this.#fabric.rule(fn);
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
    const peer = this.#byAddress.get(t.remote.address) ?? h;
    this.#fabric.transmit(rstSegment(t.local, t.remote, t.sndNxt, h.name));
    this.#fabric.transmit(rstSegment(t.remote, t.local, t.rcvNxt, peer.name));
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

  /** After kill or crash: an empty descriptor table, `main` runs again (an `Error` before). */
  restart(host: HostRef): void {
    const h = this.host(host);
    if (!h.kernel.isShutdown) throw new Error(`host ${h.name} is running: kill or crash it first`);
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
    this.#driver.dispose();
    this.#disposed = true;
  }

  /** {@linkcode SimNetwork.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- Observing ------------------------------------------------------------

  /** Sockets and connections with Linux's state names. */
  netstat(host?: HostRef): NetstatRow[] {
    return netstatRows(host === undefined ? [...this.#hosts.values()] : [this.host(host)]);
  }
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
