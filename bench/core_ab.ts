/**
 * What kernels (runtime/core/kernel.ts) cost the hot paths: `bench/core_bench.ts`
 * of this tree, run interleaved against the same file in a base revision's
 * tree (default `main`), and against this tree with a second kernel alive
 * (`DENO_EPOLL_BENCH_KERNEL=1`: every call then asks `AsyncLocalStorage`,
 * the cost a simulated network brings while it exists).
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:ab [--base REV] [--rounds N]   # default: --base main --rounds 5
 * ```
 *
 * Each round runs the three arms in a rotating order; each bench's figure
 * per run is `deno bench`'s min, the fastest batch (on a shared machine the
 * average and even the p75 are dominated by other processes'
 * interruptions). The table shows, per arm, the least disturbed run (the
 * minimum over rounds) and the median over rounds, and the ratios of the
 * minima (the median's ratios in brackets).
 *
 * @module
 */

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
  await Deno.copyFile(`${root}bench/core_bench.ts`, `${dir}/bench/core_bench.ts`);
  return dir;
}

interface Arm {
  name: string;
  dir: string;
  env: Record<string, string>;
}

/** One `deno bench` run: the fastest batch (min, ns) by bench name. */
async function runBench(arm: Arm): Promise<Map<string, number>> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--json", "bench/core_bench.ts"],
    cwd: arm.dir,
    env: { ...arm.env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  });
  const { success, stdout } = await cmd.output();
  if (!success) throw new Error(`deno bench failed in ${arm.dir} (${arm.name})`);
  const report = JSON.parse(new TextDecoder().decode(stdout));
  const out = new Map<string, number>();
  for (const b of report.benches) {
    const ok = b.results?.[0]?.ok;
    if (ok) out.set(b.name, ok.min);
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const dir = await baseTree();
try {
  const arms: Arm[] = [
    { name: `base (${base})`, dir, env: {} },
    { name: "this tree", dir: root, env: {} },
    { name: "this tree, 2nd kernel alive", dir: root, env: { DENO_EPOLL_BENCH_KERNEL: "1" } },
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
  const cell = (v: number) =>
    Number.isNaN(v) ? "n/a" : v >= 10_000 ? `${(v / 1000).toFixed(1)} µs` : `${v.toFixed(0)} ns`;
  const ratio = (a: number, b: number) =>
    Number.isNaN(a) || Number.isNaN(b) ? "n/a" : (a / b).toFixed(2);
  console.log(
    `| bench: min over ${rounds} rounds (median) | ${
      arms.map((a) => a.name).join(" | ")
    } | this/base | alive/base |`,
  );
  console.log(`|---|${arms.map(() => "--:").join("|")}|--:|--:|`);
  for (const name of names) {
    const all = samples.map((s) => s.get(name) ?? []);
    const lo = all.map((xs) => xs.length ? Math.min(...xs) : NaN);
    const mid = all.map((xs) => xs.length ? median(xs) : NaN);
    const arm = (i: number) => `${cell(lo[i])} (${cell(mid[i])})`;
    const r = (i: number) => `${ratio(lo[i], lo[0])} (${ratio(mid[i], mid[0])})`;
    console.log(`| ${name} | ${arms.map((_, i) => arm(i)).join(" | ")} | ${r(1)} | ${r(2)} |`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
