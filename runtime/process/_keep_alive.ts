/**
 * Keeping the process alive while a program waits on process descriptors.
 *
 * Deno's signal listeners do not keep its event loop alive, and the
 * standard input's background read must not either (a program that has
 * finished should exit even though nobody typed anything). But a program
 * parked in `epollWait` on a signalfd or on descriptor 0 is waiting for
 * exactly that input, and Deno would end it ("Promise resolution is still
 * pending but the event loop has already resolved").
 *
 * So, as a {@linkcode Poller} (the seam waits already drive): while at least
 * one process descriptor is open and at least one task sleeps in a wait,
 * the shared hold (`runtime/core/_loop_hold.ts`) keeps the event loop
 * alive. A sleep costs a counter and a boolean test (the hold lets go by
 * its own tick once no descriptor is open or no task sleeps), not a Deno
 * timer made and cleared per sleep.
 *
 * @module
 */

import { registerPoller } from "../core/poller.ts";
import { addHoldReason, holdLoop } from "../core/_loop_hold.ts";

let handles = 0;
let sleepers = 0;

addHoldReason({ holding: () => handles > 0 && sleepers > 0 });

registerPoller({
  sleepBegin() {
    sleepers++;
    if (handles > 0) holdLoop();
  },
  sleepEnd() {
    sleepers--;
    return undefined;
  },
});

/**
 * Counts one open process descriptor; waits hold the process alive while
 * any is counted.
 *
 * @returns The function that stops counting it (idempotent).
 */
export function keepAliveWhileWaiting(): () => void {
  handles++;
  if (sleepers > 0) holdLoop();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    handles--;
  };
}
