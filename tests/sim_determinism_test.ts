// Determinism tools: same seed, same trace; a real-clock read is caught and
// named; forEachSeed names the failing seed and replays it from the env.
import assert from "node:assert/strict";
import { EPOLLIN, EPOLLOUT, SHUT_WR } from "../mod.ts";
import { checkDeterminism, createSimNetwork, forEachSeed, type SimNetwork } from "../sim.ts";
import { pattern, simConnect, simListen, simReadAll, simWait, simWriteAll } from "./_helpers.ts";

/** A lossy, jittery transfer plus some host randomness: many seeded draws. */
async function transfer(sim: SimNetwork, realClock = false): Promise<number> {
  let got = 0;
  sim.spawn("server", async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const c = os.accept(lfd);
    got = (await simReadAll(os, c)).data.length;
    os.close(c);
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, os.resolve("server")!, 80);
    await simWait(os, fd, EPOLLOUT);
    for (let i = 0; i < 5; i++) {
      await simWriteAll(os, fd, pattern(1000 + Math.floor(os.random() * 5000)));
      await os.sleep(realClock ? performance.now() % 7 : 3);
    }
    os.shutdown(fd, SHUT_WR);
    await simReadAll(os, fd); // until the server has read everything and closed
    os.close(fd);
  });
  sim.setLink("server", "client", { latency: { min: 1, max: 20 }, loss: 0.1, duplicate: 0.05 });
  await sim.run();
  return got;
}

function build(realClock = false) {
  return async (sim: SimNetwork) => {
    sim.addHost("server");
    return await transfer(sim, realClock);
  };
}

Deno.test("the same seed twice gives the same traceHash; another seed another", async () => {
  const hashes: string[] = [];
  for (const seed of [11, 11, 12]) {
    using sim = createSimNetwork({ seed });
    sim.addHost("server");
    await transfer(sim);
    hashes.push(sim.traceHash());
  }
  assert.equal(hashes[0], hashes[1]);
  assert.notEqual(hashes[0], hashes[2]);
});

Deno.test("checkDeterminism passes a seeded program and returns its result", async () => {
  const got = await checkDeterminism(build(), { seed: 5 });
  assert.ok(got > 5000);
});

Deno.test("a host that reads the real clock makes checkDeterminism fail and name the first differing event", async () => {
  await assert.rejects(checkDeterminism(build(true), { seed: 5 }), (e: Error) => {
    assert.match(e.message, /not deterministic: trace event \d+ differs/);
    assert.match(e.message, /first run: .*client call sleep\(/);
    assert.match(e.message, /DENO_EPOLL_SIM_SEED=5/);
    return true;
  });
});

Deno.test("checkDeterminism compares the results too: the same trace with different results fails", async () => {
  let run = 0;
  await assert.rejects(
    checkDeterminism(async (sim) => {
      await sim.run();
      return { run: run++ };
    }, { seed: 6 }),
    /not deterministic: same trace, different results \(seed 6\)/,
  );
});

Deno.test("forEachSeed runs each seed on a fresh network and names the failing seed as DENO_EPOLL_SIM_SEED=n", async () => {
  const seen: number[] = [];
  const ran = await forEachSeed({ from: 3, to: 6 }, async (sim) => {
    seen.push(sim.seed);
    await sim.run();
  });
  assert.deepEqual(ran, [3, 4, 5, 6]);
  assert.deepEqual(seen, [3, 4, 5, 6]);
  const quiet = console.error;
  console.error = () => {};
  try {
    await assert.rejects(
      forEachSeed({ from: 0, to: 9, keepGoing: true }, async (sim) => {
        await sim.run();
        if (sim.seed % 4 === 1) throw new Error(`bad seed ${sim.seed}`);
      }),
      (e: Error & { failures: { seed: number }[] }) => {
        assert.deepEqual(e.failures.map((f) => f.seed), [1, 5, 9]);
        assert.match(e.message, /DENO_EPOLL_SIM_SEED=5: bad seed 5/);
        return true;
      },
    );
  } finally {
    console.error = quiet;
  }
});

Deno.test("DENO_EPOLL_SIM_SEED replays one seed in forEachSeed and seeds createSimNetwork", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { createSimNetwork, forEachSeed } from "${new URL("../sim.ts", import.meta.url)}";
       const seeds = await forEachSeed({ from: 0, to: 99 }, async (sim) => { await sim.run(); });
       console.log(JSON.stringify({ seeds, fresh: createSimNetwork().seed }));`,
    ],
    env: { DENO_EPOLL_SIM_SEED: "42" },
    stdout: "piped",
  });
  const out = await child.output();
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { seeds: [42], fresh: 42 });
});

Deno.test("a disposed network's trace no longer grows: a killed program's last calls are not the run's", async () => {
  const sim = createSimNetwork({ seed: 7 });
  sim.spawn(sim.addHost("server"), async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN); // forever; its finally closes the wait's epoll
  });
  await sim.runFor(10);
  sim.dispose();
  const n = sim.trace.length;
  await new Promise((r) => setTimeout(r, 10)); // the parked wait rejects, the finally runs
  assert.equal(sim.trace.length, n);
});
