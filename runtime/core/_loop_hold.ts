/**
 * The one timer that keeps the process alive while a wait sleeps.
 *
 * Deno keeps a process alive while a referenced operation or timer is
 * pending. This library's own operations (a socket's read in flight, the
 * accept pump, a signal listener, the standard input's read) must not:
 * a program that returns with sockets open exits, as a C program does. So
 * they are unref'd, and while a wait sleeps one timer that never does
 * anything is ref'd instead: the process stays alive exactly while a task
 * waits for something that can still come (`net/deno/_keep_alive.ts`,
 * `runtime/process/_keep_alive.ts` are the reasons that ask for it).
 *
 * Cost: a sleeping wait calls {@linkcode holdLoop}, which refs the timer
 * only when it is not ref'd yet (one boolean test otherwise). Nothing is
 * undone when the wait ends: the timer's own tick, every
 * {@linkcode HOLD_CHECK_MS}, asks each reason whether it still holds and
 * unrefs the timer when none does. So a busy server pays a test per sleep,
 * not a Deno timer made and cleared (~5 µs) or a ref and an unref per
 * sleep; a program whose last wait has ended exits within about
 * {@linkcode HOLD_CHECK_MS}.
 *
 * The timer is made, unref'd, when this module loads: one made inside a
 * test would be reported by the test's op sanitizer.
 *
 * @module
 */

/** How often the held timer asks whether any reason still holds it. */
export const HOLD_CHECK_MS = 50;

/** Something that may need the process kept alive (asked on each tick while held). */
export interface HoldReason {
  /** Whether the process must stay alive now (a wait that counts for it sleeps). */
  holding(): boolean;
}

const reasons: HoldReason[] = [];
let reffed = false;
const timer = setInterval(check, HOLD_CHECK_MS);
Deno.unrefTimer(timer);

function check(): void {
  if (!reffed) return;
  for (let i = 0; i < reasons.length; i++) if (reasons[i].holding()) return;
  reffed = false;
  Deno.unrefTimer(timer);
}

/** Registers a reason the tick asks (once; registering it again does nothing). */
export function addHoldReason(r: HoldReason): void {
  if (!reasons.includes(r)) reasons.push(r);
}

/**
 * Keeps the process alive from now until a tick finds that no registered
 * reason holds any more. Cheap when already held.
 */
export function holdLoop(): void {
  if (reffed) return;
  reffed = true;
  Deno.refTimer(timer);
}
