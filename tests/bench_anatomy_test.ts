/**
 * bench/_anatomy.ts's profile reading: samples are cut to loadgen's window
 * by their timestamps and counted by what was running (the figures of
 * `bench:regress --parts anatomy` rest on it).
 */

import assert from "node:assert/strict";
import { profileSums } from "../bench/_anatomy.ts";

const profileParts = (...args: Parameters<typeof profileSums>) => profileSums(...args).parts;
const profileFunctions = (...args: Parameters<typeof profileSums>) =>
  profileSums(...args).functions;

const ROOT = "/repo";

/** A profile of one node per part, sampled at `times` (µs) on the nodes `ids`. */
function profile(ids: number[], times: number[]) {
  const frame = (functionName: string, url = "") => ({ functionName, url });
  const nodes = [
    { id: 1, callFrame: frame("harvest", `file://${ROOT}/runtime/epoll/_instance.ts`) },
    { id: 2, callFrame: frame("send", `file://${ROOT}/examples/echo_server.ts`) },
    { id: 3, callFrame: frame("read", "ext:deno_net/01_net.js") },
    { id: 4, callFrame: frame("op_write") },
    { id: 5, callFrame: frame("(garbage collector)") },
    { id: 6, callFrame: frame("(program)") },
    { id: 7, callFrame: frame("(idle)") },
    { id: 8, callFrame: frame("(root)") },
    { id: 9, callFrame: frame("other", "file:///elsewhere/runtime/x.ts") },
  ];
  const timeDeltas = times.map((t, i) => t - (i === 0 ? 1000 : times[i - 1]));
  return { nodes, startTime: 1000, samples: ids, timeDeltas };
}

Deno.test("a profile's samples are counted by part, each for one interval", () => {
  const p = profile([1, 2, 3, 4, 4, 5, 6, 7, 8, 9], [
    1100,
    1200,
    1300,
    1400,
    1500,
    1600,
    1700,
    1800,
    1900,
    2000,
  ]);
  const parts = profileParts(p, ROOT, 0, 1e9, 100);
  assert.deepEqual(parts, {
    library: 100,
    example: 100,
    "deno js": 100,
    ops: 200,
    gc: 100,
    v8: 100,
    idle: 100,
  });
});

Deno.test("samples outside the window are left out, and a gap counts as one sample", () => {
  // The fourth sample comes 5 ms after the third (the thread waited for a
  // CPU): it still counts for one interval.
  const p = profile([4, 1, 1, 1, 2], [1100, 1200, 1300, 6300, 9000]);
  const parts = profileParts(p, ROOT, 1200, 8000, 100);
  assert.equal(parts.library, 300);
  assert.equal(parts.ops, 0);
  assert.equal(parts.example, 0);
});

Deno.test("the trailing slash of the checkout's root does not matter", () => {
  const p = profile([1], [1100]);
  assert.equal(profileParts(p, `${ROOT}/`, 0, 1e9, 250).library, 250);
});

Deno.test("a file outside the checkout counts as the example when named (the minimal loop)", () => {
  const loop = "file:///elsewhere/bench/echo/lt_echo_loop.ts";
  const p = profile([9, 2], [1100, 1200]);
  p.nodes.push({ id: 10, callFrame: { functionName: "(anonymous)", url: loop } });
  p.samples.push(10);
  p.timeDeltas.push(100);
  const parts = profileParts(p, ROOT, 0, 1e9, 100, loop);
  assert.equal(parts.example, 200);
  assert.equal(parts.library, 0);
});

Deno.test("the same samples are summed by function, named by part, file and line, idle left out", () => {
  const p = profile([1, 1, 3, 4, 7, 1], [1100, 1200, 1300, 1400, 1500, 9000]);
  // V8 numbers lines from 0.
  (p.nodes[0].callFrame as { lineNumber?: number }).lineNumber = 217;
  const fns = profileFunctions(p, ROOT, 0, 8000, 100);
  assert.deepEqual(Object.fromEntries(fns), {
    "library: harvest runtime/epoll/_instance.ts:218": 200,
    "deno js: read 01_net.js": 100,
    "ops: op_write": 100,
  });
  // Each part's functions add up to what profileParts gives it.
  const parts = profileParts(p, ROOT, 0, 8000, 100);
  assert.equal(parts.library, 200);
  assert.equal(parts["deno js"], 100);
});
