/**
 * What the interleaved server benchmarks (bench/clients/run.ts,
 * bench/workers/run.ts) share: their flags (`--rounds`, `--seconds`,
 * `--only`, and numeric ones of their own), the order of the servers in a
 * round (rotated each round), the median, the check that the tools a part
 * needs are installed, and the raw results file.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { onPath } from "./echo/_procs.ts";

/** The flags of an interleaved benchmark. */
export interface RoundFlags {
  /** `--rounds` (default 3). */
  rounds: number;
  /** `--seconds` (default 5): how long each measured load runs. */
  seconds: number;
  /** `--only`: the one part to run, if given. */
  only: string | undefined;
  /** The driver's own numeric flags, by name. */
  own: Record<string, number>;
}

/**
 * Parses `args`: `--rounds N`, `--seconds N`, `--only PART`, and each of
 * `own`'s flags (`--name N`, its default the value given).
 */
export function parseRoundFlags(args: string[], own: Record<string, string> = {}): RoundFlags {
  const options: Record<string, { type: "string"; default?: string }> = {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    only: { type: "string" },
  };
  for (const [name, value] of Object.entries(own)) {
    options[name] = { type: "string", default: value };
  }
  const { values } = parseArgs({ args, options });
  const v = values as Record<string, string | undefined>;
  return {
    rounds: Number(v.rounds),
    seconds: Number(v.seconds),
    only: v.only,
    own: Object.fromEntries(Object.keys(own).map((name) => [name, Number(v[name])])),
  };
}

/** The servers in the order round `round` (from 0) runs them: rotated by one each round. */
export function rotation<T>(servers: readonly T[], round: number): T[] {
  return servers.map((_, i) => servers[(i + round) % servers.length]);
}

/** The median of `xs` (the mean of the middle two for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A 95 % confidence interval of the median of `xs` by the bootstrap: the
 * 2.5th and 97.5th percentiles of the medians of `resamples` resamples
 * (with replacement), drawn by a fixed-seed generator so that the same
 * rounds give the same interval. `[NaN, NaN]` for fewer than 3 values.
 * What it says: how far the median of these rounds could be from the one
 * more rounds would give, from the spread the rounds showed.
 */
export function medianInterval(xs: readonly number[], resamples = 4000): [number, number] {
  if (xs.length < 3) return [NaN, NaN];
  let seed = 0x9e3779b9;
  const rand = () => {
    // xorshift32: deterministic, good enough to pick indices.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const medians: number[] = [];
  const sample = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(rand() * xs.length)];
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(resamples * 0.025)], medians[Math.ceil(resamples * 0.975) - 1]];
}

/** The bootstrap 95 % interval of the median of ratios `r` ({@linkcode medianInterval}), as `lo-hi`. */
export function ratioInterval(r: readonly number[]): string {
  return medianInterval(r).map((x) => x.toFixed(3)).join("-");
}

/** The table cells of per-round ratios `r`: median, its 95 % interval, range, rounds. */
export function ratioCells(r: readonly number[]): string {
  const f = (x: number) => x.toFixed(3);
  return `${f(median(r))} | ${ratioInterval(r)} | ${f(Math.min(...r))}-${
    f(Math.max(...r))
  } | ${r.length}`;
}

/**
 * `rounds` rounds of `run` on each side, the order alternating from round
 * to round, each round logged on stderr as `what`; returns each side's
 * results by name and the per-round ratios of `value` (the second side
 * over the first). A run that gives null is logged and left out.
 */
export async function pairedRounds<S, T>(
  rounds: number,
  sides: [string, S][],
  what: string,
  run: (side: S) => Promise<T | null>,
  value: (t: T) => number,
  unit: string,
  digits: number,
): Promise<{ results: Map<string, T[]>; ratios: number[] }> {
  const results = new Map<string, T[]>(sides.map(([n]) => [n, []]));
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    const per: Record<string, number> = {};
    for (const [name, side] of order) {
      const v = await run(side);
      if (v === null) {
        console.error(`  ${what} ${name} round ${round}: no result`);
        continue;
      }
      per[name] = value(v);
      results.get(name)!.push(v);
    }
    const [a, b] = [per[sides[1][0]], per[sides[0][0]]];
    if (a !== undefined && b !== undefined) ratios.push(a / b);
    console.error(
      `round ${round} ${what}: ${(b ?? NaN).toFixed(digits)} vs ${
        (a ?? NaN).toFixed(digits)
      } ${unit}`,
    );
  }
  return { results, ratios };
}

/**
 * Why a part cannot run: the programs of `tools` (`[program, Debian
 * package]`) that are not on PATH, and what to install; `null` when all are.
 */
export function missingTools(tools: readonly [string, string][]): string | null {
  const missing = tools.filter(([program]) => !onPath(program));
  if (missing.length === 0) return null;
  return `${missing.map(([t]) => t).join(", ")} not found ` +
    `(Debian: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")})`;
}

/** Writes the raw results, as JSON, to `results.json` beside the driver at `driverUrl`. */
export async function writeResults(driverUrl: string, results: unknown): Promise<void> {
  await Deno.writeTextFile(
    new URL("results.json", driverUrl),
    JSON.stringify(results, null, 2) + "\n",
  );
}
