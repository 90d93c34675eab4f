/**
 * Testing a replicated service of your own on the simulated network: a
 * counter kept by three replicas, written by a client that counts an
 * increment as done once a majority holds it, while a nemesis isolates,
 * kills and restarts replicas. Each seed is a different run of faults;
 * any failure names its seed, and
 *
 * ```sh
 * DENO_EPOLL_SIM_SEED=7 npx -y deno@2.9.6 test -A examples/sim_cluster_test.ts
 * ```
 *
 * replays it exactly. The second test is the same service with one bug: a
 * restarted replica does not catch up from its peers. The seeds catch it:
 * an acknowledged increment is lost.
 *
 * The service, in a few lines each:
 * - a replica holds a set of increment ids; `ADD id` adds one and answers
 *   `OK`, `GET` answers the ids; when it restarts it fetches the ids of both
 *   peers (retrying until both answered) before it serves;
 * - the writer sends `ADD id` to every replica and acknowledges the
 *   increment when two answered `OK` (else it tries again);
 * - the nemesis, one fault at a time: isolate a replica for a while, or
 *   kill one and restart it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  SHUT_WR,
  SO_REUSEADDR,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../mod.ts";
import { forEachSeed, type SimNetwork, type SimOs } from "../sim.ts";

const PORT = 7000;
const REPLICAS = ["r1", "r2", "r3"];
const OPS = 100;

/** One request, one answer: connect, send `line`, read to the end; `null` after `ms` or on error. */
async function rpc(os: SimOs, address: string, line: string, ms: number): Promise<string | null> {
  const deadline = os.now() + ms;
  const fd = os.socket(AF_INET, SOCK_STREAM, 0);
  const ep = os.epollCreate1(0);
  const events: EpollEvent[] = [];
  const wait = async (events_: number) => {
    os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: events_, data: 0 });
    const left = deadline - os.now();
    const n = left > 0 ? await os.epollWait(ep, events, 1, left) : 0;
    os.epollCtl(ep, 2, fd, null);
    return n > 0;
  };
  try {
    if (os.connect(fd, { family: AF_INET, address, port: PORT }) !== -EINPROGRESS) return null;
    if (!(await wait(EPOLLOUT)) || os.getsockopt(fd, SOL_SOCKET, 4) !== 0) return null;
    if (os.write(fd, new TextEncoder().encode(line + "\n")) <= 0) return null;
    os.shutdown(fd, SHUT_WR);
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const r = os.read(fd, buf);
      if (r === -EAGAIN) {
        if (!(await wait(EPOLLIN))) return null;
        continue;
      }
      if (r < 0) return null;
      if (r === 0) return text;
      text += new TextDecoder().decode(buf.subarray(0, r));
    }
  } finally {
    os.close(ep);
    os.close(fd);
  }
}

/** A replica: after a restart, catch up from both peers (unless `forgetful`); then serve ADD and GET. */
function replica(name: string, ids: Map<string, Set<number>>, forgetful: boolean) {
  let lives = 0;
  return async (os: SimOs) => {
    const mine = new Set<number>(); // program memory: gone when the host is killed
    ids.set(name, mine);
    if (lives++ > 0 && !forgetful) {
      for (const peer of REPLICAS.filter((r) => r !== name)) {
        for (;;) {
          const got = await rpc(os, os.resolve(peer)!, "GET", 1000);
          if (got !== null) {
            for (const id of got.split(",").filter(Boolean)) mine.add(Number(id));
            break;
          }
          await os.sleep(500);
        }
      }
    }
    const lfd = os.socket(AF_INET, SOCK_STREAM, 0);
    os.setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, 1);
    assert.equal(os.bind(lfd, { family: AF_INET, address: "0.0.0.0", port: PORT }), 0);
    os.listen(lfd, 64);
    const ep = os.epollCreate1(0);
    os.epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: -1 });
    const events: EpollEvent[] = [];
    const buf = new Uint8Array(256);
    for (;;) {
      await os.epollWait(ep, events, 16, -1);
      for (let fd = os.accept(lfd); fd >= 0; fd = os.accept(lfd)) {
        os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd });
      }
      for (const ev of events.slice(0, events.length)) {
        const fd = ev.data as number;
        if (fd < 0) continue;
        const r = os.read(fd, buf);
        if (r === -EAGAIN) continue;
        const line = r > 0 ? new TextDecoder().decode(buf.subarray(0, r)).trim() : "";
        let answer = "";
        if (line.startsWith("ADD ")) {
          mine.add(Number(line.slice(4)));
          answer = "OK";
        } else if (line === "GET") answer = [...mine].join(",");
        if (r > 0) os.write(fd, new TextEncoder().encode(answer));
        os.close(fd);
      }
      events.length = 0;
    }
  };
}

/** One run of the service under faults; throws when an acknowledged increment is lost. */
async function cluster(sim: SimNetwork, forgetful: boolean): Promise<void> {
  sim.installGlobals();
  const ids = new Map<string, Set<number>>();
  for (const name of REPLICAS) sim.spawn(sim.addHost(name), replica(name, ids, forgetful));
  const acked: number[] = [];
  sim.client("writer", async (os) => {
    await os.sleep(100);
    for (let id = 1; id <= OPS; id++) {
      for (;;) {
        const answers = await Promise.all(
          REPLICAS.map((r) => rpc(os, os.resolve(r)!, `ADD ${id}`, 1500)),
        );
        if (answers.filter((a) => a === "OK").length >= 2) break;
        await os.sleep(300);
      }
      acked.push(id);
      await os.sleep(200);
    }
  });
  sim.client("nemesis", async (os) => {
    while (acked.length < OPS) {
      await os.sleep(500 + os.random() * 1500);
      const victim = REPLICAS[Math.floor(os.random() * REPLICAS.length)];
      if (os.random() < 0.5) {
        sim.isolate(victim);
        await os.sleep(1000 + os.random() * 3000);
        sim.heal();
      } else {
        sim.kill(victim);
        await os.sleep(500 + os.random() * 2000);
        sim.restart(victim);
        await os.sleep(1000); // let it catch up before the next fault
      }
    }
  });
  await sim.run({ until: 3_600_000 });
  const lost = acked.filter((id) => ![...ids.values()].some((set) => set.has(id)));
  assert.deepEqual(lost, [], `acknowledged increments lost: ${lost.join(", ")}`);
}

Deno.test("the replicated counter keeps every acknowledged increment under partitions, kills and restarts", async () => {
  await forEachSeed({ from: 1, to: 8 }, (sim) => cluster(sim, false));
});

Deno.test("a replica that restarts without catching up loses acknowledged increments, and a seed shows it", async () => {
  const quiet = console.error;
  console.error = () => {};
  let error: (Error & { failures: { seed: number }[] }) | undefined;
  try {
    await forEachSeed({ from: 1, to: 8 }, (sim) => cluster(sim, true));
  } catch (e) {
    error = e as typeof error;
  } finally {
    console.error = quiet;
  }
  assert.ok(error !== undefined, "no seed caught the bug");
  assert.match(error.message, /DENO_EPOLL_SIM_SEED=\d+: acknowledged increments lost/);
  const seed = error.failures[0].seed;
  console.log(`the broken replica fails on seed ${seed}; replay it with:`);
  console.log(
    `  DENO_EPOLL_SIM_SEED=${seed} npx -y deno@2.9.6 test -A examples/sim_cluster_test.ts`,
  );
});
