/**
 * A UDP flood that never lets the server's receive queue empty
 * (tests/_udp_flood.c: 64-byte datagrams, 64 per `sendmmsg`, as fast as the
 * kernel takes them) must not make the UDP echo example deaf to SIGTERM, on
 * either backend. Two things kept it deaf: the example read batches for as
 * long as they came back full, so it never returned to its wait, where the
 * stop signal arrives (examples/_datagram_server.ts now reads at most 16
 * per wake-up); and a loop of waits that never sleep, each doing
 * milliseconds of work, let Deno's runtime poll the kernel (for the signal)
 * only every few seconds (runtime/core/_loop_turn.ts now parks it once per
 * `KERNEL_POLL_INTERVAL_MS` of such a loop).
 *
 * Needs gcc (skipped without it).
 */

import assert from "node:assert/strict";
import { RunningExample } from "./_examples.ts";
import { haveGcc, withCProgram } from "./_reset_flood.ts";

const SOURCE = new URL("./_udp_flood.c", import.meta.url).pathname;
const PERMISSIONS = ["--allow-net", "--allow-ffi", "--allow-env=DENO_EPOLL_BACKEND"];
/** Generous: the server stops in well under a second; before, it never did. */
const STOP_LIMIT_MS = 20_000;
const gcc = await haveGcc();

for (const backend of ["deno", "native"]) {
  Deno.test({
    name:
      `udp_echo_server on the ${backend} backend stops on SIGTERM during a flood that never lets its queue empty`,
    ignore: !gcc,
    async fn() {
      await withCProgram(SOURCE, async (bin) => {
        await using server = await RunningExample.start(
          "udp_echo_server.ts",
          ["--port", "0", "--backend", backend],
          PERMISSIONS,
        );
        const flood = new Deno.Command(bin, {
          args: [String(server.port), "60"],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          // Let the flood fill the queue and the server settle into it.
          await new Promise((ok) => setTimeout(ok, 1500));
          const t0 = performance.now();
          server.child.kill("SIGTERM");
          let limit: ReturnType<typeof setTimeout> | undefined;
          const status = await Promise.race([
            server.child.status,
            new Promise<null>((ok) => limit = setTimeout(() => ok(null), STOP_LIMIT_MS)),
          ]);
          clearTimeout(limit);
          const ms = performance.now() - t0;
          assert.ok(status !== null, `still running ${STOP_LIMIT_MS} ms after SIGTERM`);
          assert.equal(status.code, 0, server.stderr.text);
          const m = await server.waitFor(/SIGTERM: stopped; (\d+) datagrams in/);
          const served = Number(m[1]);
          assert.ok(served > 0, "the server read nothing of the flood");
          console.log(`stopped ${ms.toFixed(0)} ms after SIGTERM, ${served} datagrams in`);
        } finally {
          flood.kill("SIGKILL");
          await flood.output();
        }
      });
    },
  });
}
