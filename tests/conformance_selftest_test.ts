/**
 * Linux conformance in the scenarios of the kernel's epoll selftest
 * (tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c).
 *
 * Every test asserts the exact result the Linux kernel gives, with its
 * source (a man page, fs/eventpoll.c, fs/pipe.c, fs/eventfd.c,
 * net/unix/af_unix.c, or a scenario of the kernel selftest
 * tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c, where
 * threads become concurrent async tasks); the other conformance files are
 * `conformance_*_test.ts`.
 */

import assert from "node:assert/strict";
import { EINTR, EPOLLET, EPOLLIN, epollPwait2, write } from "../mod.ts";
import { readiness, sleep } from "./_helpers.ts";
import { add, count, type Scope, scoped, W } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// Kernel selftest scenarios (epoll_wakeup_test.c)

type Mode = "lt" | "et";
const modeBits = (m: Mode) => (m === "et" ? EPOLLIN | EPOLLET : EPOLLIN);

/**
 * Builds a selftest topology and returns the top epoll and the emitter.
 * - "s1": e0 -(top)-> s0
 * - "s2": e0 -(top)-> s0, s2
 * - "n1": e0 -(top)-> e1 -(leaf)-> s0
 * - "n2": e0 -(top)-> e1 -(leaf)-> s0 and e0 -(top)-> e2 -(leaf)-> s2
 */
function topology(
  s: Scope,
  shape: "s1" | "s2" | "n1" | "n2",
  top: Mode,
  leaf: Mode = "lt",
): { e0: number; emit: () => void } {
  const e0 = s.ep();
  const writers: number[] = [];
  const branches = shape === "s1" || shape === "n1" ? 1 : 2;
  for (let i = 0; i < branches; i++) {
    const [s0, s1] = s.pair();
    writers.push(s1);
    if (shape === "s1" || shape === "s2") {
      add(e0, s0, modeBits(top));
    } else {
      const e1 = s.ep();
      add(e1, s0, modeBits(leaf));
      add(e0, e1, modeBits(top));
    }
  }
  return { e0, emit: () => writers.forEach((w) => assert.equal(write(w, W), 1)) };
}

interface SingleCase {
  name: string;
  shape: "s1" | "s2" | "n1" | "n2";
  top: Mode;
  leaf?: Mode;
  max: number;
  expect: [number, number];
  poll: boolean;
}

const single: SingleCase[] = [
  { name: "epoll1", shape: "s1", top: "lt", max: 1, expect: [1, 1], poll: false },
  { name: "epoll2", shape: "s1", top: "et", max: 1, expect: [1, 0], poll: false },
  { name: "epoll3", shape: "s2", top: "lt", max: 2, expect: [2, 2], poll: false },
  { name: "epoll4", shape: "s2", top: "et", max: 2, expect: [2, 0], poll: false },
  { name: "epoll5", shape: "s1", top: "lt", max: 1, expect: [1, 1], poll: true },
  { name: "epoll6", shape: "s1", top: "et", max: 1, expect: [1, 0], poll: true },
  { name: "epoll7", shape: "s2", top: "lt", max: 2, expect: [2, 2], poll: true },
  { name: "epoll8", shape: "s2", top: "et", max: 2, expect: [2, 0], poll: true },
  { name: "epoll17", shape: "n1", top: "lt", leaf: "lt", max: 1, expect: [1, 1], poll: false },
  { name: "epoll18", shape: "n1", top: "lt", leaf: "et", max: 1, expect: [1, 1], poll: false },
  { name: "epoll19", shape: "n1", top: "et", leaf: "lt", max: 1, expect: [1, 0], poll: false },
  { name: "epoll20", shape: "n1", top: "et", leaf: "et", max: 1, expect: [1, 0], poll: false },
  { name: "epoll21", shape: "n1", top: "lt", leaf: "lt", max: 1, expect: [1, 1], poll: true },
  { name: "epoll22", shape: "n1", top: "lt", leaf: "et", max: 1, expect: [1, 1], poll: true },
  { name: "epoll23", shape: "n1", top: "et", leaf: "lt", max: 1, expect: [1, 0], poll: true },
  { name: "epoll24", shape: "n1", top: "et", leaf: "et", max: 1, expect: [1, 0], poll: true },
  { name: "epoll49", shape: "n2", top: "lt", leaf: "lt", max: 2, expect: [2, 2], poll: false },
  { name: "epoll50", shape: "n2", top: "et", leaf: "lt", max: 2, expect: [2, 0], poll: false },
  { name: "epoll51", shape: "n2", top: "lt", leaf: "lt", max: 2, expect: [2, 2], poll: true },
  { name: "epoll52", shape: "n2", top: "et", leaf: "lt", max: 2, expect: [2, 0], poll: true },
];

const describe = (c: { shape: string; top: Mode; leaf?: Mode }) =>
  c.shape.startsWith("s")
    ? `${c.top.toUpperCase()} ${c.shape === "s1" ? "socket" : "two sockets"}`
    : `${c.top.toUpperCase()} ${c.shape === "n1" ? "nested epoll" : "two nested epolls"} over ${
      (c.leaf ?? "lt").toUpperCase()
    } socket${c.shape === "n2" ? "s" : ""}`;

for (const c of single) {
  Deno.test(
    `selftest ${c.name}: ${describe(c)}, ${
      c.poll ? "poll then epoll_wait(0)" : "epoll_wait(0)"
    } twice gives ${c.expect.join(" then ")}`,
    scoped(async (s) => {
      const { e0, emit } = topology(s, c.shape, c.top, c.leaf);
      emit();
      for (const expected of c.expect) {
        if (c.poll) assert.equal(await readiness(e0, EPOLLIN), expected > 0 ? EPOLLIN : 0);
        assert.equal(await count(e0, c.max, 0), expected);
      }
    }),
  );
}

interface ThreadCase {
  name: string;
  shape: "s1" | "s2" | "n1" | "n2";
  top: Mode;
  leaf?: Mode;
  max: number;
  expect: number;
}

const threaded: ThreadCase[] = [
  { name: "epoll9", shape: "s1", top: "lt", max: 1, expect: 2 },
  { name: "epoll10", shape: "s1", top: "et", max: 1, expect: 1 },
  { name: "epoll11", shape: "s2", top: "lt", max: 2, expect: 2 },
  { name: "epoll12", shape: "s2", top: "et", max: 1, expect: 2 },
  { name: "epoll25", shape: "n1", top: "lt", leaf: "lt", max: 1, expect: 2 },
  { name: "epoll26", shape: "n1", top: "lt", leaf: "et", max: 1, expect: 2 },
  { name: "epoll27", shape: "n1", top: "et", leaf: "lt", max: 1, expect: 1 },
  { name: "epoll28", shape: "n1", top: "et", leaf: "et", max: 1, expect: 1 },
  { name: "epoll53", shape: "n2", top: "lt", leaf: "lt", max: 1, expect: 2 },
  { name: "epoll54", shape: "n2", top: "et", leaf: "lt", max: 1, expect: 2 },
];

for (const c of threaded) {
  Deno.test(
    `selftest ${c.name}: ${
      describe(c)
    }, two tasks blocked in epoll_wait(-1): ${c.expect} woken by the emitter`,
    scoped(async (s) => {
      const { e0, emit } = topology(s, c.shape, c.top, c.leaf);
      const stop = new AbortController();
      const waiter = () => epollPwait2(e0, [], c.max, null, stop.signal);
      const tasks = [waiter(), waiter()];
      await sleep(5);
      emit();
      await sleep(20);
      stop.abort(); // the selftest's SIGUSR1 for a waiter left blocked
      const results = await Promise.all(tasks);
      assert.equal(results.filter((n) => n > 0).length, c.expect);
      assert.equal(results.filter((n) => n === -EINTR).length, 2 - c.expect);
    }),
  );
}
