/**
 * The regression benchmark (issue 16): this working tree against a pinned
 * older version, interleaved, so that a regression in the Deno backend's CPU
 * per message cannot land silently; and the HTTP example against
 * `Deno.serve` under `wrk`.
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:regress [--pin 4b58260] [--against REV] [--rounds 9] [--seconds 3] [--warmup 0.5] [--parts echo,js,http] [--scenarios 100conns,1000conns,pipelined] [--js-messages 300000]
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
import { PACED_SCENARIOS, pacedRun } from "./_paced.ts";
import { withFloodBinary } from "../tests/_reset_flood.ts";

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
  const keys = values.scenarios.split(",");
  const scenarios = SCENARIOS.filter((s) => keys.includes(s.key));
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
  for (const sc of JS_SCENARIOS) {
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
    for (const sc of PACED_SCENARIOS) {
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

if (PARTS.includes("echo") || PARTS.includes("js") || PARTS.includes("paced")) {
  const trees = await checkOut();
  try {
    if (PARTS.includes("echo")) await echo(trees);
    if (PARTS.includes("js")) await js(trees);
    if (PARTS.includes("paced")) await paced(trees);
  } finally {
    await trees.remove();
  }
}
if (PARTS.includes("http")) await http();
Deno.exit(0);
