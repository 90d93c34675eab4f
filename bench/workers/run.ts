/**
 * Many cores: the HTTP and echo examples with `--workers 1` and `--workers
 * 2` on the native backend, beside the same work done by Deno's own
 * multi-core server (`deno serve --parallel`, HTTP only) and Node's
 * `cluster`, with the same worker counts.
 *
 * - HTTP: `wrk -t1 -c64` against `GET /` (the same body everywhere:
 *   bench/workers/deno_serve_parallel.ts, node_cluster.mjs --mode http).
 * - Echo: the C load generator (bench/echo/loadgen.c), 64 connections,
 *   64-byte messages, one in flight each.
 *
 * Servers run interleaved: every round starts each server fresh on its own
 * port (the order rotates each round), warms it up, measures, stops it.
 * Reported per server, as the median of the rounds: throughput, the
 * server's CPU (utime + stime from /proc/PID/stat, which covers every
 * thread of a process, summed over the process and its children: Node's
 * cluster workers are processes) in cores and in microseconds per request,
 * the throughput ratio of 2 workers to 1 (how it grows with cores), and
 * the native HTTP example with 2 workers against `deno serve --parallel`
 * with 2. Raw results go to bench/workers/results.json.
 *
 * The machine has 2 cores and the load generator takes most of one, so
 * throughput cannot double; CPU per request is the figure that says
 * whether the work scales (constant CPU per request is linear scaling).
 * Needs wrk (Debian package `wrk`), node, gcc; a part whose tools are
 * missing is skipped with a line saying so.
 *
 * ```sh
 * deno run -A bench/workers/run.ts [--rounds 3] [--seconds 5] [--warmup 1] [--only http|echo]
 * ```
 *
 * @module
 */

import {
  buildLoadgen,
  freePort,
  HOST,
  installExitHandlers,
  runLoadgen,
  ServerProcess,
  sleep,
  waitForAccept,
} from "../echo/_procs.ts";
import { median, missingTools, parseRoundFlags, rotation, writeResults } from "../_rounds.ts";

const flags = parseRoundFlags(Deno.args, { warmup: "1" });
const ROUNDS = flags.rounds;
const SECONDS = flags.seconds;
const WARMUP = flags.own.warmup;
const CONNS = 64;
const DENO = Deno.execPath();

/** A server under test: its name, its family, its worker count, and how to start it on a port. */
interface Server {
  name: string;
  family: string;
  workers: number;
  cmd(port: number): string[];
}

const example = (script: string, n: number) => (port: number) => [
  DENO,
  "run",
  "-A",
  `examples/${script}`,
  "--backend",
  "native",
  "--workers",
  String(n),
  "--port",
  String(port),
  "--drain-timeout",
  "1",
];
const node = (mode: string, n: number) => (port: number) => [
  "node",
  "bench/workers/node_cluster.mjs",
  "--mode",
  mode,
  "--workers",
  String(n),
  "--port",
  String(port),
];
const denoServe = (n: number) => (port: number) => [
  "env",
  `DENO_JOBS=${n}`,
  DENO,
  "serve",
  "--parallel",
  "-A",
  "--host",
  HOST,
  "--port",
  String(port),
  "bench/workers/deno_serve_parallel.ts",
];

const HTTP: Server[] = [1, 2].flatMap((n) => [
  {
    name: `epoll native x${n}`,
    family: "epoll native",
    workers: n,
    cmd: example("http_server.ts", n),
  },
  {
    name: `deno serve --parallel x${n}`,
    family: "deno serve --parallel",
    workers: n,
    cmd: denoServe(n),
  },
  { name: `node cluster x${n}`, family: "node cluster", workers: n, cmd: node("http", n) },
]);
const ECHO: Server[] = [1, 2].flatMap((n) => [
  {
    name: `epoll native x${n}`,
    family: "epoll native",
    workers: n,
    cmd: example("echo_server.ts", n),
  },
  { name: `node cluster x${n}`, family: "node cluster", workers: n, cmd: node("echo", n) },
]);

/** utime + stime, in clock ticks (100 Hz), of `pid` and every descendant. */
function treeTicks(pid: number): number {
  let ticks = 0;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      for (const kid of kids ? kids.split(" ") : []) ticks += treeTicks(Number(kid));
    }
  } catch {
    // the process went away
  }
  return ticks;
}

/** One measured run. */
interface Run {
  part: string;
  server: string;
  round: number;
  /** Requests (or messages) per second. */
  rate: number;
  /** Server CPU over the measured window, in cores. */
  cores: number;
  error?: string;
}

/** Runs `load(port)` against a fresh `server`, measuring the server's CPU over `measure`. */
async function runOne(
  part: string,
  server: Server,
  round: number,
  load: (port: number, sample: () => void) => Promise<{ rate: number; seconds: number }>,
): Promise<Run> {
  const port = freePort();
  const srv = new ServerProcess(server.cmd(port));
  const run: Run = { part, server: server.name, round, rate: 0, cores: 0 };
  try {
    await waitForAccept(port, srv.child.status, 30_000);
    await sleep(300); // every worker listening
    let t0 = 0;
    let ticks0 = 0;
    const sample = () => {
      t0 = performance.now();
      ticks0 = treeTicks(srv.pid);
    };
    const { rate, seconds } = await load(port, sample);
    const dt = (performance.now() - t0) / 1000;
    run.rate = rate;
    run.cores = (treeTicks(srv.pid) - ticks0) / 100 / dt;
    void seconds;
    if (!(rate > 0)) run.error = "no requests completed";
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
  } finally {
    await srv.stop();
  }
  return run;
}

/** wrk for `seconds`, after a warm-up run; requests per second. */
async function wrk(port: number, sample: () => void) {
  const url = `http://${HOST}:${port}/`;
  const go = (s: number) =>
    new Deno.Command("wrk", { args: ["-t1", `-c${CONNS}`, `-d${s}s`, url], stdout: "piped" })
      .output();
  await go(WARMUP);
  sample();
  const out = new TextDecoder().decode((await go(SECONDS)).stdout);
  if (/Socket errors|Non-2xx/.test(out)) throw new Error(`wrk reported errors: ${out}`);
  return { rate: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0), seconds: SECONDS };
}

/** loadgen: 64 connections, 64-byte messages, 1 in flight; messages per second. */
async function loadgen(port: number, sample: () => void) {
  // loadgen warms up then measures in one run: sample at the end of its warm-up.
  const timer = setTimeout(sample, WARMUP * 1000 + 300);
  const args = [HOST, String(port), String(CONNS), "64", "1", String(SECONDS), String(WARMUP)];
  const out = await runLoadgen(args, (SECONDS + WARMUP + 60) * 1000);
  clearTimeout(timer);
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "{}";
  const r = JSON.parse(line);
  if (r.errors > 0) throw new Error(`loadgen reported ${r.errors} errors`);
  return { rate: r.msgs_per_s, seconds: SECONDS };
}

installExitHandlers();
const parts: [string, Server[], typeof wrk][] = [];
if (flags.only !== "echo") {
  const missing = missingTools([["wrk", "wrk"], ["node", "nodejs"]]);
  if (missing === null) parts.push(["HTTP", HTTP, wrk]);
  else console.log(`HTTP part skipped: ${missing}`);
}
if (flags.only !== "http") {
  const missing = missingTools([["gcc", "gcc"], ["node", "nodejs"]]);
  if (missing === null) {
    await buildLoadgen();
    parts.push(["echo", ECHO, loadgen]);
  } else console.log(`echo part skipped: ${missing}`);
}

const runs: Run[] = [];
for (const [part, servers, load] of parts) {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of rotation(servers, round - 1)) {
      const run = await runOne(part, server, round, load);
      runs.push(run);
      console.error(
        `${part} round ${round} ${server.name}: ${run.rate.toFixed(0)}/s, ${
          run.cores.toFixed(2)
        } cores${run.error ? ` ERROR ${run.error}` : ""}`,
      );
    }
  }
}

/** Median rate, cores, and µs of CPU per request, of a server's good runs. */
function summary(part: string, name: string) {
  const ok = runs.filter((r) => r.part === part && r.server === name && !r.error);
  const rate = median(ok.map((r) => r.rate));
  const cores = median(ok.map((r) => r.cores));
  const usPer = median(ok.map((r) => (r.cores / r.rate) * 1e6));
  return { rate, cores, usPer, n: ok.length };
}

const lines: string[] = [];
for (const [part, servers] of parts) {
  const unit = part === "HTTP" ? "req/s" : "msg/s";
  lines.push(
    `\n${part} (${ROUNDS} interleaved rounds of ${SECONDS} s, medians; a shared 2-core machine)\n`,
    `| server | workers | ${unit} | x2 / x1 | server CPU (cores) | CPU µs per request | CPU per request x2 / x1 |`,
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const s of servers) {
    const m = summary(part, s.name);
    const one = summary(part, `${s.family} x1`);
    const grow = s.workers === 2 ? `${(m.rate / one.rate).toFixed(2)}` : "";
    const cpu = s.workers === 2 ? `${(m.usPer / one.usPer).toFixed(2)}` : "";
    lines.push(
      `| ${s.family} | ${s.workers} | ${m.rate.toFixed(0)} | ${grow} | ${m.cores.toFixed(2)} | ${
        m.usPer.toFixed(1)
      } | ${cpu} |`,
    );
  }
  if (part === "HTTP") {
    const ours = summary(part, "epoll native x2");
    const deno = summary(part, "deno serve --parallel x2");
    const ratio = ours.rate / deno.rate;
    lines.push(
      `\nnative HTTP x2 / deno serve --parallel x2: ${ratio.toFixed(2)} (target >= 1.2: ${
        ratio >= 1.2 ? "met" : "not met"
      }); CPU per request x2 / x1 (epoll native): ${
        (ours.usPer / summary(part, "epoll native x1").usPer).toFixed(2)
      } (1.00 is linear)`,
    );
  }
}
console.log(lines.join("\n"));
await writeResults(import.meta.url, {
  date: new Date().toISOString(),
  rounds: ROUNDS,
  seconds: SECONDS,
  runs,
});
Deno.exit(0);
