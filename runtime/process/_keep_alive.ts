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
 * one referenced timer holds the event loop; otherwise none does.
 *
 * @module
 */

import { registerPoller } from "../core/poller.ts";

/** The longest `setInterval` delay: the timer only holds, it never needs to fire. */
const HOLD_MS = 0x7fffffff;

let handles = 0;
let sleepers = 0;
let timer: ReturnType<typeof setInterval> | undefined;

function update(): void {
  const want = handles > 0 && sleepers > 0;
  if (want && timer === undefined) {
    timer = setInterval(() => {}, HOLD_MS);
  } else if (!want && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

registerPoller({
  pollNow() {},
  sleepBegin() {
    sleepers++;
    update();
  },
  sleepEnd() {
    sleepers--;
    update();
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
  let released = false;
  return () => {
    if (released) return;
    released = true;
    handles--;
    update();
  };
}
