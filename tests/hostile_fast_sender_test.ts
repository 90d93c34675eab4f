/**
 * A fast sender against the echo examples (a child process, over
 * 127.0.0.1): beside 20 established clients, each echoing 1 KiB messages at
 * a steady pace, two connections send 64 KiB writes as fast as the server
 * takes them for 3 s (tests/_reset_flood.c, mode `blast`).
 *
 * What must hold, on either backend, LT and ET:
 * - No established connection is lost, and every established client is
 *   served every second of the blast with at least a quarter of its rate
 *   before it (`fairness()` in tests/_reset_flood.ts: the same per-second
 *   judgement as the reset flood's, seconds in which the driver itself
 *   stalled excused). Before the fix, on the Deno backend, one such sender
 *   cut 50 unpaced clients from 47,000 to 1,300 echoes a second: Deno polls
 *   a read when it starts, so a read whose bytes are already in the kernel
 *   settles in a microtask, and the fast sender's read pump kept the event
 *   loop from ever polling the kernel for the others' bytes
 *   (net/deno/_data_channel.ts, "Fairness towards a fast sender").
 * - The fast senders are served too (their echo is counted): fairness is
 *   not bought by starving them.
 * - Memory stays bounded: a connection's buffers are bounded by
 *   `SO_RCVBUF` and `SO_SNDBUF` (128 KiB and 256 KiB by default) and the
 *   example's one pending write; the bound below is the RSS before the blast
 *   plus {@linkcode PER_SENDER} per fast sender.
 * - A fresh client is served after it.
 *
 * The full-length comparison is `deno task bench:flood --mode blast`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fairness, floodExample, haveGcc, seconds, withFloodBinary } from "./_reset_flood.ts";
import { NATIVE } from "./_helpers.ts";

/** Established clients, each at {@linkcode PACE} messages a second. */
const GOOD = 20;
const PACE = 100;
/** Fast senders. */
const SENDERS = 2;
const BEFORE_S = 3;
const BLAST_S = 3;
const AFTER_S = 1;
/**
 * What a fast sender may cost the server's resident set: its two buffers
 * (384 KiB), the example's pending write (64 KiB), Deno's write in flight,
 * and the garbage of 64 KiB messages between two collections.
 */
const PER_SENDER = 16 * 1024; // KiB

const backend = NATIVE ? "native" : "deno";
for (const script of ["echo_server.ts", "echo_server_et.ts"]) {
  Deno.test({
    name:
      `hostile: ${script} (${backend}) keeps every established client served while two clients send as fast as it takes, in bounded memory`,
    ignore: !(await haveGcc()) || Deno.build.os !== "linux",
    fn: async () => {
      await withFloodBinary(async (bin) => {
        const r = await floodExample(bin, script, ["--backend", backend], {
          good: GOOD,
          before: BEFORE_S,
          attack: BLAST_S,
          after: AFTER_S,
          rate: SENDERS,
          pace: PACE,
          mode: "blast",
        });
        const fair = fairness(r);
        const [b0, b1] = seconds(r, "before");
        const [a0, a1] = seconds(r, "attack");
        const rssBefore = Math.max(...r.rss_kb.slice(b0, b1));
        const rssPeak = Math.max(...r.rss_kb.slice(a0));
        const bound = rssBefore + SENDERS * PER_SENDER;
        const perSecond = r.seconds.map((s) => s.reduce((a, b) => a + b, 0));
        console.log(
          `${script} (${backend}): established clients' echoes per second ${
            perSecond.join(" ")
          } (blast in seconds ${a0}-${
            a1 - 1
          }); ${r.attacks} x 64 KiB echoed to the fast senders; ` +
            `RSS before ${rssBefore} KiB, peak ${rssPeak} KiB (bound ${bound}); fresh client ${r.fresh_ms} ms` +
            (fair.excused.length > 0 ? `; excused: ${fair.excused.join("; ")}` : ""),
        );
        assert.deepEqual(r.lost, [], "established connections lost");
        assert.ok(r.attacks > 0, "the fast senders were not served at all");
        assert.deepEqual(fair.starved, [], "established clients starved by the fast senders");
        assert.ok(
          fair.judged * 2 >= r.attack,
          `the machine was too loaded to judge the blast: ${fair.excused.join("; ")}`,
        );
        assert.ok(rssPeak <= bound, `memory: peak ${rssPeak} KiB over the bound ${bound} KiB`);
        assert.ok(r.fresh_ms >= 0, "a fresh client was not served after the blast");
      });
    },
  });
}
