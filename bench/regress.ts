/**
 * The regression benchmark (issue 16): this working tree against a pinned
 * older version, interleaved, so that a regression in the Deno backend's CPU
 * per message cannot land silently; and the HTTP example against
 * `Deno.serve` under `wrk`.
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:regress [--pin 4b58260] [--against REV] [--rounds 9] [--seconds 3] [--warmup 0.5] [--parts echo,js,http] [--scenarios 100conns,1000conns,pipelined] [--js-messages 300000]
 * npx -y deno@2.9.6 task bench:regress --parts anatomy,together --rounds 15
 * ```
 *
 * - echo: the pinned commit is checked out into a temporary git worktree
 *   from this repository's own history (and, with `--against REV`, that
 *   revision into another one, in place of this working tree: to bisect a
 *   regression by benchmark). In each of `--rounds` paired rounds, for each
 *   scenario (100 and 1,000 connections of 1 KiB at depth 1, and 100
 *   connections of pipelined 64 B at depth 16; bench/echo's C load
 *   generator, the same binary for both), the LT echo example of the pinned
 *   version and of this tree each run once with the same flags, fresh, in
 *   alternating order. The figure is the server's CPU time per echoed
 *   message over the measured window (loadgen reads /proc/PID/stat of the
 *   server itself when the window opens and closes: no warm-up, set-up or
 *   tear-down in it); reported per scenario: the median over the rounds of
 *   the ratio this tree / pinned, a bootstrap 95 % interval of that median
 *   (what the rounds' spread allows it to be), its range, and the load
 *   average before and after.
 * - js: the same two LT echo examples on an in-memory network
 *   (`bench/_fake_net.ts`, preloaded: `Deno.listen` replaced, clients in the
 *   same process), `--js-messages` messages per run, alternating, `--rounds`
 *   runs per scenario: CPU per message of the examples' and the library's
 *   JavaScript (and Deno's promise, timer and loop-turn work) without the
 *   kernel's loopback, which is most of the echo part's CPU and moves most
 *   with the machine's load. Reported: the least run of each side (the one
 *   least disturbed) and the median of the per-round ratios.
 * - paced (not in the default `--parts`, needs gcc): the two LT echo
 *   examples at a fixed offered rate (`bench/_paced.ts`: 100 connections
 *   at 200 messages a second each, 1,000 at 20), alternating, `--rounds`
 *   runs each: main-thread CPU per echoed message when both versions see
 *   the same arrivals, instead of a closed loop whose batches move with
 *   the race between the server and its load.
 * - together (not in the default `--parts`, needs gcc): the same two
 *   examples at the same fixed offered rate, both at once
 *   (`pacedTogether` in `bench/_paced.ts`), so that each round's pair sees
 *   the same moment of the machine.
 * - anatomy (not in the default `--parts`): the echo part's closed loops
 *   with a CPU profile of the server and its system calls counted by perf,
 *   both cut to loadgen's window (`bench/_anatomy.ts`): per message, the
 *   main thread's CPU divided into the library's, the example's, Deno's
 *   JavaScript, Deno's ops, the collector and V8's own, and each system
 *   call; and the CPU ratio the ops' shares imply. With the same system
 *   calls per message in both versions the ops are the same work, so the
 *   ratio of the ops' shares is the ratio of the CPU per message, read
 *   from proportions within each run, which the machine's speed of the
 *   moment does not move.
 * - http: in each round, examples/http_server.ts and
 *   bench/clients/deno_serve.ts each serve `wrk -t2 -c100` for `--seconds`,
 *   in alternating order; reported: each one's median CPU per request and
 *   the median of the per-round ratios.
 *
 * `--pin HEAD` compares the tree with itself: the spread such an A/A run
 * shows is what the machine alone does to these figures.
 *
 * The machine may be shared: the paired, alternating rounds and the medians
 * of ratios are what makes the figures comparable; absolute CPU per
 * message moves with the load. Needs git and gcc (and wrk for http).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runOne } from "./echo/_measure.ts";
import {
  buildLoadgen,
  cpuSeconds,
  freePort,
  installExitHandlers,
  ROOT,
  ServerProcess,
  waitForAccept,
} from "./echo/_procs.ts";
import { SCENARIOS, type ServerDef } from "./echo/_scenarios.ts";
import { median, pairedRounds, ratioCells, ratioInterval } from "./_rounds.ts";
import { PACED_SCENARIOS, pacedRun, pacedTogether } from "./_paced.ts";
import { withFloodBinary } from "../tests/_reset_flood.ts";
import {
  type Anatomy,
  anatomyRun,
  type Part,
  PARTS as PROFILE_PARTS,
  perfUsable,
  PROFILE_INTERVAL_US,
  SYSCALLS,
} from "./_anatomy.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pin: { type: "string", default: "4b58260" },
    against: { type: "string" },
    "js-messages": { type: "string", default: "300000" },
    rounds: { type: "string", default: "9" },
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    parts: { type: "string", default: "echo,js,http" },
    scenarios: { type: "string", default: "100conns,1000conns,pipelined" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const PARTS = values.parts.split(",");
const SCENARIO_KEYS = values.scenarios.split(",");
const DENO = Deno.execPath();

installExitHandlers();

async function git(...args: string[]): Promise<string> {
  const o = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout).trim();
}

const fmt = (x: number, d = 3) => x.toFixed(d);
const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  console.log(s);
};

// ---------------------------------------------------------------- echo

/** The two checkouts compared: the pinned revision and this tree (or `--against`). */
interface Trees {
  pinned: string;
  /** Root of the pinned checkout. */
  pinnedDir: string;
  /** Name of the other side: "this tree" or the `--against` revision. */
  name: string;
  /** Its root. */
  dir: string;
  /** What to print about it: the commit, and whether the tree has changes. */
  label: string;
  remove(): Promise<void>;
}

/** Checks the pinned revision (and `--against`) out of this repository's own history. */
async function checkOut(): Promise<Trees> {
  const pinned = await git("rev-parse", "--short", values.pin);
  const against = values.against === undefined
    ? undefined
    : await git("rev-parse", "--short", values.against);
  const head = against ?? await git("rev-parse", "--short", "HEAD");
  const dirty = against === undefined &&
    (await git("status", "--porcelain", "--untracked-files=no")) !== "";
  await git("worktree", "prune"); // a run killed before its cleanup left its entries behind
  const pinnedDir = await Deno.makeTempDir({ prefix: "deno-epoll-pinned-" });
  await git("worktree", "add", "--detach", pinnedDir, pinned);
  let dir = ROOT.slice(0, -1);
  if (against !== undefined) {
    dir = await Deno.makeTempDir({ prefix: "deno-epoll-against-" });
    await git("worktree", "add", "--detach", dir, against);
  }
  return {
    pinned,
    pinnedDir,
    name: against ?? "this tree",
    dir,
    label: `${against ?? "this tree"} (${head}${dirty ? ", uncommitted changes" : ""})`,
    async remove() {
      await git("worktree", "remove", "--force", pinnedDir);
      if (against !== undefined) await git("worktree", "remove", "--force", dir);
    },
  };
}

async function echo(trees: Trees): Promise<void> {
  const { pinned } = trees;
  await buildLoadgen();
  const server = (name: string, root: string): ServerDef => ({
    key: name,
    name,
    file: "examples/echo_server.ts",
    cmd: (p) => [DENO, "run", "-A", `${root}/examples/echo_server.ts`, "--port", String(p)],
  });
  const pair = [server(`pinned ${pinned}`, trees.pinnedDir), server(trees.name, trees.dir)];
  const load0 = loadAverage();
  const scenarios = SCENARIOS.filter((s) => SCENARIO_KEYS.includes(s.key));
  const opts = {
    rounds: ROUNDS,
    seconds: SECONDS,
    warmup: WARMUP,
    quick: false,
    only: null,
    servers: null,
  };
  const ratios = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const cpus = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
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
  say(
    `\nLT echo example, CPU per echoed message: ${trees.label} against ${pinned}, ${ROUNDS} paired rounds of ${SECONDS} s; load average ${load0} before, ${loadAverage()} after`,
  );
  say("");
  say(
    `| scenario | pinned µs/msg (median) | ${
      pair[1].name
    } µs/msg (median) | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const sc of scenarios) {
    const r = ratios.get(sc.key)!;
    if (r.length === 0) continue;
    say(
      `| ${sc.title} | ${fmt(median(cpus.get(`${sc.key} ${pair[0].name}`)!), 2)} | ${
        fmt(median(cpus.get(`${sc.key} ${pair[1].name}`)!), 2)
      } | ${ratioCells(r)} |`,
    );
  }
}

/** The 1-minute load average (the machine may be shared: say how busy it was). */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

/** The two sides of a comparison by name and root: the pinned checkout, then this tree. */
function sidesOf(trees: Trees): [string, string][] {
  return [[`pinned ${trees.pinned}`, trees.pinnedDir], [trees.name, trees.dir]];
}

// ---------------------------------------------------------------- js

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
      FAKE_MSGS: values["js-messages"],
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
async function js(trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  for (const sc of JS_SCENARIOS.filter((s) => SCENARIO_KEYS.includes(s.key))) {
    const { results, ratios } = await pairedRounds(
      ROUNDS,
      sides,
      `js ${sc.key}`,
      (root) => jsRun(root, sc),
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
  say(
    `\nLT echo example on an in-memory network (bench/_fake_net.ts), CPU per message: ${trees.label} against ${trees.pinned}, ${ROUNDS} alternating rounds of ${
      values["js-messages"]
    } messages; load average ${load0} before, ${loadAverage()} after`,
  );
  say("");
  say(
    `| scenario | pinned ns/msg, least (median) | ${trees.name} ns/msg, least (median) | ratio of the least | ratio, median of rounds | 95 % interval of that median | range | rounds | forced loop turns per run, median (pinned / ${trees.name}) |`,
  );
  say("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |");
  for (const r of rows) say(r);
}

// ---------------------------------------------------------------- paced

/**
 * The LT echo example of each version at a fixed offered rate
 * (`bench/_paced.ts`), alternating, `--rounds` times per scenario: the
 * median of the per-round ratios of main-thread CPU per message.
 */
async function paced(trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  const built = await withFloodBinary(async (bin) => {
    for (const sc of PACED_SCENARIOS.filter((s) => SCENARIO_KEYS.includes(s.key))) {
      const server = (root: string) => (p: number) => [
        DENO,
        "run",
        "-A",
        `${root}/examples/echo_server.ts`,
        "--port",
        String(p),
      ];
      const { results, ratios } = await pairedRounds(
        ROUNDS,
        sides,
        `paced ${sc.key}`,
        (root) => pacedRun(bin, server(root), sc, SECONDS),
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
    say("\npaced: skipped (gcc is not installed)");
    return;
  }
  say(
    `\nLT echo example at a fixed offered rate (bench/_paced.ts), main-thread CPU per echoed message: ${trees.label} against ${trees.pinned}, ${ROUNDS} alternating rounds of ${SECONDS} s; load average ${load0} before, ${loadAverage()} after`,
  );
  say("");
  say(
    `| scenario | pinned µs/msg (rate), medians | ${trees.name} µs/msg (rate), medians | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of rows) say(r);
}

// ---------------------------------------------------------------- together

/**
 * The two LT echo examples at the same fixed offered rate, at the same
 * time (`pacedTogether` in `bench/_paced.ts`), `--rounds` times per
 * scenario, the order they are started in alternating: the median of the
 * per-round ratios of main-thread CPU per message. Runs taken one after
 * the other see different moments of the machine; these see the same one.
 */
async function together(trees: Trees): Promise<void> {
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const rows: string[] = [];
  const built = await withFloodBinary(async (bin) => {
    for (const sc of PACED_SCENARIOS.filter((s) => SCENARIO_KEYS.includes(s.key))) {
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
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const got = await pacedTogether(
          bin,
          order.map((i) => server(sides[i][1])),
          sc,
          SECONDS,
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
    say("\ntogether: skipped (gcc is not installed)");
    return;
  }
  say(
    `\nLT echo examples side by side at a fixed offered rate each (bench/_paced.ts), main-thread CPU per echoed message: ${trees.label} against ${trees.pinned}, ${ROUNDS} rounds of ${SECONDS} s, both at once; load average ${load0} before, ${loadAverage()} after`,
  );
  say("");
  say(
    `| scenario | pinned µs/msg (rate), medians | ${trees.name} µs/msg (rate), medians | ratio, median of rounds | 95 % interval of that median | range | rounds |`,
  );
  say("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const r of rows) say(r);
}

// ---------------------------------------------------------------- anatomy

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
async function anatomy(trees: Trees): Promise<void> {
  await buildLoadgen();
  const perf = await perfUsable();
  if (!perf) console.error("anatomy: perf cannot count system calls here; profiles only");
  const load0 = loadAverage();
  const sides = sidesOf(trees);
  const tables: string[] = [];
  for (const sc of SCENARIOS.filter((s) => SCENARIO_KEYS.includes(s.key))) {
    const { results } = await pairedRounds(
      ROUNDS,
      sides,
      `anatomy ${sc.key}`,
      (root) => anatomyRun(root, sc, SECONDS, WARMUP, perf),
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
    tables.push(
      `\nmain-thread CPU per message, ${trees.name} / pinned, as the ops shares imply it (pinned share / ${trees.name} share): median ${
        fmt(median(implied))
      } (95 % interval ${ratioInterval(implied)}, range ${fmt(Math.min(...implied))}-${
        fmt(Math.max(...implied))
      }, ${rounds} rounds)`,
    );
  }
  say(
    `\nAnatomy of the LT echo example's CPU per echoed message (bench/_anatomy.ts; CPU profile every ${PROFILE_INTERVAL_US} µs and ${
      perf ? "system calls counted by perf" : "no system-call counts (perf unusable)"
    }, both cut to loadgen's window): ${trees.label} against ${trees.pinned}, ${ROUNDS} alternating rounds of ${SECONDS} s; load average ${load0} before, ${loadAverage()} after`,
  );
  for (const t of tables) say(t);
}

// ---------------------------------------------------------------- http

/** Starts a server, runs wrk against it, returns requests/s and CPU µs per request. */
async function wrkRun(cmd: string[], port: number): Promise<{ rps: number; us: number } | null> {
  const server = new ServerProcess(cmd);
  try {
    await waitForAccept(port, server.child.status, 15_000);
    const url = `http://127.0.0.1:${port}/`;
    await new Deno.Command("wrk", { args: ["-t2", "-c100", "-d1s", url], stdout: "null" })
      .output();
    const cpu0 = cpuSeconds(server.pid);
    const o = await new Deno.Command("wrk", {
      args: ["-t2", "-c100", `-d${SECONDS}s`, url],
      stdout: "piped",
    }).output();
    const cpu = cpuSeconds(server.pid) - cpu0;
    const out = new TextDecoder().decode(o.stdout);
    const reqs = Number(out.match(/(\d+) requests in/)?.[1]);
    const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
    if (!(reqs > 0) || /Non-2xx|Socket errors/.test(out)) return null;
    return { rps, us: cpu / reqs * 1e6 };
  } catch {
    return null;
  } finally {
    await server.stop();
  }
}

async function http(): Promise<void> {
  const servers: [string, (p: number) => string[]][] = [
    [
      "http_server (example)",
      (p) => [DENO, "run", "-A", "examples/http_server.ts", "--port", `${p}`],
    ],
    ["Deno.serve", (p) => [DENO, "run", "-A", "bench/clients/deno_serve.ts", "--port", `${p}`]],
  ];
  const us = new Map<string, number[]>(servers.map(([n]) => [n, []]));
  const rps = new Map<string, number[]>(servers.map(([n]) => [n, []]));
  const ratios: number[] = [];
  const load0 = loadAverage();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    const per: Record<string, number> = {};
    for (const [name, cmd] of order) {
      const port = freePort();
      const r = await wrkRun(cmd(port), port);
      if (r === null) {
        console.error(`  http ${name} round ${round}: failed`);
        continue;
      }
      per[name] = r.us;
      us.get(name)!.push(r.us);
      rps.get(name)!.push(r.rps);
    }
    const [a, b] = [per[servers[0][0]], per[servers[1][0]]];
    if (a !== undefined && b !== undefined) ratios.push(a / b);
    console.error(`round ${round} http: ${fmt(a ?? NaN, 2)} vs ${fmt(b ?? NaN, 2)} µs/request`);
  }
  say(
    `\nHTTP under wrk -t2 -c100, ${ROUNDS} alternating rounds of ${SECONDS} s; load average ${load0} before, ${loadAverage()} after`,
  );
  say("");
  say("| server | requests/s (median) | CPU µs/request (median) |");
  say("| --- | ---: | ---: |");
  for (const [name] of servers) {
    say(`| ${name} | ${fmt(median(rps.get(name)!), 0)} | ${fmt(median(us.get(name)!), 2)} |`);
  }
  if (ratios.length > 0) {
    say(
      `\nexample / Deno.serve CPU per request: median ${fmt(median(ratios))} (95 % interval ${
        ratioInterval(ratios)
      }, range ${fmt(Math.min(...ratios))}-${fmt(Math.max(...ratios))}, ${ratios.length} rounds)`,
    );
  }
}

if (["echo", "js", "paced", "together", "anatomy"].some((p) => PARTS.includes(p))) {
  const trees = await checkOut();
  try {
    if (PARTS.includes("echo")) await echo(trees);
    if (PARTS.includes("js")) await js(trees);
    if (PARTS.includes("paced")) await paced(trees);
    if (PARTS.includes("together")) await together(trees);
    if (PARTS.includes("anatomy")) await anatomy(trees);
  } finally {
    await trees.remove();
  }
}
if (PARTS.includes("http")) await http();
Deno.exit(0);
