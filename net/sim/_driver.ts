/**
 * The driver: virtual time, the one event queue, and the loops that run
 * the hosts' programs (`step`, `run`, `runFor`, `runUntil`).
 *
 * Invariants:
 * - Virtual time is an integer count of nanoseconds that moves only in
 *   `#step`, to the next event of the queue, and only once nothing can
 *   run: after each event that changed something a program may observe
 *   (a "poke"), the driver lets the programs run to their next wait
 *   through macrotask barriers (every microtask has run before one
 *   resolves), repeated while a host's fairness turn or a module load is
 *   still pending.
 * - Ties among events due at the same instant are seeded draws from the
 *   network's stream, so one seed gives one order.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Clock, ClockAlarm } from "../../runtime/core/clock.ts";
import { EventQueue, type SimEvent } from "./_event_queue.ts";
import type { Prng } from "./_prng.ts";
import { type BlockedWait, SimError, SimHostDown } from "./errors.ts";
import { type GlobalPatch, VIRTUAL_EPOCH_MS } from "./globals.ts";

/** Nanoseconds per virtual millisecond. */
export const MS = 1_000_000;

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

/** What the driver asks of the network it drives. */
export interface DriverWorld {
  readonly seed: number;
  /** Whether a launched program is still loading (see `Host.starting`). */
  loading(): boolean;
  /** `undefined` without clients, else whether every client's `main` has settled. */
  clientsDone(): boolean | undefined;
  /** Every host's pending waits, for a `SimError`. */
  blocked(): BlockedWait[];
  traceHash(): string;
}

/** A program to start at the next driving call. */
interface Launchable {
  launch(): void;
}

/** Virtual time and the loops that drive the programs. */
export class Driver {
  readonly #queue = new EventQueue();
  readonly #world: DriverWorld;
  readonly #prng: Prng;
  #now = 0;
  #steps = 0;
  /**
   * Changes a program may observe: readiness raised on a simulated
   * socket, a wait's timer, a program started. An event that moves
   * neither needs no barrier after it.
   */
  pokes = 0;
  #failure: SimError | null = null;
  /** `installGlobals`' patch, applied while a driving call lasts. */
  globals: GlobalPatch | undefined;
  #starting: Launchable[] = [];
  /** Turns of the hosts' fairness policy in flight: the driver waits for them. */
  #turning = 0;
  readonly #parked: ((e: Error) => void)[] = [];
  #disposed = false;
  /** The virtual clock every host's kernel runs on. */
  readonly clock: Clock = {
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

  constructor(world: DriverWorld, prng: Prng) {
    this.#world = world;
    this.#prng = prng;
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

  /** Schedules `fn` after `ms` virtual milliseconds (a seeded tie-break among equals). */
  after(ms: number, fn: () => void, tie: number = this.#prng.u32()): SimEvent {
    return this.#queue.push(this.#now + Math.max(0, Math.round(ms * MS)), tie, fn);
  }

  /** Schedules `fn(arg)` at virtual time `at` (ns) with the tie-break `tie`. */
  at<A>(at: number, tie: number, fn: (arg: A) => void, arg?: A): SimEvent {
    return this.#queue.push(at, tie, fn, arg);
  }

  /** Cancels a scheduled event. */
  cancel(ev: SimEvent | undefined): void {
    this.#queue.cancel(ev);
  }

  // ---- Programs -------------------------------------------------------------

  /** Starts `host`'s program at the next driving call (inside the globals, when installed). */
  startSoon(host: Launchable): void {
    if (!this.#starting.includes(host)) this.#starting.push(host);
  }

  #launch(): void {
    if (this.#starting.length === 0) return;
    const hosts = this.#starting;
    this.#starting = [];
    for (const h of hosts) h.launch();
  }

  /** Records the run's first failure (a host's program threw). */
  fail(what: string, host: string, cause: unknown): void {
    this.#failure ??= this.error(what, host, cause);
  }

  /** A `SimError` at this point of the run. */
  error(what: string, host: string | null, cause: unknown): SimError {
    return new SimError(what, {
      seed: this.#world.seed,
      now: this.now(),
      step: this.#steps,
      host,
      cause,
      blocked: this.#world.blocked(),
    });
  }

  /** A promise that settles only when the network is disposed (rejecting): where a killed program waits. */
  parked(): Promise<never> {
    if (this.#disposed) return Promise.reject(new SimHostDown("(disposed)"));
    return new Promise<never>((_, reject) => this.#parked.push(reject));
  }

  /** A host's wait lets the driver's loop turn once (its fairness policy): one macrotask. */
  async turn(): Promise<void> {
    this.#turning++;
    try {
      await barrier();
    } finally {
      this.#turning--;
    }
  }

  /** Empties the queue and rejects every parked wait. Idempotent. */
  dispose(): void {
    while (this.#queue.pop() !== undefined) { /* drop */ }
    // Killed programs stop waiting now, with an error: a module's top-level await must settle.
    this.#disposed = true;
    for (const reject of this.#parked.splice(0)) reject(new SimHostDown("(disposed)"));
  }

  // ---- The loops ------------------------------------------------------------

  /**
   * Lets the programs run until they all wait again. One macrotask is
   * enough for everything that runs in microtasks (a woken wait, the
   * program's code up to its next wait); the only macrotasks a program
   * makes here are the fairness turns of its waits and the loading of a
   * module it imports, and the barrier repeats while either is pending.
   */
  async #quiesce(): Promise<void> {
    do await barrier(); while (!this.#quiet());
  }

  /** Whether no fairness turn and no module load is pending (the barrier needs no repeat). */
  #quiet(): boolean {
    return this.#turning === 0 && !this.#world.loading();
  }

  /** Runs the next event (advancing virtual time to it) and lets the programs react. */
  step(): Promise<boolean> {
    return this.#driving(() => this.#step());
  }

  async #step(): Promise<boolean> {
    const poked = this.#fire();
    if (poked === undefined) return false;
    if (poked) await this.#quiesce();
    return true;
  }

  /**
   * Runs the next event, advancing virtual time to it. Returns whether it
   * poked (then the programs must run before the next event: the caller
   * quiesces), or `undefined` when no event is queued. The loops call
   * this, not `step()`: the step before left the programs quiesced, so a
   * barrier before the next event would find nothing to run.
   */
  #fire(): boolean | undefined {
    const ev = this.#queue.pop();
    if (ev === undefined) return undefined;
    this.#now = ev.at;
    this.#steps++;
    const pokes = this.pokes;
    (ev.fire as (arg: unknown) => void)(ev.arg);
    this.#launch();
    return this.pokes !== pokes;
  }

  /** Lets the programs settle, then runs `body` (with the globals patched, when installed). */
  async #driving<T>(body: () => Promise<T>): Promise<T> {
    this.globals?.apply();
    try {
      this.#launch();
      await this.#quiesce();
      return await body();
    } finally {
      this.globals?.restore();
    }
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
      const done = this.#world.clientsDone();
      if (done === true) break;
      const next = this.#queue.peek();
      if (next === undefined) {
        if (done !== undefined) {
          throw this.error("deadlock: nothing can run and no event is pending", null, undefined);
        }
        break;
      }
      if (next.at > until) {
        this.#now = until;
        break;
      }
      if (this.#steps >= maxSteps) {
        throw this.error(`step limit (${maxSteps}) reached`, null, undefined);
      }
      // #quiesce() inlined: an async call per step is measurable in a day of heartbeats.
      if (this.#fire()) { do await barrier(); while (!this.#quiet()); }
    }
    if (this.#failure !== null) throw this.#failure;
    return {
      seed: this.#world.seed,
      now: this.now(),
      steps: this.#steps,
      traceHash: this.#world.traceHash(),
    };
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
      if (this.#fire()) await this.#quiesce();
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
      if (this.#steps >= limit) throw this.error("runUntil: step limit reached", null, undefined);
      if (!(await this.#step())) {
        throw this.error("deadlock: runUntil's condition never held", null, undefined);
      }
    }
    if (this.#failure !== null) throw this.#failure;
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
