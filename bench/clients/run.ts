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

import { buildLoadgen, installExitHandlers } from "../echo/_procs.ts";
import { missingTools, parseRoundFlags, rotation, writeResults } from "../_rounds.ts";
import type { Results, Server } from "./_harness.ts";
import { pipeChecks, resp, RESP_SERVERS } from "./_resp.ts";
import { http, HTTP_SERVERS } from "./_http.ts";
import { machine, table } from "./_report.ts";

const flags = parseRoundFlags(Deno.args, { requests: "100000" });
const ROUNDS = flags.rounds;
const SECONDS = flags.seconds;
const REQUESTS = flags.own.requests;
const results: Results = { samples: [], failures: [] };

/** A part: the tools it needs (`[program, Debian package]`), its servers, one round of its loads. */
interface Part {
  name: string;
  tools: [string, string][];
  servers: Server[];
  round(round: number, order: Server[]): Promise<void>;
}

const parts: Part[] = [
  {
    name: "resp",
    tools: [["redis-server", "redis-server"], ["redis-benchmark", "redis-tools"], [
      "redis-cli",
      "redis-tools",
    ]],
    servers: RESP_SERVERS,
    round: (round, order) => resp(round, order, REQUESTS, results),
  },
  {
    name: "http",
    tools: [["wrk", "wrk"], ["h2load", "nghttp2-client"], ["node", "nodejs"]],
    servers: HTTP_SERVERS,
    round: (round, order) => http(round, order, { seconds: SECONDS, requests: REQUESTS }, results),
  },
];

installExitHandlers(); // no server outlives the driver, however it ends
await buildLoadgen(); // its --exec starts each server (PR_SET_PDEATHSIG)
console.log(`# Client benchmark (${ROUNDS} rounds, interleaved)\n\n${await machine()}\n`);
const ran: Part[] = [];
for (const part of parts) {
  if (flags.only && flags.only !== part.name) continue;
  const missing = missingTools(part.tools);
  if (missing !== null) console.log(`skipping ${part.name}: ${missing}`);
  else ran.push(part);
}
if (ran.some((p) => p.name === "resp")) await pipeChecks(results);
for (let round = 0; round < ROUNDS; round++) {
  for (const part of ran) {
    const order = rotation(part.servers, round);
    console.error(
      `round ${round + 1}/${ROUNDS}: ${part.name} (${order.map((s) => s.name).join(", ")})`,
    );
    await part.round(round, order);
  }
}
for (const part of ran) console.log(`\n## ${part.name}\n\n${table(part.servers, results.samples)}`);
console.log(`\nload average at the end: ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
await writeResults(import.meta.url, {
  date: new Date().toISOString(),
  machine: await machine(),
  ...results,
});
const { failures } = results;
if (failures.length > 0) {
  console.log(`\n${failures.length} client-reported failures:\n${failures.join("\n")}`);
  Deno.exit(1);
}
console.log("\n0 client-reported errors");
