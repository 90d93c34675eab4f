/**
 * What kernels (runtime/core/kernel.ts) cost the hot paths: `bench/_hot_paths.ts`
 * (CPU per operation on in-memory descriptors) of this tree, run
 * interleaved against the same file in a base revision's tree (default
 * `main`), and against this tree with a simulated network's host alive
 * (`DENO_EPOLL_BENCH_KERNEL=1`: every call then asks `AsyncLocalStorage`
 * and passes the call tracer's check, the cost a simulated network brings
 * to the process's own kernel while it exists).
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:ab [--base REV] [--rounds N]   # default: --base main --rounds 5
 * ```
 *
 * Each round runs the three arms in a rotating order. A figure is CPU time
 * (user + system) per operation, the least of 7 repetitions within a run,
 * so time other processes take on a shared machine does not count; wall
 * time (`deno bench`) varied by +-30 % between identical runs here. The
 * table shows, per arm, the median over rounds and the range, and the
 * ratios of the medians.
 *
 * @module
 */

import { median } from "./_rounds.ts";

const args = [...Deno.args];
function flag(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const base = flag("--base", "main");
const rounds = Number(flag("--rounds", "5"));
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: core_ab.ts [--base REV] [--rounds N]");
  Deno.exit(2);
}

const root = new URL("..", import.meta.url).pathname;

/** The base revision's tree in a temporary directory, with this tree's benchmark file. */
async function baseTree(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "core_ab_" });
  const archive = new Deno.Command("sh", {
    args: ["-c", `git -C "${root}" archive "${base}" | tar -x -C "${dir}"`],
  });
  const { success, stderr } = await archive.output();
  if (!success) throw new Error(`git archive ${base}: ${new TextDecoder().decode(stderr)}`);
  await Deno.copyFile(`${root}bench/_hot_paths.ts`, `${dir}/bench/_hot_paths.ts`);
  return dir;
}

interface Arm {
  name: string;
  dir: string;
  env: Record<string, string>;
}

/** One run of the hot paths: CPU ns per operation by name. */
async function runBench(arm: Arm): Promise<Map<string, number>> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/_hot_paths.ts"],
    cwd: arm.dir,
    env: { ...arm.env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { success, stdout, stderr } = await cmd.output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(`${arm.name}: ${new TextDecoder().decode(stderr)}`);
  return new Map(Object.entries(JSON.parse(text) as Record<string, number>));
}

const dir = await baseTree();
try {
  const arms: Arm[] = [
    { name: `base (${base})`, dir, env: {} },
    { name: "this tree", dir: root, env: {} },
    { name: "this tree, a sim host alive", dir: root, env: { DENO_EPOLL_BENCH_KERNEL: "1" } },
  ];
  const samples = arms.map(() => new Map<string, number[]>());
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < arms.length; j++) {
      const i = (j + r) % arms.length; // rotate the order each round
      for (const [name, ns] of await runBench(arms[i])) {
        const list = samples[i].get(name) ?? [];
        list.push(ns);
        samples[i].set(name, list);
      }
    }
    console.error(`round ${r + 1}/${rounds} done`);
  }
  const names = [...samples[1].keys()];
  const ns = (v: number) =>
    Number.isNaN(v) ? "n/a" : v >= 10_000 ? `${(v / 1000).toFixed(1)} µs` : `${v.toFixed(0)} ns`;
  console.log(
    `| CPU per operation, median of ${rounds} rounds [range] | ${
      arms.map((a) => a.name).join(" | ")
    } | this/base | alive/base |`,
  );
  console.log(`|---|${arms.map(() => "--:").join("|")}|--:|--:|`);
  for (const name of names) {
    const all = samples.map((s) => s.get(name) ?? []);
    const mid = all.map((xs) => xs.length ? median(xs) : NaN);
    const cell = (i: number) =>
      all[i].length
        ? `${ns(mid[i])} [${ns(Math.min(...all[i]))}-${ns(Math.max(...all[i]))}]`
        : "n/a";
    const ratio = (i: number) =>
      Number.isNaN(mid[i] / mid[0]) ? "n/a" : (mid[i] / mid[0]).toFixed(3);
    console.log(
      `| ${name} | ${arms.map((_, i) => cell(i)).join(" | ")} | ${ratio(1)} | ${ratio(2)} |`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
