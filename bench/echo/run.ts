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

import { parseArgs } from "./_options.ts";
import { buildLoadgen, exitWith, installExitHandlers, sleep } from "./_procs.ts";
import { selectScenarios, selectServers } from "./_scenarios.ts";
import { runOne, type RunRecord } from "./_measure.ts";
import { progressLine, report, summariseScenario, type Summary, writeResults } from "./_report.ts";

const HERE = new URL(".", import.meta.url).pathname;
const RESULTS = `${HERE}results.json`;

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  await buildLoadgen();

  const scenarios = selectScenarios(opts.only);
  const { servers, skipped } = selectServers(opts.servers);

  // Servers are interleaved round by round, so drift hits them all alike.
  const records: RunRecord[] = [];
  const summaries = new Map<string, Summary[]>();
  const started = new Date();
  for (const sc of scenarios) {
    console.error(`== (${sc.id}) ${sc.title}`);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const server of servers) {
        const rec = await runOne(sc, server, round, opts);
        records.push(rec);
        console.error(progressLine(sc, server.name, round, rec));
        await sleep(200);
      }
    }
    summaries.set(sc.id, summariseScenario(sc.id, servers.map((s) => s.name), records));
  }

  console.log(report(scenarios, summaries, skipped, opts));
  await writeResults(RESULTS, { started, opts, skipped, scenarios, summaries, records });
  console.error(`wrote ${RESULTS}`);
}

installExitHandlers();
try {
  await main();
} catch (err) {
  await exitWith(1, `error: ${err instanceof Error ? err.message : err}`);
}
await exitWith(0, "done");
