/**
 * The paced and together parts of `bench/regress.ts`: both LT echo
 * examples at a fixed offered rate (`bench/_paced.ts`), one after the
 * other or both at once.
 *
 * @module
 */

import { PACED_SCENARIOS, pacedRun, pacedTogether } from "../_paced.ts";
import { median, pairedRounds, ratioCells } from "../_rounds.ts";
import { withFloodBinary } from "../../tests/_reset_flood.ts";
import { DENO, fmt, loadAverage, type Regress, sidesOf, type Trees } from "./_context.ts";

/**
 * The LT echo example of each version at a fixed offered rate
 * (`bench/_paced.ts`), alternating, `--rounds` times per scenario: the
 * median of the per-round ratios of main-thread CPU per message.
 */
export async function paced(ctx: Regress, trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  const built = await withFloodBinary(async (bin) => {
    for (const sc of PACED_SCENARIOS.filter((s) => ctx.scenarios.includes(s.key))) {
      const server = (root: string) => (p: number) => [
        DENO,
        "run",
        "-A",
        `${root}/examples/echo_server.ts`,
        "--port",
        String(p),
      ];
      const { results, ratios } = await pairedRounds(
        ctx.rounds,
        sides,
        `paced ${sc.key}`,
        (root) => pacedRun(bin, server(root), sc, ctx.seconds),
        (v) => v.us,
        "µs/msg",
        2,
      );
      if (ratios.length === 0) continue;
      const [ua, ub] = sides.map(([n]) => median(results.get(n)!.map((v) => v.us)));
      const [ra, rb] = sides.map(([n]) => median(results.get(n)!.map((v) => v.rate)));
      rows.push(
        `| ${sc.title} | ${fmt(ua, 2)} (${fmt(ra, 0)}/s) | ${fmt(ub, 2)} (${fmt(rb, 0)}/s) | ${
          ratioCells(ratios)
        } |`,
      );
    }
  });
  if (!built) {
    ctx.say("\npaced: skipped (gcc is not installed)");
    return;
  }
  ctx.say(
    `\nLT echo example at a fixed offered rate (bench/_paced.ts), main-thread CPU per echoed message: ${trees.label} against ${trees.pinned}, ${ctx.rounds} alternating rounds of ${ctx.seconds} s; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say(
    `| scenario | pinned µs/msg (rate), medians | ${trees.name} µs/msg (rate), medians | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  ctx.say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of rows) ctx.say(r);
}

/**
 * The two LT echo examples at the same fixed offered rate, at the same
 * time (`pacedTogether` in `bench/_paced.ts`), `--rounds` times per
 * scenario, the order they are started in alternating: the median of the
 * per-round ratios of main-thread CPU per message. Runs taken one after
 * the other see different moments of the machine; these see the same one.
 */
export async function together(ctx: Regress, trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  const built = await withFloodBinary(async (bin) => {
    for (const sc of PACED_SCENARIOS.filter((s) => ctx.scenarios.includes(s.key))) {
      const server = (root: string) => (p: number) => [
        DENO,
        "run",
        "-A",
        `${root}/examples/echo_server.ts`,
        "--port",
        String(p),
      ];
      const us = sides.map((): number[] => []);
      const rates = sides.map((): number[] => []);
      const ratios: number[] = [];
      for (let round = 0; round < ctx.rounds; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const got = await pacedTogether(
          bin,
          order.map((i) => server(sides[i][1])),
          sc,
          ctx.seconds,
        );
        const per = [NaN, NaN];
        order.forEach((i, k) => {
          const f = got[k];
          if (f === null) return;
          per[i] = f.us;
          us[i].push(f.us);
          rates[i].push(f.rate);
        });
        if (per.every(Number.isFinite)) ratios.push(per[1] / per[0]);
        console.error(
          `round ${round} together ${sc.key}: ${fmt(per[0], 2)} vs ${fmt(per[1], 2)} µs/msg`,
        );
      }
      if (ratios.length === 0) continue;
      rows.push(
        `| ${sc.title} | ${fmt(median(us[0]), 2)} (${fmt(median(rates[0]), 0)}/s) | ${
          fmt(median(us[1]), 2)
        } (${fmt(median(rates[1]), 0)}/s) | ${ratioCells(ratios)} |`,
      );
    }
  });
  if (!built) {
    ctx.say("\ntogether: skipped (gcc is not installed)");
    return;
  }
  ctx.say(
    `\nLT echo examples side by side at a fixed offered rate each (bench/_paced.ts), main-thread CPU per echoed message: ${trees.label} against ${trees.pinned}, ${ctx.rounds} rounds of ${ctx.seconds} s, both at once; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say(
    `| scenario | pinned µs/msg (rate), medians | ${trees.name} µs/msg (rate), medians | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  ctx.say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of rows) ctx.say(r);
}
