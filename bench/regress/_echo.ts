/**
 * The echo part of `bench/regress.ts`: the LT echo example of the pinned
 * version and of this tree under bench/echo's closed-loop loadgen, in
 * alternating order, the server's CPU per echoed message over loadgen's
 * exact window.
 *
 * @module
 */

import { runOne } from "../echo/_measure.ts";
import { buildLoadgen } from "../echo/_procs.ts";
import { SCENARIOS, type ServerDef } from "../echo/_scenarios.ts";
import { median, ratioCells } from "../_rounds.ts";
import { echoServer, fmt, loadAverage, type Regress, type Trees } from "./_context.ts";

/** Runs the echo part. */
export async function echo(ctx: Regress, trees: Trees): Promise<void> {
  const { pinned } = trees;
  await buildLoadgen();
  const server = (name: string, root: string): ServerDef => ({
    key: name,
    name,
    file: "examples/echo_server.ts",
    cmd: echoServer(root),
  });
  const pair = [server(`pinned ${pinned}`, trees.pinnedDir), server(trees.name, trees.dir)];
  const load0 = loadAverage();
  const scenarios = SCENARIOS.filter((s) => ctx.scenarios.includes(s.key));
  const opts = {
    rounds: ctx.rounds,
    seconds: ctx.seconds,
    warmup: ctx.warmup,
    quick: false,
    only: null,
    servers: null,
  };
  const ratios = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const cpus = new Map<string, number[]>();
  for (let round = 0; round < ctx.rounds; round++) {
    for (const sc of scenarios) {
      const order = (round + scenarios.indexOf(sc)) % 2 === 0 ? pair : [...pair].reverse();
      const per: Record<string, number> = {};
      for (const srv of order) {
        const rec = await runOne(sc, srv, round, opts);
        if (rec.error || !rec.result || rec.server_cpu === undefined) {
          console.error(`  ${sc.key} ${srv.name} round ${round}: ${rec.error ?? "no result"}`);
          continue;
        }
        per[srv.name] = rec.server_cpu / rec.result.msgs_per_s * 1e6; // µs per message
        const key = `${sc.key} ${srv.name}`;
        cpus.set(key, [...(cpus.get(key) ?? []), per[srv.name]]);
      }
      const [a, b] = [per[pair[1].name], per[pair[0].name]];
      if (a !== undefined && b !== undefined) ratios.get(sc.key)!.push(a / b);
      console.error(
        `round ${round} ${sc.key}: ${
          pair.map((s) => `${s.name} ${fmt(per[s.name] ?? NaN, 2)}`)
            .join(", ")
        } µs/msg`,
      );
    }
  }
  ctx.say(
    `\nLT echo example, CPU per echoed message: ${trees.label} against ${pinned}, ${ctx.rounds} paired rounds of ${ctx.seconds} s; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say(
    `| scenario | pinned µs/msg (median) | ${
      pair[1].name
    } µs/msg (median) | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  ctx.say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const sc of scenarios) {
    const r = ratios.get(sc.key)!;
    if (r.length === 0) continue;
    ctx.say(
      `| ${sc.title} | ${fmt(median(cpus.get(`${sc.key} ${pair[0].name}`)!), 2)} | ${
        fmt(median(cpus.get(`${sc.key} ${pair[1].name}`)!), 2)
      } | ${ratioCells(r)} |`,
    );
  }
}
