/**
 * Echo load benchmark: runs every echo server against the C load generator
 * (bench/echo/loadgen.c) for a set of scenarios, interleaving servers round by
 * round, and reports medians and ratios to the raw Deno baseline.
 *
 *   deno run -A bench/echo/run.ts [--rounds 3] [--seconds 5] [--warmup 1] [--quick]
 *                                 [--only a,c,memory] [--servers raw,node,lt,et]
 *
 * Progress goes to stderr, the Markdown report to stdout, and the raw results
 * to bench/echo/results.json. Every child process is spawned through
 * `loadgen --exec` (PR_SET_PDEATHSIG) and is also killed explicitly on exit,
 * errors and signals.
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const LOADGEN_SRC = `${HERE}loadgen.c`;
const LOADGEN = `${HERE}loadgen`;
const RESULTS = `${HERE}results.json`;
const HOST = "127.0.0.1";

// ---------------------------------------------------------------- arguments

interface Options {
  rounds: number;
  seconds: number;
  warmup: number;
  quick: boolean;
  only: string[] | null;
  servers: string[] | null;
}

function parseArgs(args: string[]): Options {
  const opts: Options = {
    rounds: 3,
    seconds: 5,
    warmup: 1,
    quick: false,
    only: null,
    servers: null,
  };
  let roundsSet = false, secondsSet = false, warmupSet = false;
  for (let i = 0; i < args.length; i++) {
    const [key, inline] = args[i].split("=", 2);
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < min) throw new Error(`bad value for ${key}`);
      return v;
    };
    switch (key) {
      case "--rounds":
        opts.rounds = Math.floor(num(1));
        roundsSet = true;
        break;
      case "--seconds":
        opts.seconds = num(0.1);
        secondsSet = true;
        break;
      case "--warmup":
        opts.warmup = num(0);
        warmupSet = true;
        break;
      case "--quick":
        opts.quick = true;
        break;
      case "--only":
        opts.only = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
        break;
      case "--servers":
        opts.servers = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
        break;
      case "--help":
      case "-h":
        console.log(
          "usage: deno run -A bench/echo/run.ts [--rounds 3] [--seconds 5] [--warmup 1] " +
            "[--quick] [--only a,b,...] [--servers lt,et,raw,node]",
        );
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
  }
  if (opts.quick) {
    if (!roundsSet) opts.rounds = 1;
    if (!secondsSet) opts.seconds = 2;
    if (!warmupSet) opts.warmup = 0.5;
  }
  return opts;
}

// ---------------------------------------------------------------- servers and scenarios

interface ServerDef {
  key: string;
  name: string;
  /** Path relative to the project root; the server is skipped if it is missing. */
  file: string;
  cmd: (port: number) => string[];
}

const DENO = Deno.execPath();

const SERVERS: ServerDef[] = [
  {
    key: "lt",
    name: "epoll LT",
    file: "examples/echo_server.ts",
    cmd: (p) => [DENO, "run", "-A", "examples/echo_server.ts", "--port", String(p)],
  },
  {
    key: "et",
    name: "epoll ET",
    file: "examples/echo_server_et.ts",
    cmd: (p) => [DENO, "run", "-A", "examples/echo_server_et.ts", "--port", String(p)],
  },
  {
    key: "raw",
    name: "raw Deno",
    file: "bench/echo/raw_deno_server.ts",
    cmd: (p) => [DENO, "run", "-A", "bench/echo/raw_deno_server.ts", "--port", String(p)],
  },
  {
    key: "node",
    name: "Node net",
    file: "bench/echo/node_server.mjs",
    cmd: (p) => ["node", "bench/echo/node_server.mjs", "--port", String(p)],
  },
];
const BASELINE = "raw Deno";

interface Scenario {
  id: string;
  key: string;
  title: string;
  kind: "traffic" | "memory" | "connect";
  conns: number;
  size: number;
  depth: number;
  idle: number;
}

const SCENARIOS: Scenario[] = [
  {
    id: "a",
    key: "latency",
    title: "1 conn, 64 B, depth 1",
    kind: "traffic",
    conns: 1,
    size: 64,
    depth: 1,
    idle: 0,
  },
  {
    id: "b",
    key: "100conns",
    title: "100 conns, 1 KiB, depth 1",
    kind: "traffic",
    conns: 100,
    size: 1024,
    depth: 1,
    idle: 0,
  },
  {
    id: "c",
    key: "1000conns",
    title: "1000 conns, 1 KiB, depth 1",
    kind: "traffic",
    conns: 1000,
    size: 1024,
    depth: 1,
    idle: 0,
  },
  {
    id: "d",
    key: "pipelined",
    title: "100 conns, 64 B, depth 16 (pipelined)",
    kind: "traffic",
    conns: 100,
    size: 64,
    depth: 16,
    idle: 0,
  },
  {
    id: "e",
    key: "large",
    title: "10 conns, 64 KiB, depth 4",
    kind: "traffic",
    conns: 10,
    size: 65536,
    depth: 4,
    idle: 0,
  },
  {
    id: "f",
    key: "memory",
    title: "memory: 10,000 idle + 100 active conns, 1 KiB, depth 1",
    kind: "memory",
    conns: 100,
    size: 1024,
    depth: 1,
    idle: 10000,
  },
  {
    id: "g",
    key: "connect",
    title: "connect burst: establish 10,000 conns",
    kind: "connect",
    conns: 10000,
    size: 0,
    depth: 0,
    idle: 0,
  },
];

// ---------------------------------------------------------------- child process bookkeeping

const children = new Set<Deno.ChildProcess>();

function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

let exiting = false;

/** Kills every child, waits (briefly) to reap them, and exits. */
async function exitWith(code: number, why: string): Promise<never> {
  if (!exiting) {
    exiting = true;
    if (code !== 0 || children.size) {
      console.error(`\n${why}: killing ${children.size} child process(es) and exiting`);
    }
    const pending = [...children].map((c) => c.status.catch(() => {}));
    killAll();
    await Promise.race([Promise.all(pending), sleep(1000)]);
  }
  Deno.exit(code);
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(sig, () => exitWith(sig === "SIGINT" ? 130 : 143, sig));
}
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  exitWith(1, `unhandled rejection: ${e.reason}`);
});
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  exitWith(1, `uncaught error: ${e.error}`);
});

/** Collects a bounded tail of a child's output stream. */
class Tail {
  text = "";
  lines = 0;
  done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>, private max = 8192) {
    this.done = this.#pump(stream);
  }
  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        const s = dec.decode(chunk, { stream: true });
        for (const ch of s) if (ch === "\n") this.lines++;
        this.text = (this.text + s).slice(-this.max);
      }
    } catch {
      // stream cancelled when the child was killed
    }
  }
  firstLine(): string {
    return this.text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  }
}

// ---------------------------------------------------------------- helpers

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  return mtime(path) !== null;
}

async function buildLoadgen(): Promise<void> {
  const src = mtime(LOADGEN_SRC);
  const bin = mtime(LOADGEN);
  if (src === null) throw new Error(`missing ${LOADGEN_SRC}`);
  if (bin !== null && bin >= src) return;
  console.error("building loadgen: gcc -O2 -Wall -o bench/echo/loadgen bench/echo/loadgen.c");
  const out = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-o", LOADGEN, LOADGEN_SRC],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("gcc failed");
}

let nextPort = 20000 + Math.floor(Math.random() * 5000);

/** A free port outside the ephemeral range (32768-60999), so client ports never collide. */
function freePort(): number {
  for (let tries = 0; tries < 1000; tries++) {
    const port = nextPort;
    nextPort = nextPort >= 29999 ? 20000 : nextPort + 1;
    try {
      const l = Deno.listen({ hostname: HOST, port });
      l.close();
      return port;
    } catch {
      // in use: try the next one
    }
  }
  throw new Error("no free port in 20000-29999");
}

function readProc(pid: number | string, file: string): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/${file}`);
  } catch {
    return null;
  }
}

function statusKb(status: string | null, field: string): number | null {
  const m = status?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : null;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number | null {
  const stat = readProc(pid, "stat");
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const CLK_TCK = 100;

/** System-wide busy CPU time (all cores), in clock ticks, from /proc/stat. */
function systemBusyTicks(): number | null {
  const stat = readProc("self", "../stat");
  const line = stat?.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] ?? 0);
}

// ---------------------------------------------------------------- one measurement

interface LoadgenResult {
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
  [k: string]: unknown;
}

interface RunRecord {
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

async function waitForAccept(
  port: number,
  exited: Promise<Deno.CommandStatus>,
  timeoutMs: number,
): Promise<void> {
  const state: { gone: Deno.CommandStatus | null } = { gone: null };
  exited.then((s) => state.gone = s);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (state.gone) throw new Error(`server exited during startup (code ${state.gone.code})`);
    try {
      const c = await Deno.connect({ hostname: HOST, port });
      c.close();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`server did not accept on ${HOST}:${port} within ${timeoutMs} ms`);
}

async function runOne(
  sc: Scenario,
  server: ServerDef,
  round: number,
  opts: Options,
): Promise<RunRecord> {
  const port = freePort();
  const rec: RunRecord = { scenario: sc.id, server: server.name, round, port };
  const [prog, ...args] = server.cmd(port);
  const srv = new Deno.Command(LOADGEN, {
    args: ["--exec", prog, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(srv);
  const srvOut = new Tail(srv.stdout);
  const srvErr = new Tail(srv.stderr);
  const srvState: { exit: Deno.CommandStatus | null } = { exit: null };
  const srvStatus = srv.status.then((s) => srvState.exit = s);
  let sampler: ReturnType<typeof setInterval> | undefined;
  let lg: Deno.ChildProcess | undefined;
  try {
    await waitForAccept(port, srv.status, 30_000);
    await sleep(100);
    rec.banner = srvOut.firstLine() || undefined;

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
      ];
    const connectTimeout = 60;
    lgArgs.push("--connect-timeout", String(connectTimeout));

    // Sample the server's RSS and CPU while loadgen runs.
    let peak = 0;
    const cpuSamples: Array<[number, number, number]> = [];
    const sample = () => {
      const rss = statusKb(readProc(srv.pid, "status"), "VmRSS");
      if (rss !== null && rss > peak) peak = rss;
      const t = cpuTicks(srv.pid);
      const sys = systemBusyTicks();
      if (t !== null && sys !== null) cpuSamples.push([performance.now(), t, sys]);
    };
    sample();
    sampler = setInterval(sample, 50);

    const t0 = performance.now();
    lg = new Deno.Command(LOADGEN, {
      args: lgArgs,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.add(lg);
    const limitMs = (opts.seconds + opts.warmup + connectTimeout + 30) * 1000;
    const killer = setTimeout(() => {
      try {
        lg?.kill("SIGKILL");
      } catch { /* gone */ }
    }, limitMs);
    const out = await lg.output();
    clearTimeout(killer);
    children.delete(lg);
    sample();
    clearInterval(sampler);
    sampler = undefined;
    rec.wall_s = (performance.now() - t0) / 1000;
    rec.rss_peak_kb = peak || undefined;
    rec.rss_hwm_kb = statusKb(readProc(srv.pid, "status"), "VmHWM") ?? undefined;

    // Server CPU over the measured window (the last `seconds` of the loadgen run).
    if (sc.kind !== "connect" && cpuSamples.length >= 2) {
      const last = cpuSamples[cpuSamples.length - 1];
      const from = last[0] - opts.seconds * 1000;
      const first = cpuSamples.find(([t]) => t >= from) ?? cpuSamples[0];
      const dt = (last[0] - first[0]) / 1000;
      if (dt > 0) {
        rec.server_cpu = (last[1] - first[1]) / CLK_TCK / dt;
        (rec as { sys_cpu?: number }).sys_cpu = (last[2] - first[2]) / CLK_TCK / dt;
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
    if (srvState.exit) {
      rec.error = `server exited during the run (code ${srvState.exit.code})`;
    }
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    if (lg) {
      try {
        lg.kill("SIGKILL");
      } catch { /* gone */ }
      children.delete(lg);
    }
    if (!srvState.exit) {
      try {
        srv.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          srv.kill("SIGKILL");
        } catch { /* gone */ }
      }, 2000);
      await srvStatus;
      clearTimeout(timer);
    }
    children.delete(srv);
    await Promise.all([srvOut.done, srvErr.done]);
    if (rec.error || srvErr.lines > 0) {
      const tail = srvErr.text.trim().split("\n").slice(-5).join("\n");
      if (tail) rec.server_stderr_tail = `(${srvErr.lines} lines) ${tail}`;
    }
  }
  return rec;
}

// ---------------------------------------------------------------- summarising

function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

interface Summary {
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
  };
  notes: string[];
}

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

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function addRatios(sums: Summary[]): void {
  const base = sums.find((s) => s.server === BASELINE);
  for (const s of sums) {
    s.ratio = {
      throughput: ratio(s.msgs_per_s, base?.msgs_per_s ?? null),
      p99: ratio(s.p99_us, base?.p99_us ?? null),
      p999: ratio(s.p999_us, base?.p999_us ?? null),
      jain: ratio(s.jain, base?.jain ?? null),
      rss: ratio(s.rss_mb, base?.rss_mb ?? null),
      connect: ratio(s.connect_ms, base?.connect_ms ?? null),
    };
  }
}

function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined) return "–";
  if (digits === 0 && Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(digits);
}
function fmtRatio(x: number | null | undefined): string {
  return x === null || x === undefined ? "–" : `${x.toFixed(2)}×`;
}

function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(headers),
    line(headers.map((_h, i) => (i < 1 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

function report(
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
        ]),
      ));
    }
    const notes = sums.flatMap((s) => s.notes.map((n) => `- ${s.server}: ${n}`));
    if (notes.length) out.push(notes.join("\n"));
  }
  return out.join("\n\n") + "\n";
}

async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    return "unavailable";
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  await buildLoadgen();

  const scenarios = SCENARIOS.filter((s) =>
    !opts.only || opts.only.includes(s.id) || opts.only.includes(s.key)
  );
  if (scenarios.length === 0) throw new Error(`--only matched no scenario`);
  const skipped: string[] = [];
  const servers = SERVERS.filter((s) => {
    if (opts.servers && !opts.servers.includes(s.key) && !opts.servers.includes(s.name)) {
      return false;
    }
    if (!exists(`${ROOT}${s.file}`)) {
      skipped.push(`${s.name} (${s.file} does not exist yet)`);
      console.error(`skipping ${s.name}: ${s.file} does not exist yet`);
      return false;
    }
    return true;
  });
  if (servers.length === 0) throw new Error("no servers to run");

  const records: RunRecord[] = [];
  const summaries = new Map<string, Summary[]>();
  const started = new Date();
  for (const sc of scenarios) {
    console.error(`== (${sc.id}) ${sc.title}`);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const server of servers) {
        const rec = await runOne(sc, server, round, opts);
        records.push(rec);
        const r = rec.result;
        const what = sc.kind === "connect"
          ? `connect ${fmt(r?.connect_ms, 1)} ms (established ${fmt(r?.established_ms, 1)} ms, ` +
            `${r?.connect_retries ?? "–"} retries)`
          : `${fmt(r?.msgs_per_s)} msg/s p99 ${fmt(r?.p99_us)} µs jain ${fmt(r?.jain, 3)} ` +
            `lgcpu ${fmt(r?.loadgen_cpu as number | undefined, 2)} ` +
            `srvcpu ${fmt(rec.server_cpu, 2)} othercpu ${fmt(rec.other_cpu, 2)}`;
        console.error(
          `  round ${round} ${server.name.padEnd(9)} ${r ? what : "FAILED"} ` +
            `rss ${fmt((rec.rss_peak_kb ?? 0) / 1024, 1)} MB errors ${r?.errors ?? "–"}` +
            (rec.error ? ` !! ${rec.error}` : ""),
        );
        await sleep(200);
      }
    }
    const sums = servers.map((s) =>
      summarise(s.name, records.filter((r) => r.scenario === sc.id && r.server === s.name))
    );
    addRatios(sums);
    summaries.set(sc.id, sums);
  }

  const md = report(scenarios, summaries, skipped, opts);
  console.log(md);
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
  Deno.writeTextFileSync(RESULTS, JSON.stringify(json, null, 2) + "\n");
  console.error(`wrote ${RESULTS}`);
}

try {
  await main();
} catch (err) {
  await exitWith(1, `error: ${err instanceof Error ? err.message : err}`);
}
await exitWith(0, "done");
