// Differential test against the Linux kernel: generated programs over pipes,
// socketpairs, eventfds and (nested) epolls run on this library and on the
// kernel through libc FFI, and every result and event list must match. The
// harness is checked both ways: the kernel against itself finds nothing, and
// deliberately broken variants of the library are found. Skips (ignored,
// with the reason in the name) where FFI or Linux is out of reach. Long runs:
// `deno task fuzz --count 50000 --seed 1` (tests/fuzz.ts).
import assert from "node:assert/strict";
import { openLibc } from "../net/native/libc.ts";
import { generate, type Op } from "./_differential/_program.ts";
import { programToCode, run } from "./_differential/_runner.ts";
import { shrink } from "./_differential/_shrink.ts";
import { kernelSys, librarySys, type Sys } from "./_differential/_systems.ts";
import { BROKEN } from "./_differential/_broken.ts";

// Loaded at module scope: the binding stays open for the process.
const libc = openLibc();
const ignore = typeof libc === "string";
const why = ignore ? ` (skipped: ${libc})` : "";

/** The fixed CI budget: seeds 1..SEQUENCES, 10..100 ops each. */
const SEQUENCES = 2000;

function programs(first: number, count: number): Op[][] {
  const out: Op[][] = [];
  for (let s = first; s < first + count; s++) out.push(generate(s, 10 + (s * 37) % 91));
  return out;
}

/** Runs the programs; on a divergence, shrinks it and fails with the program as code. */
async function expectNoDivergence(subject: Sys, kernel: Sys, first: number, count: number) {
  let i = first;
  for (const program of programs(first, count)) {
    const d = await run(program, kernel, subject);
    if (d !== null) {
      const small = await shrink(
        program.slice(0, d.index + 1),
        async (p) => (await run(p, kernel, subject)) !== null,
      );
      const last = await run(small, kernel, subject);
      assert.fail(
        `seed ${i} diverges at op ${d.index}: ${JSON.stringify(d)}\nshrunk` +
          `${last === null ? " (did not fail again: flaky?)" : ""}:\n` +
          programToCode(small, last ?? undefined),
      );
    }
    i++;
  }
}

Deno.test({
  name: `differential: the library matches the kernel on ${SEQUENCES} generated programs${why}`,
  ignore,
  fn: async () => {
    if (typeof libc === "string") return;
    await expectNoDivergence(librarySys(), kernelSys(libc), 1, SEQUENCES);
  },
});

Deno.test({
  name: `differential: the harness finds no difference between the kernel and itself${why}`,
  ignore,
  fn: async () => {
    if (typeof libc === "string") return;
    await expectNoDivergence(kernelSys(libc, "kernel'"), kernelSys(libc), 1, 300);
  },
});

for (const [name, make] of Object.entries(BROKEN)) {
  Deno.test({
    name: `differential: the harness finds a deliberately broken library (${name})${why}`,
    ignore,
    fn: async () => {
      if (typeof libc === "string") return;
      const kernel = kernelSys(libc);
      const broken = make(librarySys());
      for (const program of programs(1, 300)) {
        const d = await run(program, kernel, broken);
        if (d === null) continue;
        // Shrinking keeps it failing, and the minimal program is printable code.
        const small = await shrink(
          program.slice(0, d.index + 1),
          async (p) => (await run(p, kernel, broken)) !== null,
        );
        assert.ok(small.length <= d.index + 1);
        assert.notEqual(await run(small, kernel, broken), null);
        assert.match(programToCode(small), /const h: number\[\] = \[\];/);
        return;
      }
      assert.fail(`${name} was not found in 300 programs`);
    },
  });
}

Deno.test({
  name: `differential: the nested-epoll wake-key repro of issue 9 agrees with the kernel${why}`,
  ignore,
  fn: async () => {
    if (typeof libc === "string") return;
    // Deviation 3 of issue 9 (nested wake key), as the fuzzer prints it.
    const nested: Op[] = [
      { k: "pipe", out: [0, 1] },
      { k: "epoll", out: 2 },
      { k: "epoll", out: 3 },
      { k: "ctl", ep: 3, op: 1, fd: 2, events: 0x40, data: 1 },
      { k: "ctl", ep: 2, op: 1, fd: 1, events: 0x100, data: 2 },
      { k: "wait", ep: 3, max: 4 },
    ];
    assert.equal(await run(nested, kernelSys(libc), librarySys()), null);
  },
});
