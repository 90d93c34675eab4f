/**
 * The js part of `bench/regress.ts`: both LT echo examples on an in-memory
 * network (`bench/_fake_net.ts`), the JavaScript per message without the
 * kernel.
 *
 * @module
 */

import { ROOT } from "../echo/_procs.ts";
import { median, pairedRounds, ratioCells } from "../_rounds.ts";
import { DENO, fmt, loadAverage, type Regress, sidesOf, type Trees } from "./_context.ts";

/** The scenarios of the in-memory run: connections, message size, messages in flight each. */
const JS_SCENARIOS = [
  { key: "100conns", title: "100 conns, 1 KiB, depth 1", conns: 100, size: 1024, depth: 1 },
  { key: "pipelined", title: "100 conns, 64 B, depth 16", conns: 100, size: 64, depth: 16 },
];

/**
 * One in-memory run of `root`'s LT echo example (`bench/_fake_net.ts`): CPU
 * ns per message, and the forced loop turns in the measured window.
 */
async function jsRun(
  ctx: Regress,
  root: string,
  sc: (typeof JS_SCENARIOS)[number],
): Promise<{ ns: number; turns: number } | null> {
  const o = await new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      "--preload",
      `${ROOT}bench/_fake_net.ts`,
      `${root}/examples/echo_server.ts`,
      "--port",
      "9",
    ],
    cwd: ROOT,
    env: {
      FAKE_CONNS: `${sc.conns}`,
      FAKE_SIZE: `${sc.size}`,
      FAKE_DEPTH: `${sc.depth}`,
      FAKE_MSGS: ctx.jsMessages,
    },
    stdout: "piped",
    stderr: "null",
  }).output();
  const out = new TextDecoder().decode(o.stdout);
  const m = out.match(/"cpu_ns_per_msg":([\d.]+)/);
  const t = out.match(/"loop_turns":(\d+)/);
  return m ? { ns: Number(m[1]), turns: t ? Number(t[1]) : 0 } : null;
}

/**
 * The examples' JavaScript per message without the kernel: each version's
 * LT echo example on an in-memory network (`bench/_fake_net.ts`), in
 * alternating order, `--rounds` times per scenario. The least of the
 * rounds is the run least disturbed by the machine's other work.
 */
export async function js(ctx: Regress, trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  for (const sc of JS_SCENARIOS.filter((s) => ctx.scenarios.includes(s.key))) {
    const { results, ratios } = await pairedRounds(
      ctx.rounds,
      sides,
      `js ${sc.key}`,
      (root) => jsRun(ctx, root, sc),
      (v) => v.ns,
      "ns/msg",
      0,
    );
    if (ratios.length === 0) continue;
    const [pa, pb] = sides.map(([n]) => results.get(n)!.map((v) => v.ns));
    const [ta, tb] = sides.map(([n]) => median(results.get(n)!.map((v) => v.turns)));
    rows.push(
      `| ${sc.title} | ${fmt(Math.min(...pa), 0)} (${fmt(median(pa), 0)}) | ${
        fmt(Math.min(...pb), 0)
      } (${fmt(median(pb), 0)}) | ${fmt(Math.min(...pb) / Math.min(...pa))} | ${
        ratioCells(ratios)
      } | ${ta} / ${tb} |`,
    );
  }
  ctx.say(
    `\nLT echo example on an in-memory network (bench/_fake_net.ts), CPU per message: ${trees.label} against ${trees.pinned}, ${ctx.rounds} alternating rounds of ${ctx.jsMessages} messages; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say(
    `| scenario | pinned ns/msg, least (median) | ${trees.name} ns/msg, least (median) | ratio of the least | ratio, median of rounds | 95 % interval of that median | range | rounds | forced loop turns per run, median (pinned / ${trees.name}) |`,
  );
  ctx.say("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |");
  for (const r of rows) ctx.say(r);
}
