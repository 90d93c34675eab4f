/**
 * A part of `bench/sim_bench.ts` (`loading`): how many barriers the driver
 * holds virtual time while a host's program loads, for each example server
 * imported unchanged as a fresh module instance in a host (as the
 * examples-in-the-sim tests do). The hold ends at the program's first
 * call; `STARTUP_BARRIERS` (net/sim/host.ts) must stay far above these.
 * The count is of a second loop's `setImmediate` turns while the driver
 * holds, which interleave one to one with the driver's barriers.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { createSimNetwork } from "../sim.ts";

const EXAMPLES = ["echo_server.ts", "http_server.ts", "resp_server.ts", "chat_server.ts"];

/** Adds one row per example server: the barriers its load held the driver. */
export async function loading(rows: [string, string][]): Promise<void> {
  const args = Object.getOwnPropertyDescriptor(Deno, "args")!;
  Object.defineProperty(Deno, "args", { value: [], configurable: true }); // the examples' defaults
  try {
    for (const script of EXAMPLES) await one(script, rows);
  } finally {
    Object.defineProperty(Deno, "args", args);
  }
}

async function one(script: string, rows: [string, string][]): Promise<void> {
  {
    using sim = createSimNetwork({ seed: 5 });
    sim.installGlobals();
    const host = sim.addHost("server");
    const url = new URL(`../examples/${script}?loading=${Date.now()}`, import.meta.url).href;
    sim.spawn(host, () => import(url).then(() => {}));
    let held = true, turns = 0;
    const counting = (async () => {
      while (held) {
        await new Promise<void>((r) => setImmediate(r));
        turns++;
      }
    })();
    const quiet = console.log;
    console.log = () => {}; // the server's "listening on" line
    const t0 = performance.now();
    try {
      await sim.runFor(0); // returns once the program made its first call and waits
    } finally {
      console.log = quiet;
      held = false;
    }
    const ms = performance.now() - t0;
    await counting;
    rows.push([
      `loading ${script} in a host: barriers held`,
      `${turns} (${ms.toFixed(0)} ms real)`,
    ]);
  }
}
