/**
 * One measurement: a fresh server, one loadgen run against it for a scenario,
 * with the server's RSS and CPU sampled meanwhile, recorded as a
 * {@linkcode RunRecord}.
 *
 * @module
 */

import type { Options } from "./_options.ts";
import {
  freePort,
  HOST,
  ProcSampler,
  runLoadgen,
  ServerProcess,
  sleep,
  waitForAccept,
} from "./_procs.ts";
import type { Scenario, ServerDef } from "./_scenarios.ts";

/** The JSON line loadgen prints at the end of a run. */
export interface LoadgenResult {
  conns: number;
  size: number;
  depth: number;
  seconds: number;
  msgs_per_s: number;
  mb_per_s: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  per_conn_min: number;
  per_conn_max: number;
  jain: number;
  errors: number;
  connect_ms?: number;
  established_ms?: number;
  loadgen_cpu?: number;
  /**
   * The server's CPU seconds (every thread) between the opening and the
   * closing of the measured window, read by loadgen itself (`--server-pid`);
   * -1 when it could not read them.
   */
  server_cpu_s?: number;
  [k: string]: unknown;
}

/** The outcome of one server × scenario × round, as written to results.json. */
export interface RunRecord {
  scenario: string;
  server: string;
  round: number;
  port: number;
  banner?: string;
  result?: LoadgenResult;
  /** Peak VmRSS sampled while loadgen ran, in KiB. */
  rss_peak_kb?: number;
  /** VmHWM at the end of the run (lifetime peak), in KiB. */
  rss_hwm_kb?: number;
  /** Server CPU use (cores) over the measured window. */
  server_cpu?: number;
  /**
   * CPU used by everything else on the machine (cores) over the measured
   * window: system busy time minus server and loadgen. Non-zero means noise.
   */
  other_cpu?: number;
  wall_s?: number;
  error?: string;
  server_stderr_tail?: string;
}

/**
 * Starts `server` on a free port, runs loadgen against it for scenario `sc`,
 * and stops the server again. Never throws: failures are recorded in
 * `error`, and a run that echoed nothing has no `result`.
 */
export async function runOne(
  sc: Scenario,
  server: ServerDef,
  round: number,
  opts: Options,
): Promise<RunRecord> {
  const port = freePort();
  const rec: RunRecord = { scenario: sc.id, server: server.name, round, port };
  const srv = new ServerProcess(server.cmd(port));
  let sampler: ProcSampler | undefined;
  try {
    await waitForAccept(port, srv.child.status, 30_000);
    await sleep(100);
    rec.banner = srv.stdout.firstLine() || undefined;

    const lgArgs = sc.kind === "connect"
      ? [HOST, String(port), String(sc.conns), "0", "0", "0", "0", "--connect-only"]
      : [
        HOST,
        String(port),
        String(sc.conns),
        String(sc.size),
        String(sc.depth),
        String(opts.seconds),
        String(opts.warmup),
        ...(sc.idle ? ["--idle", String(sc.idle)] : []),
        // The server's CPU at the window's exact bounds (see server_cpu below).
        "--server-pid",
        String(srv.pid),
      ];
    const connectTimeout = 60;
    lgArgs.push("--connect-timeout", String(connectTimeout));

    // Sample the server's RSS and CPU while loadgen runs.
    sampler = new ProcSampler(srv.pid);
    sampler.start(50);

    const limitMs = (opts.seconds + opts.warmup + connectTimeout + 30) * 1000;
    const t0 = performance.now();
    const out = await runLoadgen(lgArgs, limitMs);
    sampler.sample();
    sampler.stop();
    rec.wall_s = (performance.now() - t0) / 1000;
    rec.rss_peak_kb = sampler.peak || undefined;
    rec.rss_hwm_kb = sampler.hwmKb() ?? undefined;

    // Server CPU over the measured window (the last `seconds` of the loadgen run).
    if (sc.kind !== "connect") {
      const cpu = sampler.cpuOver(opts.seconds);
      if (cpu) {
        rec.server_cpu = cpu.process;
        (rec as { sys_cpu?: number }).sys_cpu = cpu.system;
      }
    }

    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    const line = stdout.split("\n").filter((l) => l.startsWith("{")).pop();
    if (!out.success || !line) {
      throw new Error(
        `loadgen failed (code ${out.code}${out.signal ? `, ${out.signal}` : ""}): ${
          stderr.slice(-500)
        }`,
      );
    }
    rec.result = JSON.parse(line) as LoadgenResult;
    // Preferred: the server's CPU read by loadgen at the measured window's
    // bounds (no warm-up, set-up or tear-down in it); the sampler's figure,
    // which may hold up to a sampling interval of either, is the fallback.
    const exact = rec.result.server_cpu_s;
    if (typeof exact === "number" && exact >= 0 && rec.result.seconds > 0) {
      rec.server_cpu = exact / rec.result.seconds;
    }
    const sysCpu = (rec as { sys_cpu?: number }).sys_cpu;
    delete (rec as { sys_cpu?: number }).sys_cpu;
    if (sysCpu !== undefined && rec.server_cpu !== undefined) {
      rec.other_cpu = Math.max(0, sysCpu - rec.server_cpu - (rec.result.loadgen_cpu ?? 0));
    }
    if (stderr) console.error(`    loadgen: ${stderr.split("\n").slice(-3).join(" | ")}`);
    if (sc.kind !== "connect" && !(rec.result.msgs_per_s > 0)) {
      rec.error = "no message was echoed during the measured window";
      rec.result = undefined; // keep it out of the medians
    } else if (sc.kind === "connect" && (rec.result.connect_failed as number) > 0) {
      rec.error = `${rec.result.connect_failed} connections never established`;
    }
    if (srv.exit) {
      rec.error = `server exited during the run (code ${srv.exit.code})`;
    }
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
  } finally {
    sampler?.stop();
    await srv.stop();
    const srvErr = srv.stderr;
    if (rec.error || srvErr.lines > 0) {
      const tail = srvErr.text.trim().split("\n").slice(-5).join("\n");
      if (tail) rec.server_stderr_tail = `(${srvErr.lines} lines) ${tail}`;
    }
  }
  return rec;
}
