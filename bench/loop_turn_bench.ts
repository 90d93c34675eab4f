/**
 * What event-loop fairness costs (runtime/core/_loop_turn.ts):
 * `deno bench -A bench/loop_turn_bench.ts` (task `bench:loopturn`).
 *
 * - `loopTurnDue()`: the check every wait makes (a counter compare; the
 *   clock only every 16th call without a turn).
 * - `loopTurn()`: one forced turn (a `setImmediate` callback), against a
 *   message on a fresh channel per turn and on one kept channel (how it was
 *   done before: neither reaches Deno's I/O poll often, see
 *   tests/loop_fairness_test.ts), `setTimeout(0)` and a resolved promise
 *   (which lets no loop turn at all).
 * - A wait loop that always finds an event (the worst case: no I/O marks a
 *   turn, so one is forced every `LOOP_TURN_INTERVAL_MS`): the whole cost
 *   per wait, turns amortised.
 *
 * @module
 */

import {
  close,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
} from "../mod.ts";
import { MessageChannel as NodeMessageChannel } from "node:worker_threads";
import { loopTurn, loopTurnDue } from "../runtime/core/_loop_turn.ts";
import { freshChannelTurn } from "./_turns.ts";

Deno.bench({
  name: "loopTurnDue() (the check each wait makes)",
  group: "check",
  fn() {
    loopTurnDue();
  },
});

Deno.bench({
  name: "await loopTurn() (setImmediate)",
  group: "turn",
  baseline: true,
  async fn() {
    await loopTurn();
  },
});

Deno.bench({
  name:
    "await a message on a fresh MessageChannel, ports closed after (loopTurn before the lean work)",
  group: "turn",
  async fn() {
    await freshChannelTurn();
  },
});

const kept = new NodeMessageChannel();
let keptArrived: (() => void) | null = null;
kept.port1.on("message", () => {
  kept.port1.unref();
  keptArrived!();
});
kept.port1.unref();

Deno.bench({
  name: "await a message on one kept node:worker_threads channel (loopTurn in the lean work)",
  group: "turn",
  async fn() {
    await new Promise<void>((resolve) => {
      keptArrived = resolve;
      kept.port1.ref();
      kept.port2.postMessage(null);
    });
  },
});

Deno.bench({
  name: "await setTimeout(0)",
  group: "turn",
  async fn() {
    await new Promise((resolve) => setTimeout(resolve, 0));
  },
});

Deno.bench({
  name: "await Promise.resolve() (no loop turn)",
  group: "turn",
  async fn() {
    await Promise.resolve();
  },
});

const ep = epollCreate1(0);
const efd = eventfd(1, 0);
epollCtl(ep, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: 0 });
const out: EpollEvent[] = [];

Deno.bench({
  name: "epollWait on an always-ready fd (turns forced every 2 ms, amortised)",
  group: "wait",
  async fn() {
    if (await epollWait(ep, out, 8, -1) !== 1) throw new Error("expected the ready fd");
  },
});

globalThis.addEventListener("unload", () => {
  close(efd);
  close(ep);
});
