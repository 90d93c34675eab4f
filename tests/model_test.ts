/**
 * Model-based test of readiness and epoll delivery.
 *
 * A small reference model of Linux (written from `fs/pipe.c`, `net/unix/af_unix.c`,
 * `fs/eventfd.c` and `fs/eventpoll.c`, not from this library) runs side by side with the
 * real calls. A seeded random driver works on a few pipes, socketpairs, one eventfd and
 * 2-3 epolls: `epollCtl` ADD/MOD/DEL with random masks, write, read, shutdown, dup, close
 * and `epollWait` (timeout 0, random `maxevents`). After every step the result of the call
 * is compared with the model's prediction; for every wait, the set of (data, events).
 *
 * Replay or extend a run: `MODEL_SEED=7 MODEL_STEPS=100000 deno test -A tests/model_test.ts`.
 * The model and what it predicts are in `tests/_epoll_model/`.
 *
 * @module
 */

import { Driver } from "./_epoll_model/_driver.ts";

function envNumber(name: string): number | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : Number(v);
  } catch {
    return undefined; // no --allow-env
  }
}

const STEPS = envNumber("MODEL_STEPS") ?? 10_000;
const ONE_SEED = envNumber("MODEL_SEED");
const SEEDS = ONE_SEED !== undefined ? [ONE_SEED] : [1, 0xc0ffee, 20250601];

for (const seed of SEEDS) {
  Deno.test(`epoll model: seed ${seed}, ${STEPS} steps`, async () => {
    const driver = new Driver(seed);
    await driver.run(STEPS);
    if (envNumber("MODEL_STATS")) console.log(driver.stats);
  });
}
