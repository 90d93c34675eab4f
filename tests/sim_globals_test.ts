// installGlobals: virtual, seeded clocks, timers and randomness while a run
// lasts; a host reaching for the real network gets SimLeakError.
import assert from "node:assert/strict";
import { createSimNetwork, SimError, SimLeakError, VIRTUAL_EPOCH_MS } from "../sim.ts";

Deno.test("installGlobals makes Date.now, performance.now and setTimeout virtual inside a run, and restores them after", async () => {
  using sim = createSimNetwork({ seed: 1 });
  sim.installGlobals();
  const realNow = Date.now;
  const seen: number[] = [];
  sim.client("c", async (os) => {
    seen.push(Date.now() - VIRTUAL_EPOCH_MS, performance.now());
    await new Promise((r) => setTimeout(r, 86_400_000)); // a virtual day
    seen.push(Date.now() - VIRTUAL_EPOCH_MS, performance.now(), os.now());
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const id = setInterval(() => {
        if (++ticks === 3) {
          clearInterval(id);
          resolve();
        }
      }, 1000);
    });
    seen.push(os.now());
  });
  await sim.run();
  assert.deepEqual(seen, [0, 0, 86_400_000, 86_400_000, 86_400_000, 86_403_000]);
  assert.equal(Date.now, realNow);
  assert.ok(Date.now() > VIRTUAL_EPOCH_MS + 86_400_000 * 365 * 20);
});

Deno.test("installGlobals seeds Math.random and crypto.getRandomValues: one seed, one sequence", async () => {
  const runs: number[][] = [];
  for (const seed of [7, 7, 8]) {
    using sim = createSimNetwork({ seed });
    sim.installGlobals();
    const out: number[] = [];
    sim.client("c", () => {
      out.push(Math.random(), ...crypto.getRandomValues(new Uint8Array(4)));
    });
    await sim.run();
    runs.push(out);
  }
  assert.deepEqual(runs[0], runs[1]);
  assert.notDeepEqual(runs[0], runs[2]);
});

Deno.test("a host that calls Deno.connect, Deno.listen or fetch under installGlobals gets SimLeakError naming it", async () => {
  for (
    const [call, fn] of [
      ["Deno.connect", () => Deno.connect({ port: 9 })],
      ["Deno.listen", () => Deno.listen({ port: 0 })],
      ["fetch", () => fetch("http://127.0.0.1:9/")],
    ] as const
  ) {
    using sim = createSimNetwork({ seed: 2 });
    sim.installGlobals();
    sim.client("leaky", async (os) => {
      await os.sleep(5);
      await fn();
    });
    await assert.rejects(sim.run(), (e: SimError) => {
      assert.ok(e instanceof SimError);
      assert.ok(e.cause instanceof SimLeakError);
      assert.equal((e.cause as SimLeakError).host, "leaky");
      assert.equal((e.cause as SimLeakError).call, call);
      assert.match(e.message, new RegExp(`host leaky called ${call.replace(".", "\\.")}`));
      return true;
    });
  }
});
