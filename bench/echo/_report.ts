/**
 * Summaries and output of the echo benchmark: medians over rounds, ratios to
 * the baseline server, the per-run progress line, the Markdown report and
 * results.json.
 *
 * @module
 */

import type { RunRecord } from "./_measure.ts";
import type { Options } from "./_options.ts";
import { BASELINE, C_REFERENCE, type Scenario } from "./_scenarios.ts";

/** The median of the finite values of `xs`, or `null` if there are none. */
export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Medians over the rounds of one server in one scenario, as in results.json. */
export interface Summary {
  server: string;
  runs: number;
  ok: number;
  msgs_per_s: number | null;
  mb_per_s: number | null;
  p50_us: number | null;
  p99_us: number | null;
  p999_us: number | null;
  jain: number | null;
  per_conn_min: number | null;
  per_conn_max: number | null;
  rss_mb: number | null;
  server_cpu: number | null;
  loadgen_cpu: number | null;
  other_cpu: number | null;
  connect_ms: number | null;
  established_ms: number | null;
  connect_retries: number | null;
  errors: number;
  ratio?: {
    throughput: number | null;
    p99: number | null;
    p999: number | null;
    jain: number | null;
    rss: number | null;
    connect: number | null;
    /** Throughput relative to the C epoll server. */
    throughputC: number | null;
    /** Server CPU per message relative to the C epoll server. */
    cpuPerMsgC: number | null;
  };
  /** Server CPU time per message, µs (srv CPU cores / msgs/s). */
  cpu_us_per_msg?: number | null;
  notes: string[];
}

/** Summarises the runs of `server` in one scenario: medians over its successful runs. */
function summarise(server: string, runs: RunRecord[]): Summary {
  const ok = runs.filter((r) => r.result);
  const pick = (f: (r: RunRecord) => number | undefined | null) =>
    median(ok.map(f).filter((x): x is number => typeof x === "number"));
  const notes = [...new Set(runs.filter((r) => r.error).map((r) => r.error as string))];
  return {
    server,
    runs: runs.length,
    ok: ok.length,
    msgs_per_s: pick((r) => r.result?.msgs_per_s),
    mb_per_s: pick((r) => r.result?.mb_per_s),
    p50_us: pick((r) => r.result?.p50_us),
    p99_us: pick((r) => r.result?.p99_us),
    p999_us: pick((r) => r.result?.p999_us),
    jain: pick((r) => r.result?.jain),
    per_conn_min: pick((r) => r.result?.per_conn_min),
    per_conn_max: pick((r) => r.result?.per_conn_max),
    rss_mb: pick((r) => (r.rss_peak_kb !== undefined ? r.rss_peak_kb / 1024 : undefined)),
    server_cpu: pick((r) => r.server_cpu),
    loadgen_cpu: pick((r) => r.result?.loadgen_cpu as number | undefined),
    other_cpu: pick((r) => r.other_cpu),
    connect_ms: pick((r) => r.result?.connect_ms),
    established_ms: pick((r) => r.result?.established_ms),
    connect_retries: pick((r) => r.result?.connect_retries as number | undefined),
    errors: ok.reduce((s, r) => s + (r.result?.errors ?? 0), 0),
    notes,
  };
}

/** `a / b`, or `null` if either is missing or `b` is 0. */
function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** Sets each summary's ratios to the {@linkcode BASELINE} server's summary. */
function addRatios(sums: Summary[]): void {
  const base = sums.find((s) => s.server === BASELINE);
  const c = sums.find((s) => s.server === C_REFERENCE);
  for (const s of sums) {
    s.cpu_us_per_msg = s.server_cpu !== null && s.msgs_per_s
      ? (s.server_cpu / s.msgs_per_s) * 1e6
      : null;
  }
  for (const s of sums) {
    s.ratio = {
      throughput: ratio(s.msgs_per_s, base?.msgs_per_s ?? null),
      p99: ratio(s.p99_us, base?.p99_us ?? null),
      p999: ratio(s.p999_us, base?.p999_us ?? null),
      jain: ratio(s.jain, base?.jain ?? null),
      rss: ratio(s.rss_mb, base?.rss_mb ?? null),
      connect: ratio(s.connect_ms, base?.connect_ms ?? null),
      throughputC: ratio(s.msgs_per_s, c?.msgs_per_s ?? null),
      cpuPerMsgC: ratio(s.cpu_us_per_msg ?? null, c?.cpu_us_per_msg ?? null),
    };
  }
}

/** A number for the report: `–` if missing, thousands separators for integers ≥ 1000. */
function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined) return "–";
  if (digits === 0 && Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(digits);
}

/** A ratio for the report, such as `1.05×`, or `–`. */
function fmtRatio(x: number | null | undefined): string {
  return x === null || x === undefined ? "–" : `${x.toFixed(2)}×`;
}

/** A Markdown table; all columns but the first are right-aligned. */
function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(headers),
    line(headers.map((_h, i) => (i < 1 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

/** Summaries of one scenario, one per server (in `servers` order), with ratios. */
export function summariseScenario(
  scenario: string,
  servers: string[],
  records: RunRecord[],
): Summary[] {
  const sums = servers.map((s) =>
    summarise(s, records.filter((r) => r.scenario === scenario && r.server === s))
  );
  addRatios(sums);
  return sums;
}

/** The stderr progress line for one run. */
export function progressLine(sc: Scenario, server: string, round: number, rec: RunRecord): string {
  const r = rec.result;
  const what = sc.kind === "connect"
    ? `connect ${fmt(r?.connect_ms, 1)} ms (established ${fmt(r?.established_ms, 1)} ms, ` +
      `${r?.connect_retries ?? "–"} retries)`
    : `${fmt(r?.msgs_per_s)} msg/s p99 ${fmt(r?.p99_us)} µs jain ${fmt(r?.jain, 3)} ` +
      `lgcpu ${fmt(r?.loadgen_cpu as number | undefined, 2)} ` +
      `srvcpu ${fmt(rec.server_cpu, 2)} othercpu ${fmt(rec.other_cpu, 2)}`;
  return `  round ${round} ${server.padEnd(9)} ${r ? what : "FAILED"} ` +
    `rss ${fmt((rec.rss_peak_kb ?? 0) / 1024, 1)} MB errors ${r?.errors ?? "–"}` +
    (rec.error ? ` !! ${rec.error}` : "");
}

/** The Markdown report: a header, then one table (and notes) per scenario. */
export function report(
  scenarios: Scenario[],
  summaries: Map<string, Summary[]>,
  skipped: string[],
  opts: Options,
): string {
  const out: string[] = [];
  out.push(
    `# Echo benchmark\n\n${opts.rounds} round(s) × ${opts.seconds} s (+${opts.warmup} s warmup), ` +
      `medians over rounds; ratios are to ${BASELINE} (throughput: higher is better; ` +
      `latency, RSS, connect time: lower is better). RSS is the server's peak VmRSS during ` +
      `the run; srv CPU / lg CPU are cores used by the server / loadgen over the measured window, ` +
      `other CPU is everything else on the machine (noise; should be ~0).`,
  );
  if (skipped.length) out.push(`Skipped: ${skipped.join("; ")}.`);
  const noisy = [...summaries.values()].flat().filter((s) => (s.other_cpu ?? 0) > 0.25);
  if (noisy.length) {
    out.push(
      `**Warning:** other processes used > 0.25 cores during ${noisy.length} server/scenario ` +
        `cells (see "other CPU"); those numbers are unreliable. Re-run on a quiet machine.`,
    );
  }
  for (const sc of scenarios) {
    const sums = summaries.get(sc.id) ?? [];
    out.push(`## (${sc.id}) ${sc.title}`);
    if (sc.kind === "connect") {
      out.push(table(
        [
          "server",
          "all echoing, ms",
          "× raw",
          "all established (client side), ms",
          "retries",
          "RSS MB",
          "errors",
          "ok runs",
        ],
        sums.map((s) => [
          s.server,
          fmt(s.connect_ms, 1),
          fmtRatio(s.ratio?.connect),
          fmt(s.established_ms, 1),
          fmt(s.connect_retries),
          fmt(s.rss_mb, 1),
          String(s.errors),
          `${s.ok}/${s.runs}`,
        ]),
      ));
    } else {
      out.push(table(
        [
          "server",
          "msgs/s",
          "MB/s",
          "p50 µs",
          "p99 µs",
          "p99.9 µs",
          "Jain",
          "per-conn min/max",
          "RSS MB",
          "srv CPU",
          "lg CPU",
          "other CPU",
          "errors",
          "thr × raw",
          "p99 × raw",
          "p99.9 × raw",
          "Jain × raw",
          "RSS × raw",
          "CPU µs/msg",
          "thr × C",
          "CPU/msg × C",
        ],
        sums.map((s) => [
          s.server + (s.ok < s.runs ? ` (${s.ok}/${s.runs} ok)` : ""),
          fmt(s.msgs_per_s),
          fmt(s.mb_per_s, 1),
          fmt(s.p50_us),
          fmt(s.p99_us),
          fmt(s.p999_us),
          fmt(s.jain, 3),
          `${fmt(s.per_conn_min)}/${fmt(s.per_conn_max)}`,
          fmt(s.rss_mb, 1),
          fmt(s.server_cpu, 2),
          fmt(s.loadgen_cpu, 2),
          fmt(s.other_cpu, 2),
          String(s.errors),
          fmtRatio(s.ratio?.throughput),
          fmtRatio(s.ratio?.p99),
          fmtRatio(s.ratio?.p999),
          fmtRatio(s.ratio?.jain),
          fmtRatio(s.ratio?.rss),
          fmt(s.cpu_us_per_msg, 2),
          fmtRatio(s.ratio?.throughputC),
          fmtRatio(s.ratio?.cpuPerMsgC),
        ]),
      ));
    }
    const notes = sums.flatMap((s) => s.notes.map((n) => `- ${s.server}: ${n}`));
    if (notes.length) out.push(notes.join("\n"));
  }
  return out.join("\n\n") + "\n";
}

/** The first line `cmd args` prints, or `unavailable`. */
async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    return "unavailable";
  }
}

/** Everything results.json records about a benchmark run. */
export interface RunData {
  started: Date;
  opts: Options;
  skipped: string[];
  scenarios: Scenario[];
  summaries: Map<string, Summary[]>;
  records: RunRecord[];
}

/** Writes results.json: options, environment, summaries per scenario and every run. */
export async function writeResults(path: string, run: RunData): Promise<void> {
  const { started, opts, skipped, scenarios, summaries, records } = run;
  const json = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    options: opts,
    environment: {
      deno: Deno.version.deno,
      node: await versionOf("node", ["--version"]),
      kernel: Deno.osRelease(),
      cpus: navigator.hardwareConcurrency,
    },
    skipped,
    scenarios: scenarios.map((sc) => ({ ...sc, summary: summaries.get(sc.id) })),
    runs: records,
  };
  Deno.writeTextFileSync(path, JSON.stringify(json, null, 2) + "\n");
}
