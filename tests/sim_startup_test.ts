// The driver's start-up hold: while a launched program has made no call,
// its code may still be loading (an `import()` is real I/O), so virtual time
// waits for it, counted in barriers; a program that waits for another host
// instead gets STARTUP_BARRIERS barriers, then time moves on.
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { AF_INET, close, SOCK_STREAM, socket } from "../mod.ts";
import { createSimNetwork, type SimNetwork, type SimOs } from "../sim.ts";
import { STARTUP_BARRIERS } from "../net/sim/host.ts";

/** `run`'s result and the macrotask turns a second loop made meanwhile (one per driver barrier). */
async function countingTurns<T>(run: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let going = true, turns = 0;
  const counting = (async () => {
    while (going) {
      await new Promise<void>((r) => setImmediate(r));
      turns++;
    }
  })();
  try {
    return { value: await run(), turns };
  } finally {
    going = false;
    await counting;
  }
}

/** A client whose `first` step is all it does before awaiting a server that answers at 1000 ms. */
function waitsForServer(sim: SimNetwork, first: (os: SimOs) => void, at: number[]): void {
  const server = sim.addHost("server");
  let answer!: () => void;
  const answered = new Promise<void>((r) => answer = r);
  sim.spawn(server, async (os) => {
    await os.sleep(1000);
    answer();
  });
  sim.client("client", async (os) => {
    first(os);
    await answered; // another host's promise: only virtual time brings it
    at.push(os.now());
  });
}

const NOTE = `no call in ${STARTUP_BARRIERS} barriers: not loading`;

Deno.test("a program that makes no call and awaits another host holds virtual time for STARTUP_BARRIERS barriers, not 30 s", async () => {
  using sim = createSimNetwork({ seed: 1 });
  const at: number[] = [];
  waitsForServer(sim, () => {}, at);
  const { value: r, turns } = await countingTurns(() => sim.run());
  assert.deepEqual([r.now, at], [1000, [1000]]);
  assert.ok(turns >= STARTUP_BARRIERS && turns < 2 * STARTUP_BARRIERS, `${turns} turns`);
  const notes = sim.trace.filter((e) => e.text === NOTE);
  assert.deepEqual(notes.map((e) => [e.at, e.host]), [[0, "client"]]);
});

for (
  const [what, first] of [
    ["a non-waiting mod.ts call", () => close(socket(AF_INET, SOCK_STREAM, 0))],
    ["os.now()", (os: SimOs) => void os.now()],
    ["os.random()", (os: SimOs) => void os.random()],
    ["os.resolve()", (os: SimOs) => void os.resolve("server")],
  ] as const
) {
  Deno.test(`a program whose only call is ${what} before it awaits another host counts as loaded at once`, async () => {
    using sim = createSimNetwork({ seed: 1 });
    const at: number[] = [];
    waitsForServer(sim, first, at);
    const { value: r, turns } = await countingTurns(() => sim.run());
    assert.deepEqual([r.now, at], [1000, [1000]]);
    assert.ok(turns < STARTUP_BARRIERS / 10, `${turns} turns`);
    assert.ok(!sim.trace.some((e) => e.text === NOTE));
  });
}

Deno.test("a program loaded by import() makes its first call at time 0, before another host's 1 ms timer", async () => {
  using sim = createSimNetwork({ seed: 1 });
  const url = new URL(`./_sim_loaded_program.ts?startup=${Date.now()}`, import.meta.url).href;
  sim.client("early", (os) => os.sleep(1));
  sim.client("loaded", () => import(url).then(() => {}));
  await sim.run();
  const lines = sim.trace.filter((e) => e.kind === "call").map((e) =>
    `${e.at} ${e.host} ${e.text}`
  );
  assert.deepEqual(lines.slice(0, 2).map((l) => l.split("(")[0]), [
    "0 loaded socket",
    "1 early sleep",
  ]);
});
