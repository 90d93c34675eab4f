/**
 * The client benchmark's RESP part (bench/clients/run.ts): the RESP
 * example on both backends and redis-server under `redis-benchmark`, and
 * the `redis-cli --pipe` check.
 *
 * @module
 */

import { cpuSeconds } from "../echo/_procs.ts";
import { type Results, run, type Server, start } from "./_harness.ts";

/** The servers, the example first (the table's ratios are to it). */
export const RESP_SERVERS: Server[] = [
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

/** One round of `redis-benchmark` loads (`requests` each, 10x pipelined) against each server of `order`. */
export async function resp(
  round: number,
  order: Server[],
  requests: number,
  out: Results,
): Promise<void> {
  for (const server of order) {
    const s = await start(server);
    try {
      await redisBenchmark(s.port, 16, 20_000, "set,get"); // warm-up
      for (const pipeline of [1, 16]) {
        // Pipelined runs are ~10x faster: 10x the requests, so each lasts long enough to measure.
        const n = pipeline === 1 ? requests : 10 * requests;
        // One test per run, so that the server's CPU time belongs to it.
        for (const t of ["ping", "set", "get", "incr", "mset"]) {
          const cpu0 = cpuSeconds(s.pid);
          const r = await redisBenchmark(s.port, pipeline, n, t);
          const cpu = cpuSeconds(s.pid) - cpu0;
          if (r.code !== 0 || /error/i.test(r.err)) {
            out.failures.push(`${server.name} -P ${pipeline}: exit ${r.code} ${r.err.trim()}`);
            continue;
          }
          const lines = r.out.trim().split("\n").slice(1);
          for (const line of lines) {
            const [test, rps, , , p50, , p99] = line.split(",").map((f) => f.replaceAll('"', ""));
            out.samples.push({
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

/** `redis-cli --pipe` against the example on both backends: a reply for every write, no error. */
export async function pipeChecks(out: Results): Promise<void> {
  for (const server of RESP_SERVERS.slice(0, 2)) {
    const s = await start(server);
    try {
      const text = await pipeCheck(s.port);
      console.log(
        `redis-cli --pipe against ${server.name}: ${text.match(/errors: \d+, replies: \d+/)?.[0]}`,
      );
      if (!/errors: 0, replies: 20000/.test(text)) {
        out.failures.push(`redis-cli --pipe (${server.name}): ${text.trim()}`);
      }
    } finally {
      await s.stop();
    }
  }
}
