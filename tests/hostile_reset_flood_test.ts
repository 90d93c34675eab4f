/**
 * A reset flood beside established clients (issue 16, "Under a reset
 * flood"), against the level- and edge-triggered echo examples on the
 * suite's backend (the suite runs once per backend: `task test`, then
 * `DENO_EPOLL_BACKEND=native task test`). tests/_reset_flood.c (built with
 * gcc; the test skips without it) runs 20 established clients echoing 1 KiB
 * messages at 100 a second each, every byte verified, and counts each
 * client's messages per second; after {@linkcode BEFORE_S} seconds a second
 * process opens {@linkcode RATE} ordinary connections a second for
 * {@linkcode CONTROL_S} seconds (each sends 16 bytes, reads the echo and
 * closes: the control), then {@linkcode RATE} attack connections a second
 * for {@linkcode ATTACK_S} seconds (each sends 16 bytes and is closed with
 * `SO_LINGER` 0: the kernel sends RST); when the attacker has exited, a
 * fresh client connects and echoes a line. The driver samples the server's
 * main thread every 50 ms (`/proc/PID/schedstat`: time on a CPU and time
 * waiting for one; `/proc/PID/status`: RSS).
 *
 * Held, every part of the issue's claim:
 * - No established connection is lost, and every byte comes back exactly
 *   (the driver drops a client at the first wrong byte, error or EOF).
 * - Every established client is served in every second of the attack with
 *   at least a quarter of its own rate before the attack (the mean of the
 *   seconds before it, the first, with the connects, left out), in
 *   proportion to the CPU the server got. On a shared machine a second in
 *   which the server barely ran says little about its fairness (at a load
 *   average of 36, whole seconds in which the server got almost no CPU
 *   starved every client alike, on both backends), so each second is
 *   counted by the server's progress: a client is owed a quarter of its
 *   rate when the server's main thread ran at least
 *   `SERVER_CPU_MS` ms in that second (a fifth of it; a fair
 *   server needs a few ms per turn of its loop, each turn answering every
 *   client whose message came), and proportionally less when it ran less.
 *   A server that got the CPU and spent it on the attack fails however
 *   loaded the machine: with the fix reverted, its clients got 0-17
 *   messages in seconds in which it ran 109-335 ms (owed 13-25). Seconds in
 *   which the driver itself stalled (a gap of more than
 *   `DRIVER_GAP_MS` ms in its loop: its clients were not asking)
 *   are excused, here and before the attack; the test prints every second
 *   and what was excused, and fails when the seconds judged add up to less
 *   than half the attack (a second counts whole when every client got a
 *   quarter of its rate outright, else by the server's share: a machine so
 *   loaded that the server barely ran and the clients were short says
 *   nothing either way).
 * - Memory stays bounded: the server's RSS, sampled every 50 ms from the
 *   attack to the end, stays under the baseline (its peak in the control
 *   phase: ordinary connections at the same rate, without the attack),
 *   plus what the control phase added per connection times the attack's
 *   connections (V8's heap grows with connection churn towards a plateau,
 *   flat after ~15 s at ~150 MB in `bench:flood`; an attack connection may
 *   cost what an ordinary one did), plus what the attack can hold: the Deno
 *   backend queues at most `ACCEPT_QUEUE` (16) connections for `accept`,
 *   at less than ~9.5 KB each (bench/queued_memory.ts); the kernel's
 *   backlog holds the rest outside the process. (The starving version grew to 1.3 GB in
 *   60 s; in these 3 s it stayed within this bound too: the check is the
 *   bound, not the regression test for that run.)
 * - A fresh client is served at once after the flood. It is queued behind
 *   what the flood left in the kernel's backlog (up to 4,096 reset
 *   connections), which the server drains 64 per turn of its loop
 *   (`ACCEPT_BATCH`; the Deno backend's `ACCEPT_BURST`, dead connections
 *   skipped), while each established client, one
 *   message in flight, is answered once or twice per turn (twice when its
 *   next message arrives before the server's next read starts). So the bound
 *   is an ordering, not a time: while the fresh client waits for its echo,
 *   no established client completes more than {@linkcode FRESH_ECHOES}
 *   echoes (64 turns). A loaded machine slows both alike; a server that
 *   serves its established clients and leaves the new one waiting fails.
 *   (Measured at load averages of 8-18 on a shared 2-core machine: 0-93
 *   echoes, in 0.2-1,234 ms.)
 *
 * The full-length version (60 s at ~11,000 connections a second, 50
 * clients) is `deno task bench:flood`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  fairness,
  floodExample,
  type FloodResult,
  haveGcc,
  seconds,
  withFloodBinary,
} from "./_reset_flood.ts";
import { NATIVE } from "./_helpers.ts";
import { ACCEPT_QUEUE } from "../net/deno/_listen_channel.ts";

/** Bounded for CI: 9 s per server. */
const GOOD = 20;
const BEFORE_S = 3;
const CONTROL_S = 3;
const ATTACK_S = 3;
const AFTER_S = 1;
/** Attack (and control) connections a second. */
const RATE = 8000;
/**
 * Each established client's pace (messages a second): below what the server
 * can serve, so that the measure is the server's fairness, not how the
 * machine's CPUs are shared between it and the attacker.
 */
const PACE = 100;
/**
 * What a connection held by the Deno backend costs the process: ~9.5 KB
 * accepted and unread (bench/queued_memory.ts), ~3.4 KB queued for accept.
 */
const QUEUED_BYTES = 9_600;
/**
 * The examples' listen backlog over the connections accepted per turn, two
 * echoes a turn: what an established client may complete while the fresh
 * client waits.
 */
const FRESH_ECHOES = 2 * 4096 / 64;

/** The RSS bound (see the module doc) and the peak, in KiB. */
function memory(r: FloodResult): { peak: number; bound: number; text: string } {
  const max = (from: number, to: number) => Math.max(...r.rss_kb.slice(from, to));
  const before = max(...seconds(r, "before"));
  const control = max(...seconds(r, "control"));
  const queued = NATIVE ? 0 : ACCEPT_QUEUE * QUEUED_BYTES / 1024;
  const churn = (control - before) * Math.max(1, r.attacks / Math.max(1, r.controls));
  const bound = control + churn + queued;
  const peak = max(seconds(r, "attack")[0], r.rss_kb.length);
  return {
    peak,
    bound,
    text:
      `RSS before ${before} KiB, control ${control} KiB, peak from the attack on ${peak} KiB, ` +
      `bound ${bound.toFixed(0)} KiB`,
  };
}

/** One line per second: what every check looked at. */
function table(r: FloodResult): string {
  const rows = ["second phase    min-max msgs  server cpu/wait ms  driver gap ms  RSS KiB"];
  for (let s = 0; s < r.seconds.length; s++) {
    const phase = s < r.before
      ? "before"
      : s < r.before + r.control
      ? "control"
      : s < r.before + r.control + r.attack
      ? "attack"
      : "after";
    rows.push(
      `${String(s).padStart(6)} ${phase.padEnd(8)} ${
        `${Math.min(...r.seconds[s])}-${Math.max(...r.seconds[s])}`.padStart(12)
      }  ${`${r.server_cpu_ms[s].toFixed(0)}/${r.server_wait_ms[s].toFixed(0)}`.padStart(18)}  ${
        r.gap_ms[s].toFixed(0).padStart(13)
      }  ${r.rss_kb[s]}`,
    );
  }
  return rows.join("\n");
}

const backend = NATIVE ? "native" : "deno";
for (const script of ["echo_server.ts", "echo_server_et.ts"]) {
  Deno.test({
    name:
      `hostile: ${script} (${backend}) keeps every established client served through a reset flood, in bounded memory, and serves a fresh client at once after it`,
    ignore: !(await haveGcc()) || Deno.build.os !== "linux",
    fn: () =>
      withFloodBinary(async (bin) => {
        const r = await floodExample(bin, script, ["--backend", backend], {
          good: GOOD,
          before: BEFORE_S,
          control: CONTROL_S,
          attack: ATTACK_S,
          after: AFTER_S,
          rate: RATE,
          pace: PACE,
        });
        const fair = fairness(r);
        const mem = memory(r);
        console.log(
          `${script} (${backend}): ${r.controls} control and ${r.attacks} attack connections; ` +
            `fresh client ${r.fresh_ms} ms, ${r.fresh_others} echoes of one established client meanwhile; ` +
            `${fair.judged.toFixed(2)} of ${r.attack} attack seconds judged; ${mem.text}\n${
              table(r)
            }` +
            (fair.excused.length > 0 ? `\nexcused: ${fair.excused.join("; ")}` : ""),
        );
        assert.deepEqual(r.lost, [], "established connections lost");
        // The attack happened: a good part of the connections got through.
        assert.ok(r.attacks >= (RATE * ATTACK_S) / 8, `only ${r.attacks} attack connections`);
        assert.deepEqual(fair.starved, [], "established clients starved during the attack");
        assert.ok(
          fair.judged * 2 >= r.attack,
          `the machine was too loaded to judge the attack: ${fair.excused.join("; ")}`,
        );
        assert.ok(mem.peak <= mem.bound, `memory: ${mem.text}`);
        assert.ok(r.fresh_ms >= 0, "a fresh client was not served after the flood");
        assert.ok(
          r.fresh_others <= FRESH_ECHOES,
          `the fresh client waited ${r.fresh_ms} ms while an established client was served ${r.fresh_others} times`,
        );
      }).then(() => {}),
  });
}
