/**
 * The reset-flood driver (tests/_reset_flood.c) from TypeScript: builds it
 * with gcc into a temporary directory and runs it against a server's port.
 * Shared by tests/hostile_reset_flood_test.ts (a few seconds) and
 * bench/flood.ts (the full-length attack).
 *
 * @module
 */

import { RunningExample } from "./_examples.ts";

const SOURCE = new URL("./_reset_flood.c", import.meta.url).pathname;

/** What tests/_reset_flood.c reports (see its header). */
export interface FloodResult {
  good: number;
  before: number;
  /** Seconds of ordinary connections at the attack's rate, before the attack. */
  control: number;
  attack: number;
  after: number;
  rate: number;
  /** Ordinary connections that were echoed and closed in the control phase. */
  controls: number;
  /** Attack connections that connected, sent and were reset (`blast`: 64 KiB units echoed). */
  attacks: number;
  /** Attack connections that never connected (refused, or still in SYN retries at the end). */
  attack_failed: number;
  /** A fresh client's echo after the flood, in ms; -1 when none came within 10 s. */
  fresh_ms: number;
  /** The most messages one established client completed while the fresh client waited. */
  fresh_others: number;
  /** Established clients whose connection failed. */
  lost: { client: number; why: string }[];
  /** Messages per second of every established client, `seconds[s][client]`. */
  seconds: number[][];
  /** The server's main thread, per second: ms on a CPU (with a server pid). */
  server_cpu_ms: number[];
  /** The server's main thread, per second: ms runnable but waiting for a CPU. */
  server_wait_ms: number[];
  /** The driver's own ms waiting for a CPU, per second. */
  self_wait_ms: number[];
  /** The longest gap between two turns of the driver's loop, per second, in ms. */
  gap_ms: number[];
  /** The server's largest resident set each second, in KiB (0: not sampled). */
  rss_kb: number[];
}

/** The phases of one run, in seconds, and the attack rate. */
export interface FloodPlan {
  good: number;
  before: number;
  /** Seconds of ordinary connections at `rate` between `before` and the attack (default 0). */
  control?: number;
  attack: number;
  after: number;
  /** Attack connections opened per second. */
  rate: number;
  /** Messages a second each established client sends at most (0: as fast as it is answered). */
  pace: number;
  /** The server's pid, to sample its CPU, run-queue wait and RSS every 50 ms. */
  serverPid?: number;
  /**
   * The attack: `reset` (the default), `rate` connections a second reset
   * after 16 bytes; or `blast`, `rate` connections sending 64 KiB writes as
   * fast as the server takes them.
   */
  mode?: "reset" | "blast";
}

/**
 * Compiles the driver with gcc into a temporary directory, runs `body`
 * with the binary's path, and removes the directory. Returns without
 * calling `body` (false) when gcc is missing.
 */
export function withFloodBinary(body: (bin: string) => Promise<void>): Promise<boolean> {
  return withCProgram(SOURCE, body);
}

/**
 * {@linkcode withFloodBinary} for any one-file C driver of the hostile
 * suite (`source`, a path): compiled with `gcc -O2 -Wall` into a temporary
 * directory for the duration of `body`; false, without calling `body`,
 * when gcc is missing; throws when it does not compile.
 */
export async function withCProgram(
  source: string,
  body: (bin: string) => Promise<void>,
): Promise<boolean> {
  let cc: Deno.CommandOutput;
  const dir = await Deno.makeTempDir();
  try {
    const bin = `${dir}/${source.replace(/^.*\//, "").replace(/\.c$/, "")}`;
    try {
      cc = await new Deno.Command("gcc", { args: ["-O2", "-Wall", "-o", bin, source] }).output();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
    if (!cc.success) throw new Error(`gcc: ${new TextDecoder().decode(cc.stderr)}`);
    await body(bin);
    return true;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Whether gcc is on the PATH (the flood tests skip without it). */
export async function haveGcc(): Promise<boolean> {
  try {
    return (await new Deno.Command("gcc", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Runs the driver against 127.0.0.1:`port` and parses its report. */
export async function runFlood(bin: string, port: number, plan: FloodPlan): Promise<FloodResult> {
  const args = [
    port,
    plan.good,
    plan.before,
    plan.control ?? 0,
    plan.attack,
    plan.after,
    plan.rate,
    plan.pace,
    plan.serverPid ?? 0,
    1000, // WINDOW: connects pending at once
    plan.mode ?? "reset",
  ].map(String);
  const out = await new Deno.Command(bin, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`reset_flood: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Starts examples/`script` (`--port 0` and `args`), runs the driver built at
 * `bin` against it with `plan` (the server's pid filled in), stops it, and
 * returns the report.
 */
export async function floodExample(
  bin: string,
  script: string,
  args: string[],
  plan: FloodPlan,
): Promise<FloodResult> {
  const server = await RunningExample.start(script, ["--port", "0", ...args], ["-A"]);
  try {
    return await runFlood(bin, server.port, { ...plan, serverPid: server.child.pid });
  } finally {
    await server.stop();
  }
}

/**
 * CPU time of the server's main thread in a second for which each client is
 * owed a quarter of its rate; less CPU, proportionally less.
 */
export const SERVER_CPU_MS = 200;
/** A gap in the driver's own loop beyond which its clients were not asking. */
export const DRIVER_GAP_MS = 250;

/** The seconds of `phase` (before, control, attack, after) in `r`. */
export function seconds(r: FloodResult, phase: "before" | "control" | "attack"): [number, number] {
  const start = { before: 0, control: r.before, attack: r.before + r.control }[phase];
  return [start, start + { before: r.before, control: r.control, attack: r.attack }[phase]];
}

/** What the per-second check found: failures, the seconds it could not judge, and its weight. */
export interface Fairness {
  starved: string[];
  excused: string[];
  /**
   * Seconds judged: 1 for a second in which every client got a quarter of
   * its rate, else the server's share of {@linkcode SERVER_CPU_MS}.
   */
  judged: number;
}

/**
 * Every second of the attack (tests/hostile_reset_flood_test.ts explains
 * why so): each client is owed a quarter of its rate before the attack
 * times the server's share of {@linkcode SERVER_CPU_MS} that second;
 * seconds in which the driver's loop stalled more than
 * {@linkcode DRIVER_GAP_MS} ms are excused. Needs a run with `serverPid`.
 */
export function fairness(r: FloodResult): Fairness {
  const out: Fairness = { starved: [], excused: [], judged: 0 };
  // The rate before: the seconds before the attack, the first (the connects) and any in
  // which the driver stalled left out.
  const [b0, b1] = seconds(r, "before");
  const clean: number[] = [];
  for (let s = b0 + 1; s < b1; s++) {
    if (r.gap_ms[s] <= DRIVER_GAP_MS) clean.push(s);
    else out.excused.push(`second ${s}: the driver stalled ${r.gap_ms[s].toFixed(0)} ms`);
  }
  if (clean.length === 0) return out; // nothing judged: too loaded
  const base = Array.from(
    { length: r.good },
    (_, c) => clean.reduce((sum, s) => sum + r.seconds[s][c], 0) / clean.length,
  );
  const [a0, a1] = seconds(r, "attack");
  for (let s = a0; s < a1; s++) {
    if (r.gap_ms[s] > DRIVER_GAP_MS) {
      out.excused.push(`second ${s}: the driver stalled ${r.gap_ms[s].toFixed(0)} ms`);
      continue;
    }
    const share = Math.min(1, r.server_cpu_ms[s] / SERVER_CPU_MS);
    const short: string[] = [];
    let whole = true; // every client got a quarter of its rate: the claim held outright
    r.seconds[s].forEach((n, c) => {
      const owed = Math.floor(share * base[c] / 4);
      if (n < owed) short.push(`client ${c}: ${n} < ${owed}`);
      if (n * 4 < base[c]) whole = false;
    });
    out.judged += whole ? 1 : share;
    if (short.length > 0) {
      out.starved.push(
        `second ${s} (server CPU ${
          r.server_cpu_ms[s].toFixed(0)
        } ms): ${short.length} of ${r.good} clients served less than owed (${
          short.slice(0, 3).join(", ")
        }${short.length > 3 ? ", ..." : ""})`,
      );
    }
  }
  return out;
}
