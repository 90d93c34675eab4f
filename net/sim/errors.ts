/**
 * The errors a simulation reports.
 *
 * @module
 */

/** A host's pending wait, as `SimError.blocked` lists it. */
export interface BlockedWait {
  /** The host. */
  host: string;
  /** The call that waits, with its arguments: `epollWait(3, -1)`. */
  call: string;
}

/**
 * A simulated run failed: a host's program threw, nothing could run any
 * more while clients were unfinished (a deadlock), or a limit was reached.
 * The message names the seed as `DENO_EPOLL_SIM_SEED=n`, so that one
 * command replays the run.
 *
 * @example
 * ```ts
 * import { SimError } from "@deno-epoll/epoll/sim";
 * const e = new SimError("deadlock", { seed: 7, now: 0, step: 0, host: null, cause: undefined, blocked: [] });
 * console.log(e.message); // names DENO_EPOLL_SIM_SEED=7
 * ```
 */
export class SimError extends Error {
  /** The seed of the run. */
  readonly seed: number;
  /** Virtual ms when it failed. */
  readonly now: number;
  /** Steps run. */
  readonly step: number;
  /** The host whose program failed, or `null`. */
  readonly host: string | null;
  /** Every host's pending waits when it failed. */
  readonly blocked: BlockedWait[];

  /** Made by the simulation; `what` says why, `info` where. */
  constructor(
    what: string,
    info: {
      seed: number;
      now: number;
      step: number;
      host: string | null;
      cause: unknown;
      blocked: BlockedWait[];
    },
  ) {
    const where = info.host === null ? "" : ` on host ${info.host}`;
    const waits = info.blocked.length === 0
      ? ""
      : "\nblocked:\n" + info.blocked.map((b) => `  ${b.host}: ${b.call}`).join("\n");
    const cause = info.cause instanceof Error ? `: ${info.cause.message}` : "";
    super(
      `simulation failed${where} at ${info.now} ms (step ${info.step}): ${what}${cause}` +
        `${waits}\nreplay with DENO_EPOLL_SIM_SEED=${info.seed}`,
      { cause: info.cause },
    );
    this.name = "SimError";
    this.seed = info.seed;
    this.now = info.now;
    this.step = info.step;
    this.host = info.host;
    this.blocked = info.blocked;
  }
}

/**
 * A host tried to reach the real world (`Deno.connect`, `Deno.listen`,
 * `fetch`) while {@linkcode SimNetwork.installGlobals} was in force.
 *
 * @example
 * ```ts
 * import { SimLeakError } from "@deno-epoll/epoll/sim";
 * const e = new SimLeakError("a", "Deno.connect");
 * console.log(e.message); // host a called Deno.connect inside the simulation
 * ```
 */
export class SimLeakError extends Error {
  /** The host that made the call, or `null` outside any host. */
  readonly host: string | null;
  /** The call. */
  readonly call: string;

  /** Made by the simulation's patched globals. */
  constructor(host: string | null, call: string) {
    super(
      `${host === null ? "the simulation" : `host ${host}`} called ${call} inside the simulation`,
    );
    this.name = "SimLeakError";
    this.host = host;
    this.call = call;
  }
}

/** Thrown by the calls of a program whose host was killed or crashed. */
/** @internal Thrown by the calls of a program whose host is down. */
export class SimHostDown extends Error {
  constructor(host: string) {
    super(`host ${host} is down: its program was killed`);
    this.name = "SimHostDown";
  }
}
