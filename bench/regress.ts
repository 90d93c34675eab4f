/**
 * The regression benchmark (issue 16): this working tree against a pinned
 * older version, interleaved, so that a regression in the Deno backend's CPU
 * per message cannot land silently; and the HTTP example against
 * `Deno.serve` under `wrk`.
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:regress [--pin 4b58260] [--against REV] [--rounds 9] [--seconds 3] [--warmup 0.5] [--parts echo,js,http] [--scenarios 100conns,1000conns,pipelined] [--js-messages 300000]
 * npx -y deno@2.9.6 task bench:regress --parts anatomy,together --rounds 15 [--server loop]
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
 *   moment does not move. `--server loop` measures, in place of each
 *   checkout's example, the same minimal LT echo loop over each checkout's
 *   `mod.ts` (bench/echo/lt_echo_loop.ts): the library alone.
 *   `--functions N` adds the N functions whose self time per message
 *   differs most between the two (medians): where a difference lives.
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
 * message moves with the load. Needs git and gcc (wrk for http; perf, if
 * installed, gives the anatomy its system-call counts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { installExitHandlers } from "./echo/_procs.ts";
import { checkOut, type Regress } from "./regress/_context.ts";
import { echo } from "./regress/_echo.ts";
import { js } from "./regress/_js.ts";
import { paced, together } from "./regress/_paced.ts";
import { anatomy } from "./regress/_anatomy.ts";
import { http } from "./regress/_http.ts";

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
    server: { type: "string", default: "example" },
    functions: { type: "string", default: "0" },
  },
});
if (values.server !== "example" && values.server !== "loop") {
  console.error("bench:regress: --server is example or loop");
  Deno.exit(2);
}
const PARTS = values.parts.split(",");
const ctx: Regress = {
  rounds: Number(values.rounds),
  seconds: Number(values.seconds),
  warmup: Number(values.warmup),
  scenarios: values.scenarios.split(","),
  jsMessages: values["js-messages"],
  server: values.server,
  functions: Number(values.functions),
  say: (line) => console.log(line),
};

installExitHandlers();

if (["echo", "js", "paced", "together", "anatomy"].some((p) => PARTS.includes(p))) {
  const trees = await checkOut(values.pin, values.against);
  try {
    if (PARTS.includes("echo")) await echo(ctx, trees);
    if (PARTS.includes("js")) await js(ctx, trees);
    if (PARTS.includes("paced")) await paced(ctx, trees);
    if (PARTS.includes("together")) await together(ctx, trees);
    if (PARTS.includes("anatomy")) await anatomy(ctx, trees);
  } finally {
    await trees.remove();
  }
}
if (PARTS.includes("http")) await http(ctx);
Deno.exit(0);
