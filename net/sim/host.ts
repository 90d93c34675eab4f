/**
 * A simulated host: its name and addresses, its TCP stack, its descriptor
 * table and its program. The program runs against {@linkcode SimOs}, the
 * host's own system calls; `kill` and `crash` end it (its pending waits
 * never return, its later calls throw) and `restart` runs `main` again on
 * an empty table.
 *
 * @module
 */

import { close as closeGlobal, lookup } from "../../runtime/core/fd_table.ts";
import type { Prng } from "./_prng.ts";
import type { Stack } from "./_stack.ts";
import { SimSocket } from "./socket.ts";
import { SimOs } from "./_host_os.ts";
import { runAs } from "./_ambient.ts";
import type { SimNetwork } from "./network.ts";

/** A host's program: runs until its promise settles. */
export type SimMain = (os: SimOs) => Promise<void> | void;

/** Options of {@linkcode SimNetwork.addHost}. */
export interface SimHostOptions {
  /** The host's addresses (default: `10.0.0.n` and `fd00::n` in creation order). */
  addresses?: string[];
}

/** A simulated machine. */
export class SimHost {
  /** The program, kept for `restart`. */
  main: SimMain | null = null;
  /** Whether the current program's promise has settled (or the program died). */
  settled = true;
  /** Descriptions of the program's pending waits. */
  readonly waits: Set<string> = new Set();
  /** Host-local fd -> process fd. */
  readonly table: Map<number, number> = new Map();
  /** The program's life: bumped by start, kill and crash. */
  gen = 0;
  #os: SimOs;
  #paused: { promise: Promise<void>; resolve: () => void } | null = null;
  readonly #aborts = new Set<AbortController>();

  constructor(
    readonly net: SimNetwork,
    readonly name: string,
    readonly addresses: string[],
    readonly stack: Stack,
    readonly prng: Prng,
  ) {
    this.#os = new SimOs(this, this.gen);
  }

  /** The calls of the host's current program. */
  get os(): SimOs {
    return this.#os;
  }

  /** Asks for `main` to run on a fresh table (spawn and restart) at the driver's next step. */
  start(): void {
    if (this.main === null) return;
    this.settled = false;
    this.net.startSoon(this);
  }

  /** Runs `main` now (the driver calls it). */
  launch(): void {
    if (this.main === null) return;
    this.gen++;
    this.#os = new SimOs(this, this.gen);
    this.settled = false;
    this.net.pokes++;
    const gen = this.gen;
    this.net.note(this.name, "host", `start (life ${gen})`);
    const done = (err: unknown, failed: boolean) => {
      if (this.gen !== gen) return; // a dead program's end does not count
      this.settled = true;
      this.net.activity++;
      this.net.note(this.name, "host", failed ? "main rejected" : "main returned");
      if (failed) this.net.hostFailed(this, err);
    };
    let p: Promise<void>;
    try {
      const main = this.main, os = this.#os;
      p = Promise.resolve(runAs(this, () => main(os)));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(() => done(undefined, false), (err) => done(err, true));
  }

  /** Ends the program: its waits never return; `crash` also wipes the stack first. */
  kill(crash: boolean): void {
    this.gen++;
    this.settled = true;
    for (const c of this.#aborts) c.abort();
    this.#aborts.clear();
    this.waits.clear();
    if (crash) this.stack.crash();
    for (const g of [...this.table.values()].sort((a, b) => a - b)) closeGlobal(g);
    this.table.clear();
    this.#paused?.resolve();
    this.#paused = null;
    this.#os = new SimOs(this, this.gen);
  }

  pause(): void {
    if (this.#paused !== null) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#paused = { promise, resolve };
  }

  resume(): void {
    const p = this.#paused;
    this.#paused = null;
    p?.resolve();
  }

  /** Resolves when the host is not paused (immediately when it is not). */
  gate(): Promise<void> | undefined {
    return this.#paused?.promise;
  }

  /** Tracks a pending wait's abort controller, so that `kill` ends it. */
  track(c: AbortController): void {
    this.#aborts.add(c);
  }

  untrack(c: AbortController): void {
    this.#aborts.delete(c);
  }

  /** The simulated socket behind a host fd. */
  socketOf(fd: number): SimSocket | undefined {
    const g = this.table.get(fd);
    const d = g === undefined ? undefined : lookup(g);
    return d instanceof SimSocket ? d : undefined;
  }

  /** Every (fd, socket) of the host's table, in fd order. */
  sockets(): [number, SimSocket][] {
    const out: [number, SimSocket][] = [];
    for (const fd of [...this.table.keys()].sort((a, b) => a - b)) {
      const s = this.socketOf(fd);
      if (s !== undefined) out.push([fd, s]);
    }
    return out;
  }
}
