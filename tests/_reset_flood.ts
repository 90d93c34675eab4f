/**
 * The reset-flood driver (tests/_reset_flood.c) from TypeScript: builds it
 * with gcc into a temporary directory and runs it against a server's port.
 * Shared by tests/hostile_reset_flood_test.ts (a few seconds) and
 * bench/flood.ts (the full-length attack).
 *
 * @module
 */

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
  /** Attack connections that connected, sent and were reset. */
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
}

/**
 * Compiles the driver with gcc into a temporary directory, runs `body`
 * with the binary's path, and removes the directory. Returns without
 * calling `body` (false) when gcc is missing.
 */
export async function withFloodBinary(body: (bin: string) => Promise<void>): Promise<boolean> {
  let cc: Deno.CommandOutput;
  const dir = await Deno.makeTempDir();
  try {
    const bin = `${dir}/reset_flood`;
    try {
      cc = await new Deno.Command("gcc", { args: ["-O2", "-Wall", "-o", bin, SOURCE] }).output();
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
  ].map(String);
  const out = await new Deno.Command(bin, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`reset_flood: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
