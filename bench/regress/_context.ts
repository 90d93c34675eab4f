/**
 * What the parts of `bench/regress.ts` share: the flags of the run, its
 * report, the load average, and the two checkouts under comparison.
 *
 * @module
 */

import { ROOT } from "../echo/_procs.ts";

/** The flags of one `bench:regress` run, and its report. */
export interface Regress {
  /** `--rounds`: paired rounds per scenario. */
  rounds: number;
  /** `--seconds`: each measured run. */
  seconds: number;
  /** `--warmup`: loadgen's warm-up before each measured window. */
  warmup: number;
  /** `--scenarios`: the keys of the scenarios to run. */
  scenarios: string[];
  /** `--js-messages`: messages per in-memory run. */
  jsMessages: string;
  /** `--server`: what the anatomy measures, each checkout's example or the same loop over each library. */
  server: "example" | "loop";
  /** `--functions`: how many functions the anatomy lists by their difference (0: none). */
  functions: number;
  /** Prints a line of the report. */
  say(line: string): void;
}

/** This Deno, for every server started. */
export const DENO: string = Deno.execPath();

/** The command of the LT echo example of the checkout at `root`, on port `p`. */
export const echoServer = (root: string) => (p: number): string[] => [
  DENO,
  "run",
  "-A",
  `${root}/examples/echo_server.ts`,
  "--port",
  String(p),
];

/** `x` with `d` decimals. */
export const fmt = (x: number, d = 3): string => x.toFixed(d);

async function git(...args: string[]): Promise<string> {
  const o = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout).trim();
}

/** The two checkouts compared: the pinned revision and this tree (or `--against`). */
export interface Trees {
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

/** Checks the pinned revision `pin` (and `--against`) out of this repository's own history. */
export async function checkOut(pin: string, againstRev: string | undefined): Promise<Trees> {
  const pinned = await git("rev-parse", "--short", pin);
  const against = againstRev === undefined
    ? undefined
    : await git("rev-parse", "--short", againstRev);
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

/** The 1-minute load average (the machine may be shared: say how busy it was). */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

/** The two sides of a comparison by name and root: the pinned checkout, then this tree. */
export function sidesOf(trees: Trees): [string, string][] {
  return [[`pinned ${trees.pinned}`, trees.pinnedDir], [trees.name, trees.dir]];
}
