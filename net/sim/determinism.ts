/**
 * Determinism tools: run a build twice on one seed and compare, or run it
 * over a range of seeds and name the one that fails, so that one command
 * (`DENO_EPOLL_SIM_SEED=n deno test ...`) replays it.
 *
 * @module
 */

import { deepStrictEqual } from "node:assert/strict";
import { formatEvent } from "./_trace.ts";
import { createSimNetwork, envSeed, type SimNetwork, type SimNetworkOptions } from "./network.ts";

/** A test body: adds hosts, spawns, awaits `sim.run()` and returns a result to compare. */
export type SimBuild<T> = (sim: SimNetwork) => Promise<T>;

/** Options of {@linkcode checkDeterminism}. */
export interface CheckDeterminismOptions extends SimNetworkOptions {}

/**
 * Runs `build` twice, each on a fresh network with the same seed, and
 * throws at the first trace event that differs (showing both), or when
 * the results differ.
 *
 * @returns The first run's result.
 * @throws {Error} Naming the first differing event and the seed.
 *
 * @example
 * ```ts
 * import { checkDeterminism } from "@deno-epoll/epoll/sim";
 * const now = await checkDeterminism(async (sim) => (await sim.run()).now, { seed: 3 });
 * console.log(now); // 0
 * ```
 */
export async function checkDeterminism<T>(
  build: SimBuild<T>,
  opts: CheckDeterminismOptions = {},
): Promise<T> {
  const first = createSimNetwork(opts);
  const seed = first.seed;
  const a = await runDisposing(first, build);
  const second = createSimNetwork({ ...opts, seed });
  const b = await runDisposing(second, build);
  const ta = first.trace, tb = second.trace;
  const n = Math.max(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const x = ta[i] === undefined ? "(end of trace)" : formatEvent(ta[i]);
    const y = tb[i] === undefined ? "(end of trace)" : formatEvent(tb[i]);
    if (x !== y) {
      throw new Error(
        `not deterministic: trace event ${i} differs\n  first run:  ${x}\n  second run: ${y}\n` +
          `replay with DENO_EPOLL_SIM_SEED=${seed}`,
      );
    }
  }
  try {
    deepStrictEqual(b.value, a.value);
  } catch (err) {
    throw new Error(
      `not deterministic: same trace, different results (seed ${seed}): ${(err as Error).message}`,
    );
  }
  if (a.error !== undefined) throw a.error;
  return a.value as T;
}

async function runDisposing<T>(
  sim: SimNetwork,
  build: SimBuild<T>,
): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await build(sim) };
  } catch (error) {
    return { error };
  } finally {
    sim.dispose();
  }
}

/** Options of {@linkcode forEachSeed}. */
export interface ForEachSeedOptions extends Omit<SimNetworkOptions, "seed"> {
  /** First seed (default 0). */
  from?: number;
  /** Last seed, inclusive (default `from + 9`). */
  to?: number;
  /** Run every seed and report all failures, instead of stopping at the first. */
  keepGoing?: boolean;
}

/** A seed that failed in {@linkcode forEachSeed}. */
export interface SeedFailure {
  /** The seed. */
  seed: number;
  /** What `build` threw. */
  error: unknown;
}

/**
 * Calls `build` with a fresh network for each seed from `from` to `to`.
 * When `DENO_EPOLL_SIM_SEED` is set (and readable) only that seed runs:
 * the replay. A failure rejects with an `Error` naming
 * `DENO_EPOLL_SIM_SEED=n` (with `keepGoing`, after all seeds, naming each).
 *
 * @returns The seeds run.
 *
 * @example
 * ```ts
 * import { forEachSeed } from "@deno-epoll/epoll/sim";
 * await forEachSeed({ from: 1, to: 3 }, async (sim) => {
 *   await sim.run();
 * });
 * ```
 */
export async function forEachSeed(
  opts: ForEachSeedOptions,
  build: SimBuild<unknown>,
): Promise<number[]> {
  const replay = envSeed();
  const from = opts.from ?? 0;
  const to = opts.to ?? from + 9;
  const seeds: number[] = [];
  if (replay !== undefined) seeds.push(replay);
  else for (let s = from; s <= to; s++) seeds.push(s);
  const failures: SeedFailure[] = [];
  for (const seed of seeds) {
    const sim = createSimNetwork({ ...opts, seed });
    try {
      await build(sim);
    } catch (error) {
      failures.push({ seed, error });
      if (!opts.keepGoing) break;
    } finally {
      sim.dispose();
    }
  }
  if (failures.length > 0) {
    const lines = failures.map((f) =>
      `  DENO_EPOLL_SIM_SEED=${f.seed}: ${
        f.error instanceof Error ? f.error.message.split("\n")[0] : f.error
      }`
    );
    for (const line of lines) console.error(`simulation failed; replay:${line}`);
    const err = new Error(
      `${failures.length} seed(s) failed; replay one with:\n${lines.join("\n")}`,
      { cause: failures[0].error },
    );
    (err as Error & { failures: SeedFailure[] }).failures = failures;
    throw err;
  }
  return seeds;
}
