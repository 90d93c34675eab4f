/**
 * A simulated host: its name and addresses, its TCP stack, its kernel (a
 * descriptor table, timers on the virtual clock, the `sim` socket backend)
 * and its program. The program runs inside the kernel, so the module-level
 * calls of `mod.ts` act on the host; `kill` and `crash` shut the kernel
 * down (the program stops where it waits) and `restart` runs `main` again
 * on a fresh one.
 *
 * @module
 */

import type { Clock } from "../../runtime/core/clock.ts";
import { Kernel } from "../../runtime/core/kernel.ts";
import type { LoopTurns } from "../../runtime/core/_loop_turn.ts";
import { pinSocketBackend } from "../socket_backend.ts";
import type { Prng } from "./_prng.ts";
import type { Stack } from "./_stack.ts";
import { SimSocket } from "./socket.ts";
import { SimUdpSocket } from "./udp_socket.ts";
import { hostCalls, recordCall, type SimOs } from "./_host_os.ts";
import { setCallTracer } from "../../runtime/core/_call_trace.ts";
import { bindKernel } from "./_ambient.ts";
import { SIM_BACKEND } from "./backend.ts";
import type { SimNetwork } from "./network.ts";

/** A host's program: runs until its promise settles. */
export type SimMain = (os: SimOs) => Promise<void> | void;

/** Options of {@linkcode SimNetwork.addHost}. */
export interface SimHostOptions {
  /** The host's addresses (default: `10.0.0.n` and `fd00::n` in creation order). */
  addresses?: string[];
}

/**
 * How many barriers the driver holds virtual time for a launched program
 * that has made no call yet (see {@linkcode Host.starting}). Counted in
 * barriers, not real time, so the driver reads no clock. An example
 * server imported fresh into a host held it 2 to 741 barriers
 * (`npx -y deno@2.9.6 task bench:sim loading`, shared machine, with and
 * without a cold `DENO_DIR`); a program that really waits for another host
 * pays this many barriers of real time (a few µs each: `bench:sim barriers`).
 */
export const STARTUP_BARRIERS = 100_000;

/** A wait that finds events lets the driver turn the loop once per this many (deterministic). */
const READY_WAITS_PER_TURN = 1024;

/**
 * A simulated machine, as `sim.addHost` returns it.
 *
 * @example
 * ```ts
 * import { createSimNetwork, type SimHost } from "@deno-epoll/epoll/sim";
 * using sim = createSimNetwork({ seed: 1 });
 * const host: SimHost = sim.addHost("db");
 * console.log(host.addresses); // ["10.0.0.1", "fd00::1"]
 * ```
 */
export interface SimHost {
  /** Its name (unique in the network). */
  readonly name: string;
  /** Its addresses, IPv4 first. */
  readonly addresses: readonly string[];
  /** The calls of its current program (every SPEC.md call bound to its kernel, and more). */
  readonly os: SimOs;
  /** Its kernel now: a new one after each kill or crash. */
  readonly kernel: Kernel;
}

/** @internal The simulated machine behind {@linkcode SimHost}. */
export class Host implements SimHost {
  /** The program, kept for `restart`. */
  main: SimMain | null = null;
  /** Whether the current program's promise has settled (or the program died). */
  settled = true;
  /** The program's life: bumped by each start, kill and crash. */
  gen = 0;
  /** The `sleep` calls pending (the deadlock report lists them). */
  readonly sleeps: Set<{ ms: number; from: number }> = new Set();
  #kernel!: Kernel;
  /** The calls of the current life, made when first asked for. */
  #os: SimOs | undefined;
  #paused: { promise: Promise<void>; resolve: () => void } | null = null;
  #readyWaits = 0;

  constructor(
    readonly net: SimNetwork,
    readonly name: string,
    readonly addresses: readonly string[],
    readonly stack: Stack,
    readonly prng: Prng,
    readonly clock: Clock,
  ) {
    this.#fresh();
  }

  /** The host's kernel now (a new one after each kill or crash). */
  get kernel(): Kernel {
    return this.#kernel;
  }

  /** The calls of the host's current program. */
  get os(): SimOs {
    return this.#os ??= hostCalls(this, this.#kernel, this.gen);
  }

  /**
   * The fairness policy of the host's waits: deterministic (a turn every
   * {@linkcode READY_WAITS_PER_TURN} ready waits), holding the program while
   * paused, and parking a killed program's waits for good (until the
   * network is disposed, when they reject, so that an example module's
   * top-level await settles).
   */
  #policy(life: { dead: boolean }): LoopTurns {
    return {
      due: () =>
        life.dead || this.#paused !== null || ++this.#readyWaits % READY_WAITS_PER_TURN === 0,
      turn: async () => {
        if (life.dead) await this.net.parked();
        while (this.#paused !== null) await this.#paused.promise;
        await this.net.turn();
        if (life.dead) await this.net.parked();
      },
    };
  }

  #life = { dead: false };
  /** Barriers left for the program to make its first call (see {@linkcode starting}); 0 once it did. */
  #loadBarriers = 0;

  /**
   * Whether the program was launched and has made no call yet (nor
   * ended): its code may still be loading (`import()` of a module is real
   * I/O, which the driver cannot see), so the driver holds virtual time and
   * turns the loop instead. Asked after each barrier of the hold (not
   * during a fairness turn: those end by themselves). A call of
   * any kind (`host.os`, ambient, `now()`, a virtual timer) shows the code
   * has loaded. A program that makes none for {@linkcode STARTUP_BARRIERS}
   * barriers is taken to wait for something else (another host's promise:
   * only virtual time can bring it), and the trace says so: if it was
   * in fact still loading, the run is not reproducible and
   * `checkDeterminism` shows this note as the first difference.
   */
  get starting(): boolean {
    if (this.#loadBarriers === 0) return false;
    if (this.settled || this.calls > 0 || this.#kernel.pendingWaits > 0) {
      this.#loadBarriers = 0;
    } else if (--this.#loadBarriers === 0) {
      this.net.note(this.name, "host", `no call in ${STARTUP_BARRIERS} barriers: not loading`);
    }
    return this.#loadBarriers > 0;
  }

  /** Calls the current program made (`host.os`, ambient or the object layer), `sleep`, `now()`, `random()`, `resolve()` and virtual timers included. */
  calls = 0;

  #fresh(): void {
    this.#life = { dead: false };
    const k = new Kernel({
      name: this.name,
      clock: this.clock,
      loopTurns: this.#policy(this.#life),
    });
    bindKernel(k, this);
    k.run(() => pinSocketBackend(SIM_BACKEND));
    setCallTracer(k, (name, args, result, threw) => recordCall(this, name, args, result, threw));
    this.#kernel = k;
    this.#os = undefined;
  }

  /** Asks for `main` to run at the driver's next step (spawn and restart). */
  start(): void {
    if (this.main === null) return;
    this.settled = false;
    this.net.startSoon(this);
  }

  /** Runs `main` now, in a fresh kernel when the last one was shut down (the driver calls it). */
  launch(): void {
    if (this.main === null) return;
    this.gen++;
    if (this.#kernel.isShutdown) this.#fresh();
    else this.#os = undefined;
    this.settled = false;
    this.calls = 0;
    this.#loadBarriers = STARTUP_BARRIERS;
    this.net.launched(this);
    this.net.pokes++;
    const gen = this.gen;
    this.net.note(this.name, "host", `start (life ${gen})`);
    const done = (err: unknown, failed: boolean) => {
      if (this.gen !== gen) return; // a dead program's end does not count
      this.settled = true;
      this.net.note(this.name, "host", failed ? "main rejected" : "main returned");
      if (failed) this.net.hostFailed(this, err);
    };
    const main = this.main, os = this.os;
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.#kernel.run(() => main(os)));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(() => done(undefined, false), (err) => done(err, true));
  }

  /** Ends the program: its kernel shuts down (FIN/RST as close() would; `crash`: silently). */
  kill(crash: boolean): void {
    this.gen++;
    this.settled = true;
    this.sleeps.clear();
    // The program's waits wake into the policy, which parks them (see #policy).
    this.#life.dead = true;
    for (const s of [...this.#kernel.sleepers]) (s as { end?(why: string): void }).end?.("wake");
    if (crash) this.stack.crash();
    this.#kernel.shutdown();
    setCallTracer(this.#kernel, undefined);
    this.resume();
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

  /** A promise to await while the host is paused, else `undefined`. */
  gate(): Promise<void> | undefined {
    return this.#paused?.promise;
  }

  /** The program's pending waits, described. */
  waits(): string[] {
    const out: string[] = [];
    for (const s of this.#kernel.sleepers) {
      const w = s as { owner?: { kind?: string }; deadline?: number };
      const until = w.deadline === undefined || w.deadline === Infinity
        ? "forever"
        : `until ${w.deadline} ms`;
      out.push(`${w.owner?.kind ?? "a"} wait, ${until}`);
    }
    for (const s of this.sleeps) out.push(`sleep(${s.ms}) from ${s.from} ms`);
    return out;
  }

  /** Every (fd, simulated TCP or UDP socket) of the host's table, in fd order. */
  sockets(): [number, SimSocket | SimUdpSocket][] {
    const out: [number, SimSocket | SimUdpSocket][] = [];
    const fds = this.#kernel.fds;
    for (let fd = 0, seen = 0; seen < fds.open; fd++) {
      const d = fds.get(fd);
      if (d === undefined) continue;
      seen++;
      if (d instanceof SimSocket || d instanceof SimUdpSocket) out.push([fd, d]);
    }
    return out;
  }

  /** The simulated socket behind a host fd. */
  socketOf(fd: number): SimSocket | undefined {
    const d = this.#kernel.fds.get(fd);
    return d instanceof SimSocket ? d : undefined;
  }
}
