/**
 * The paced and together parts of `bench/regress.ts`: both LT echo
 * examples at a fixed offered rate (`bench/_paced.ts`), one after the
 * other or both at once.
 *
 * @module
 */

import {
  PACED_SCENARIOS,
  type PacedFigure,
  pacedRun,
  type PacedScenario,
  pacedTogether,
} from "../_paced.ts";
import { median, pairedRounds, ratioCells } from "../_rounds.ts";
import { withFloodBinary } from "../../tests/_reset_flood.ts";
import { echoServer, fmt, loadAverage, type Regress, sidesOf, type Trees } from "./_context.ts";

/** What one scenario's rounds gave: each side's figures (pinned first) and the per-round ratios. */
interface Rounds {
  figures: [PacedFigure[], PacedFigure[]];
  ratios: number[];
}

/**
 * Runs `rounds` for each paced scenario with the flood driver built and
 * prints the table headed by `heading` (`part`: the part's name, for the
 * line printed when gcc is missing).
 */
async function fixedRatePart(
  ctx: Regress,
  trees: Trees,
  part: string,
  heading: string,
  rounds: (bin: string, sc: PacedScenario, sides: [string, string][]) => Promise<Rounds>,
): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  const built = await withFloodBinary(async (bin) => {
    for (const sc of PACED_SCENARIOS.filter((s) => ctx.scenarios.includes(s.key))) {
      const { figures, ratios } = await rounds(bin, sc, sides);
      if (ratios.length === 0) continue;
      const cell = (f: PacedFigure[]) =>
        `${fmt(median(f.map((v) => v.us)), 2)} (${fmt(median(f.map((v) => v.rate)), 0)}/s)`;
      rows.push(
        `| ${sc.title} | ${cell(figures[0])} | ${cell(figures[1])} | ${ratioCells(ratios)} |`,
      );
    }
  });
  if (!built) {
    ctx.say(`\n${part}: skipped (gcc is not installed)`);
    return;
  }
  ctx.say(
    `\n${heading}: ${trees.label} against ${trees.pinned}; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say(
    `| scenario | pinned µs/msg (rate), medians | ${trees.name} µs/msg (rate), medians | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  ctx.say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of rows) ctx.say(r);
}

/**
 * The LT echo example of each version at a fixed offered rate
 * (`bench/_paced.ts`), alternating, `--rounds` times per scenario: the
 * median of the per-round ratios of main-thread CPU per message.
 */
export function paced(ctx: Regress, trees: Trees): Promise<void> {
  return fixedRatePart(
    ctx,
    trees,
    "paced",
    `LT echo example at a fixed offered rate (bench/_paced.ts), main-thread CPU per echoed message, ${ctx.rounds} alternating rounds of ${ctx.seconds} s`,
    async (bin, sc, sides) => {
      const { results, ratios } = await pairedRounds(
        ctx.rounds,
        sides,
        `paced ${sc.key}`,
        (root) => pacedRun(bin, echoServer(root), sc, ctx.seconds),
        (v) => v.us,
        "µs/msg",
        2,
      );
      return { figures: [results.get(sides[0][0])!, results.get(sides[1][0])!], ratios };
    },
  );
}

/**
 * The two LT echo examples at the same fixed offered rate, at the same
 * time (`pacedTogether` in `bench/_paced.ts`), `--rounds` times per
 * scenario, the order they are started in alternating: the median of the
 * per-round ratios of main-thread CPU per message. Runs taken one after
 * the other see different moments of the machine; these see the same one.
 */
export function together(ctx: Regress, trees: Trees): Promise<void> {
  return fixedRatePart(
    ctx,
    trees,
    "together",
    `LT echo examples side by side at a fixed offered rate each (bench/_paced.ts), main-thread CPU per echoed message, ${ctx.rounds} rounds of ${ctx.seconds} s, both at once`,
    async (bin, sc, sides) => {
      const figures: [PacedFigure[], PacedFigure[]] = [[], []];
      const ratios: number[] = [];
      for (let round = 0; round < ctx.rounds; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const got = await pacedTogether(
          bin,
          order.map((i) => echoServer(sides[i][1])),
          sc,
          ctx.seconds,
        );
        const per = [NaN, NaN];
        order.forEach((i, k) => {
          const f = got[k];
          if (f === null) return;
          per[i] = f.us;
          figures[i].push(f);
        });
        if (per.every(Number.isFinite)) ratios.push(per[1] / per[0]);
        console.error(
          `round ${round} together ${sc.key}: ${fmt(per[0], 2)} vs ${fmt(per[1], 2)} µs/msg`,
        );
      }
      return { figures, ratios };
    },
  );
}
