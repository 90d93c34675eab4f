/**
 * The examples under real clients, against the servers people compare them
 * with:
 *
 * - RESP: examples/resp_server.ts on the native backend and on the Deno
 *   backend against redis-server (started here on a free loopback port,
 *   `--save '' --appendonly no`), under `redis-benchmark -c 50` for each of
 *   ping, set, get, incr and mset (one run per test, so that the server's
 *   CPU time per request, from /proc/PID/stat, belongs to it), unpipelined
 *   (`-P 1`) and pipelined (`-P 16`). Before that, `redis-cli --pipe` must
 *   report 0 errors against the example on both backends.
 * - HTTP: examples/http_server.ts against `Deno.serve` and Node's `http`
 *   (bench/clients/deno_serve.ts, node_http.mjs: the same status, headers
 *   and body), under `wrk` and `h2load --h1`.
 *
 * Servers run interleaved: every round starts each server fresh on its own
 * port (the order rotates each round), warms it up, runs every load, stops
 * it. Reported: the median of the rounds and its ratio to the baseline; any
 * client-reported error fails the run. Raw results go to
 * bench/clients/results.json.
 *
 * Installs nothing. Needs, from Debian: redis-server and redis-tools (RESP),
 * wrk and nghttp2-client (HTTP), nodejs (Node's server); a part whose tools
 * are missing is skipped with a line saying which package to install.
 *
 * ```sh
 * deno run -A bench/clients/run.ts [--rounds 3] [--seconds 5] [--requests 100000] [--only resp|http]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  buildLoadgen,
  cpuSeconds,
  freePort,
  installExitHandlers,
  onPath,
  ROOT,
  ServerProcess,
  waitForAccept,
} from "../echo/_procs.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    requests: { type: "string", default: "100000" },
    only: { type: "string" },
  },
});
const ROUNDS = Number(flags.rounds);
const SECONDS = Number(flags.seconds);
const REQUESTS = Number(flags.requests);

/** Runs a command to its end; throws if it does not finish in `ms`. */
async function run(
  cmd: string[],
  ms = 600_000,
): Promise<{ code: number; out: string; err: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    const o = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const d = new TextDecoder();
    return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A server under test: how to start it on a port. */
interface Server {
  name: string;
  command: (port: number) => string[];
}

/**
 * Starts `server` on a free port (through the echo benchmark's process
 * harness, so it dies with this driver) and waits until it accepts.
 */
async function start(
  server: Server,
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = freePort();
  const child = new ServerProcess(server.command(port));
  try {
    await waitForAccept(port, child.child.status, 15_000);
  } catch (err) {
    await child.stop();
    throw new Error(`${server.name} did not start: ${child.stderr.text}`, { cause: err });
  }
  return { port, pid: child.pid, stop: () => child.stop() };
}

/** One measurement: a load against a server in a round. */
interface Sample {
  load: string;
  server: string;
  round: number;
  /** Requests per second. */
  rps: number;
  /** p50 / p99 latency in ms where the client reports them. */
  p50?: number;
  p99?: number;
  /** The server's CPU time per request (µs), where measured. */
  cpuUs?: number;
}

const samples: Sample[] = [];
const failures: string[] = [];

// ---------------------------------------------------------------- RESP

const RESP_SERVERS: Server[] = [
  {
    name: "resp_server native (example)",
    command: (p) => [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-ffi",
      "examples/resp_server.ts",
      "--backend",
      "native",
      "--port",
      String(p),
    ],
  },
  {
    name: "resp_server (example)",
    command: (
      p,
    ) => [Deno.execPath(), "run", "--allow-net", "examples/resp_server.ts", "--port", String(p)],
  },
  {
    name: "redis-server",
    command: (p) => [
      "redis-server",
      "--port",
      String(p),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--logfile",
      "",
      "--loglevel",
      "warning",
    ],
  },
];

async function redisBenchmark(port: number, pipeline: number, n: number, tests: string) {
  return await run([
    "redis-benchmark",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-t",
    tests,
    "-P",
    String(pipeline),
    "-n",
    String(n),
    "-c",
    "50",
    "--csv",
  ]);
}

/** redis-cli --pipe with 20,000 writes; must say "errors: 0". */
async function pipeCheck(port: number): Promise<string> {
  let text = "";
  for (let i = 0; i < 10_000; i++) text += `SET key:${i} ${i}\r\nINCR key:${i}\r\n`;
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "--pipe"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const o = await child.output();
  return new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
}

async function resp(round: number, order: Server[]): Promise<void> {
  for (const server of order) {
    const s = await start(server);
    try {
      await redisBenchmark(s.port, 16, 20_000, "set,get"); // warm-up
      for (const pipeline of [1, 16]) {
        // Pipelined runs are ~10x faster: 10x the requests, so each lasts long enough to measure.
        const n = pipeline === 1 ? REQUESTS : 10 * REQUESTS;
        // One test per run, so that the server's CPU time belongs to it.
        for (const t of ["ping", "set", "get", "incr", "mset"]) {
          const cpu0 = cpuSeconds(s.pid);
          const r = await redisBenchmark(s.port, pipeline, n, t);
          const cpu = cpuSeconds(s.pid) - cpu0;
          if (r.code !== 0 || /error/i.test(r.err)) {
            failures.push(`${server.name} -P ${pipeline}: exit ${r.code} ${r.err.trim()}`);
            continue;
          }
          const lines = r.out.trim().split("\n").slice(1);
          for (const line of lines) {
            const [test, rps, , , p50, , p99] = line.split(",").map((f) => f.replaceAll('"', ""));
            samples.push({
              load: `redis-benchmark -P ${pipeline} ${test}`,
              server: server.name,
              round,
              rps: Number(rps),
              p50: Number(p50),
              p99: Number(p99),
              cpuUs: cpu / (n * lines.length) * 1e6,
            });
          }
        }
      }
    } finally {
      await s.stop();
    }
  }
}

// ---------------------------------------------------------------- HTTP

const HTTP_SERVERS: Server[] = [
  {
    name: "http_server (example)",
    command: (
      p,
    ) => [Deno.execPath(), "run", "--allow-net", "examples/http_server.ts", "--port", String(p)],
  },
  {
    name: "Deno.serve",
    command: (
      p,
    ) => [
      Deno.execPath(),
      "run",
      "--allow-net",
      "bench/clients/deno_serve.ts",
      "--port",
      String(p),
    ],
  },
  {
    name: "Node http",
    command: (p) => ["node", "bench/clients/node_http.mjs", "--port", String(p)],
  },
];

/** wrk's "Requests/sec" and its latency percentiles (ms); errors as failures. */
function parseWrk(out: string): { rps: number; p50: number; p99: number; errors: string | null } {
  const ms = (label: string) => {
    const m = out.match(new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)$`, "m"));
    if (!m) return NaN;
    return Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3 } as Record<string, number>)[m[2]];
  };
  const errors = out.match(/Socket errors:.*|Non-2xx or 3xx responses: \d+/g);
  return {
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    p50: ms("50"),
    p99: ms("99"),
    errors: errors ? errors.join("; ") : null,
  };
}

async function http(round: number, order: Server[]): Promise<void> {
  const url = (port: number) => `http://127.0.0.1:${port}/`;
  for (const server of order) {
    const s = await start(server);
    try {
      await run(["wrk", "-t2", "-c100", "-d1s", url(s.port)]); // warm-up
      const w = await run(["wrk", "-t2", "-c100", `-d${SECONDS}s`, "--latency", url(s.port)]);
      const wrk = parseWrk(w.out);
      if (w.code !== 0 || wrk.errors !== null || !(wrk.rps > 0)) {
        failures.push(`${server.name} wrk: ${wrk.errors ?? w.err.trim()}`);
      } else {samples.push({
          load: "wrk -t2 -c100",
          server: server.name,
          round,
          rps: wrk.rps,
          p50: wrk.p50,
          p99: wrk.p99,
        });}
      const h = await run([
        "h2load",
        "--h1",
        "-n",
        String(3 * REQUESTS),
        "-c",
        "100",
        "-t",
        "2",
        url(s.port),
      ]);
      const done = h.out.match(
        /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/,
      );
      const rps = Number(h.out.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/)?.[1]);
      if (
        h.code !== 0 || !done || done[2] !== String(3 * REQUESTS) || done[3] !== "0" ||
        done[4] !== "0"
      ) {
        failures.push(`${server.name} h2load: ${done?.[0] ?? h.out.trim().split("\n").at(-1)}`);
      } else samples.push({ load: "h2load --h1 -c100", server: server.name, round, rps });
    } finally {
      await s.stop();
    }
  }
}

// ---------------------------------------------------------------- report

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One table: per load, the median req/s of each server (the example's range), the example's ratio to each. */
function table(servers: Server[]): string {
  const [mine, ...others] = servers.map((s) => s.name);
  const loads = [...new Set(samples.filter((s) => s.server === mine).map((s) => s.load))];
  const withCpu = samples.some((s) => s.server === mine && s.cpuUs !== undefined);
  const cpuHead = withCpu ? ` | ${servers.map((s) => `${s.name} CPU µs/req`).join(" | ")}` : "";
  const head = `| load | ${servers.map((s) => `${s.name} req/s`).join(" | ")} | ${
    others.map((o) => `vs ${o}`).join(" | ")
  } | ${mine}: rounds${cpuHead} |`;
  const rows = loads.map((load) => {
    const med = (server: string) =>
      median(samples.filter((s) => s.load === load && s.server === server).map((s) => s.rps));
    const m = med(mine);
    const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
    const cells = servers.map((s) => fmt(med(s.name)));
    const rounds = samples.filter((s) => s.load === load && s.server === mine).map((s) =>
      fmt(s.rps)
    );
    const cpu = (server: string) =>
      median(
        samples.filter((s) => s.load === load && s.server === server && s.cpuUs !== undefined)
          .map((s) => s.cpuUs!),
      ).toFixed(2);
    const cpuCells = withCpu ? ` | ${servers.map((s) => cpu(s.name)).join(" | ")}` : "";
    return `| ${load} | ${cells.join(" | ")} | ${
      others.map((o) => `${(m / med(o)).toFixed(2)}x`).join(" | ")
    } | ${rounds.join(", ")}${cpuCells} |`;
  });
  const cols = servers.length * 2 + 1 + (withCpu ? servers.length : 0);
  return [head, `|${" --- |".repeat(cols)}`, ...rows].join("\n");
}

async function machine(): Promise<string> {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const cores = navigator.hardwareConcurrency;
  const load = Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
  const version = async (cmd: string[]) => {
    if (!onPath(cmd[0])) return `${cmd[0]} absent`;
    const r = await run(cmd);
    return (r.out + r.err).trim().split("\n")[0];
  };
  return [
    `${cpu}, ${cores} cores, Linux ${Deno.osRelease()}, load average ${load}`,
    `Deno ${Deno.version.deno}; ${await version(["node", "--version"])}; ${await version([
      "redis-server",
      "--version",
    ])}; ${await version(["wrk", "-v"])}; ${await version(["h2load", "--version"])}`,
  ].join("\n");
}

const parts: { name: string; tools: [string, string][]; servers: Server[]; fn: typeof resp }[] = [
  {
    name: "resp",
    tools: [["redis-server", "redis-server"], ["redis-benchmark", "redis-tools"], [
      "redis-cli",
      "redis-tools",
    ]],
    servers: RESP_SERVERS,
    fn: resp,
  },
  {
    name: "http",
    tools: [["wrk", "wrk"], ["h2load", "nghttp2-client"], ["node", "nodejs"]],
    servers: HTTP_SERVERS,
    fn: http,
  },
];

installExitHandlers(); // no server outlives the driver, however it ends
await buildLoadgen(); // its --exec starts each server (PR_SET_PDEATHSIG)
console.log(`# Client benchmark (${ROUNDS} rounds, interleaved)\n\n${await machine()}\n`);
const ran: typeof parts = [];
for (const part of parts) {
  if (flags.only && flags.only !== part.name) continue;
  const missing = part.tools.filter(([tool]) => !onPath(tool));
  if (missing.length > 0) {
    console.log(
      `skipping ${part.name}: ${missing.map(([t]) => t).join(", ")} not found ` +
        `(Debian: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")})`,
    );
    continue;
  }
  ran.push(part);
}
if (ran.some((p) => p.name === "resp")) {
  for (const server of RESP_SERVERS.slice(0, 2)) {
    const s = await start(server);
    try {
      const out = await pipeCheck(s.port);
      console.log(
        `redis-cli --pipe against ${server.name}: ${out.match(/errors: \d+, replies: \d+/)?.[0]}`,
      );
      if (!/errors: 0, replies: 20000/.test(out)) {
        failures.push(`redis-cli --pipe (${server.name}): ${out.trim()}`);
      }
    } finally {
      await s.stop();
    }
  }
}
for (let round = 0; round < ROUNDS; round++) {
  for (const part of ran) {
    const order = part.servers.map((_, i) => part.servers[(i + round) % part.servers.length]);
    console.error(
      `round ${round + 1}/${ROUNDS}: ${part.name} (${order.map((s) => s.name).join(", ")})`,
    );
    await part.fn(round, order);
  }
}
for (const part of ran) console.log(`\n## ${part.name}\n\n${table(part.servers)}`);
console.log(`\nload average at the end: ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
await Deno.writeTextFile(
  new URL("results.json", import.meta.url),
  JSON.stringify(
    { date: new Date().toISOString(), machine: await machine(), samples, failures },
    null,
    2,
  ) + "\n",
);
if (failures.length > 0) {
  console.log(`\n${failures.length} client-reported failures:\n${failures.join("\n")}`);
  Deno.exit(1);
}
console.log("\n0 client-reported errors");
