/**
 * What keeps the process alive: a wait that sleeps, as with C on Linux.
 *
 * Deno keeps a process alive while a referenced operation or timer is
 * pending. This library always has some in flight that must not (a
 * socket's read, the accept pump, a signal listener, the standard input's
 * read): a program that returns with sockets open exits, as a C program
 * does. Two tools, one timer:
 *
 * - **The hold.** While a wait sleeps, one timer that never does anything
 *   is ref'd ({@linkcode holdLoop}): the process stays alive exactly while
 *   a task waits for something that can still come. The reasons that ask
 *   for it (`net/deno/_keep_alive.ts`, `runtime/process/_keep_alive.ts`)
 *   count their sleepers; the timer's own tick, every
 *   {@linkcode HOLD_CHECK_MS}, asks each whether it still holds and unrefs
 *   the timer when none does. A sleep pays one boolean test once the hold
 *   is taken, not a Deno timer made and cleared (~5 µs) or a ref and an
 *   unref.
 * - **Idle release.** Operations that would cost something to unref one by
 *   one (a Deno `Conn` that is unref'd pays an `unrefOpPromise` on every
 *   read) may stay ref'd while the program runs its loop, if they are let
 *   go once it stops: a tick that finds that no wait began since the
 *   previous tick and that none sleeps calls each reason's `idle()`, and
 *   the next wait that begins calls `resume()`. Every wait counts itself
 *   ({@linkcode noteWait}: an increment and a test).
 *
 * So a program whose last wait has ended exits within about two ticks.
 * The timer is made, unref'd, when this module loads: one made inside a
 * test would be reported by the test's op sanitizer. An unref'd interval
 * still fires while anything else keeps the loop alive, which is when the
 * idle release is needed.
 *
 * @module
 */

/** How often the timer asks whether any reason still holds it, and whether waits still begin. */
export const HOLD_CHECK_MS = 50;

/** Something that may need the process kept alive, or let go of it. */
export interface HoldReason {
  /** Whether the process must stay alive now (a wait that counts for it sleeps). */
  holding(): boolean;
  /** No wait began for a whole tick and none sleeps: let go of what keeps the process alive. */
  idle?(): void;
  /** A wait began after {@linkcode HoldReason.idle}: the program runs its loop again. */
  resume?(): void;
}

const reasons: HoldReason[] = [];
let reffed = false;
let waits = 0;
let waitsSeen = 0;
let idle = false;
const timer = setInterval(check, HOLD_CHECK_MS);
Deno.unrefTimer(timer);

function check(): void {
  const waited = waits !== waitsSeen;
  waitsSeen = waits;
  if (reffed) {
    for (let i = 0; i < reasons.length; i++) if (reasons[i].holding()) return;
    reffed = false;
    Deno.unrefTimer(timer);
  }
  if (waited || idle) return;
  idle = true;
  for (let i = 0; i < reasons.length; i++) reasons[i].idle?.();
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

/** A wait begins (every `epollWait`, `kevent`): the program is running its loop. */
export function noteWait(): void {
  waits++;
  if (idle) {
    idle = false;
    for (let i = 0; i < reasons.length; i++) reasons[i].resume?.();
  }
}
