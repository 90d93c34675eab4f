/**
 * The anatomy part of `bench/regress.ts`: the echo part's closed loops
 * with a CPU profile and the system calls counted (`bench/_anatomy.ts`).
 *
 * @module
 */

import {
  type Anatomy,
  anatomyRun,
  type Part,
  PARTS as PROFILE_PARTS,
  perfUsable,
  PROFILE_INTERVAL_US,
  SYSCALLS,
} from "../_anatomy.ts";
import { buildLoadgen } from "../echo/_procs.ts";
import { SCENARIOS } from "../echo/_scenarios.ts";
import { median, pairedRounds, ratioInterval } from "../_rounds.ts";
import { fmt, loadAverage, type Regress, sidesOf, type Trees } from "./_context.ts";

/**
 * The parts of the main thread's time that are each version's own doing:
 * everything but Deno's ops (the Rust side of a socket operation and the
 * system call in it), whose count per message perf checks.
 */
const OWN: Part[] = ["library", "example", "deno js", "gc", "v8"];

/**
 * The LT echo example of each version under the echo part's closed-loop
 * scenarios, alternating, `--rounds` times, with a CPU profile and the
 * system calls counted (`bench/_anatomy.ts`): per message, each part of the
 * main thread's CPU time and each system call, the medians of each side.
 *
 * And the ratio the shares imply: if both versions make the same system
 * calls per message (perf's counts say whether they do), Deno's ops are the
 * same work per message in both, so the main thread's CPU per message of
 * each is that work over its ops' share of the thread's time, and the
 * ratio of the two is the pinned version's ops share over this one's. A
 * share is a proportion within one run: a round in which the machine
 * slowed everything alike leaves it where it was, where it moves the CPU
 * per message itself by ±10-30 % here.
 */
export async function anatomy(ctx: Regress, trees: Trees): Promise<void> {
  await buildLoadgen();
  const perf = await perfUsable();
  if (!perf) console.error("anatomy: perf cannot count system calls here; profiles only");
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const tables: string[] = [];
  for (const sc of SCENARIOS.filter((s) => ctx.scenarios.includes(s.key))) {
    const { results } = await pairedRounds(
      ctx.rounds,
      sides,
      `anatomy ${sc.key}`,
      (root) => anatomyRun(root, sc, ctx.seconds, ctx.warmup, perf, ctx.server),
      (a) => a.mainUs,
      "µs/msg (main thread)",
      2,
    );
    const [ra, rb] = sides.map(([n]) => results.get(n)!);
    const rounds = Math.min(ra.length, rb.length);
    if (rounds === 0) continue;
    const own = (a: Anatomy) => OWN.reduce((t, p) => t + a.parts[p], 0);
    const opsShare = (a: Anatomy) => a.parts.ops / a.mainUs;
    const implied: number[] = [];
    for (let i = 0; i < rounds; i++) implied.push(opsShare(ra[i]) / opsShare(rb[i]));
    const row = (name: string, f: (a: Anatomy) => number, d: number) => {
      const [ma, mb] = [median(ra.map(f)), median(rb.map(f))];
      return `| ${name} | ${fmt(ma, d)} | ${fmt(mb, d)} | ${fmt(mb / ma)} |`;
    };
    tables.push(`\n${sc.title}, ${rounds} rounds:\n`);
    tables.push(`| per echoed message | pinned, median | ${trees.name}, median | ratio |`);
    tables.push("| --- | ---: | ---: | ---: |");
    tables.push(row("CPU, every thread (µs)", (a) => a.cpuUs, 2));
    tables.push(row("CPU, main thread (µs)", (a) => a.mainUs, 2));
    for (const p of PROFILE_PARTS) tables.push(row(`main thread: ${p} (µs)`, (a) => a.parts[p], 3));
    tables.push(row(`own parts: ${OWN.join(" + ")} (µs)`, own, 3));
    tables.push(row("ops share of the main thread", opsShare, 3));
    if (ra[0].syscalls && rb[0].syscalls) {
      for (const name of Object.keys(SYSCALLS)) {
        tables.push(row(`system calls: ${name}`, (a) => a.syscalls![name], 4));
      }
    }
    if (ctx.functions > 0) tables.push(...functionTable(ra, rb, rounds, ctx.functions, trees.name));
    const calls = (side: Anatomy[]) => median(side.map((a) => a.syscalls?.all ?? NaN));
    const [ca, cb] = [calls(ra), calls(rb)];
    if (Math.abs(cb / ca - 1) > 0.02) {
      tables.push(
        `\nthe two make different system calls per message (all: ${fmt(ca, 3)} pinned, ${
          fmt(cb, 3)
        } ${trees.name}), so their ops are not the same work and the ratio below is a bound, not the CPU ratio: ${
          cb < ca ? "an upper" : "a lower"
        } bound for ${trees.name} (${
          cb < ca ? "fewer calls, less" : "more calls, more"
        } work in the ops); read the CPU rows and the together part instead`,
      );
    }
    tables.push(
      `\nmain-thread CPU per message, ${trees.name} / pinned, as the ops shares imply it (pinned share / ${trees.name} share): median ${
        fmt(median(implied))
      } (95 % interval ${ratioInterval(implied)}, range ${fmt(Math.min(...implied))}-${
        fmt(Math.max(...implied))
      }, ${rounds} rounds)`,
    );
  }
  ctx.say(
    `\nAnatomy of the ${
      ctx.server === "loop"
        ? "minimal LT echo loop's (bench/echo/lt_echo_loop.ts)"
        : "LT echo example's"
    } CPU per echoed message (bench/_anatomy.ts; CPU profile every ${PROFILE_INTERVAL_US} µs and ${
      perf ? "system calls counted by perf" : "no system-call counts (perf unusable)"
    }, both cut to loadgen's window): ${trees.label} against ${trees.pinned}, ${ctx.rounds} alternating rounds of ${ctx.seconds} s; load average ${load0} before, ${loadAverage()} after`,
  );
  for (const t of tables) ctx.say(t);
}

/** The parts whose functions `--functions` lists: JavaScript, each version's or Deno's. */
const JS_PARTS: Part[] = ["library", "example", "deno js"];

/**
 * `--functions N`: the `n` JavaScript functions whose self time per message
 * differs most between the two sides (medians over the rounds; a round whose
 * profile lacks a function counts it 0). A function that moved or was
 * renamed between the versions shows as two rows, one side 0 each.
 */
function functionTable(
  ra: Anatomy[],
  rb: Anatomy[],
  rounds: number,
  n: number,
  name: string,
): string[] {
  const keys = new Set<string>();
  for (const a of [...ra, ...rb]) {
    for (const k of a.functions.keys()) {
      if (JS_PARTS.some((p) => k.startsWith(`${p}: `))) keys.add(k);
    }
  }
  const med = (side: Anatomy[], k: string) =>
    median(side.slice(0, rounds).map((a) => a.functions.get(k) ?? 0));
  const rows = [...keys].map((k) => ({ k, a: med(ra, k), b: med(rb, k) }))
    .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a))
    .slice(0, n);
  return [
    `\nthe ${rows.length} JavaScript functions whose self time per message differs most (medians, µs):\n`,
    `| function | pinned | ${name} | difference |`,
    "| --- | ---: | ---: | ---: |",
    ...rows.map(({ k, a, b }) =>
      `| \`${k.replaceAll("|", "\\|")}\` | ${fmt(a)} | ${fmt(b)} | ${b >= a ? "+" : ""}${
        fmt(b - a)
      } |`
    ),
  ];
}
