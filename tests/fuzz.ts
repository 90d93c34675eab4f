/**
 * Long differential runs against the Linux kernel:
 *
 *     deno task fuzz --count 50000 --seed 1
 *
 * Runs `count` generated programs (seeds `seed`, `seed + 1`, …) on this
 * library and on the kernel (through libc FFI), shrinks every divergence to
 * a minimal program and prints it as code, then prints the size of the run.
 * Options: `--kernel-vs-kernel` (checks the harness: must find nothing),
 * `--broken NAME` (runs a deliberately broken library: must find it),
 * `--tcp` (programs also make TCP listeners and connections over loopback:
 * the library's are the native backend's kernel sockets, in its own
 * descriptor table and epolls), `--confirm N` (count a divergence only if
 * the program diverges again in N reruns; the others are listed as timing),
 * `--min-ops N --max-ops N` (program lengths, default 10..100), `--stop N`
 * (stop after N divergences, default 10). Exits 1 when it found any.
 *
 * @module
 */

import { openLibc } from "../net/native/libc.ts";
import { generate } from "./_differential/_program.ts";
import { mulberry32 } from "./_helpers.ts";
import { programToCode, run, stats } from "./_differential/_runner.ts";
import { shrink } from "./_differential/_shrink.ts";
import { kernelSys, librarySys } from "./_differential/_systems.ts";
import { BROKEN } from "./_differential/_broken.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const libc = openLibc();
if (typeof libc === "string") {
  console.error(`fuzz: the kernel is out of reach: ${libc}`);
  Deno.exit(2);
}
const count = option("count", 1000);
const seed = option("seed", 1);
const minOps = option("min-ops", 10);
const maxOps = option("max-ops", 100);
const stop = option("stop", 10);
const brokenAt = Deno.args.indexOf("--broken");
const tcp = Deno.args.includes("--tcp");
let subject = Deno.args.includes("--kernel-vs-kernel")
  ? kernelSys(libc, "kernel'")
  : librarySys(libc);
if (brokenAt >= 0) {
  const make = BROKEN[Deno.args[brokenAt + 1]];
  if (make === undefined) {
    console.error(`fuzz: --broken takes one of ${Object.keys(BROKEN).join(", ")}`);
    Deno.exit(2);
  }
  subject = make(subject);
}
const kernel = kernelSys(libc);

/**
 * Whether `program` diverges again on each of `times` more runs. With TCP a
 * loaded machine can still delay a loopback delivery past a settle; a
 * divergence of the library's own is in the program and comes back every time.
 */
async function reproduces(program: Parameters<typeof run>[0], times: number): Promise<boolean> {
  for (let i = 0; i < times; i++) if ((await run(program, kernel, subject)) === null) return false;
  return true;
}
const confirm = option("confirm", 0);
const unconfirmed: number[] = [];

const started = performance.now();
let found = 0;
let sequences = 0;
const listed = Deno.args.indexOf("--seeds");
/** `--seeds A,B,…`: exactly these seeds (e.g. those that once found a bug), else `count` from `seed`. */
const seeds = listed >= 0
  ? Deno.args[listed + 1].split(",").map(Number)
  : Array.from({ length: count }, (_, i) => seed + i);
for (let i = 0; i < seeds.length && found < stop; i++) {
  const s = seeds[i];
  const length = minOps + Math.floor(mulberry32(s ^ 0x5eed)() * (maxOps - minOps + 1));
  const program = generate(s, length, { tcp });
  sequences++;
  const d = await run(program, kernel, subject);
  if (d === null) continue;
  if (confirm > 0 && !(await reproduces(program, confirm))) {
    unconfirmed.push(s);
    continue;
  }
  found++;
  const opsBefore = stats.ops;
  const small = await shrink(
    program.slice(0, d.index + 1),
    async (p) => (await run(p, kernel, subject)) !== null,
  );
  stats.ops = opsBefore; // shrinking runs are not part of the run's size
  const last = await run(small, kernel, subject);
  console.log(
    `\n# divergence: seed ${s}, op ${d.index} of ${length}; shrunk to ${small.length} ops`,
  );
  console.log(programToCode(small, last ?? undefined));
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\nfuzz: ${sequences} sequences, ${stats.ops} operations, ${found} divergences ` +
    `(${subject.name} vs ${kernel.name}${tcp ? ", with TCP" : ""}, ` +
    `seeds ${listed >= 0 ? seeds.join(",") : `${seed}..${seed + sequences - 1}`}, ${seconds} s)` +
    (unconfirmed.length > 0
      ? `; ${unconfirmed.length} more did not come back in ${confirm} reruns (timing): ` +
        `seeds ${unconfirmed.join(", ")}`
      : ""),
);
if (found > 0) Deno.exit(1);
