/**
 * Time as a test controls or observes it: a clock that moves only when the
 * test says so (what a simulated network gives its hosts), one macrotask or
 * one timer turn, and whether a promise has settled by then.
 *
 * @module
 */

import type { Clock, ClockAlarm } from "../../mod.ts";

/** A clock that moves only when the test says so (what a simulated network gives its hosts). */
export class ManualClock implements Clock {
  t = 0;
  readonly alarms = new Set<{ deadline: number; fire: () => void }>();
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return 1_700_000_000_000 + this.t;
  }
  alarm(deadline: number, fire: () => void): ClockAlarm {
    const entry = { deadline, fire };
    this.alarms.add(entry);
    return { cancel: () => this.alarms.delete(entry), keepAlive: () => {} };
  }
  /** Moves time on and fires the alarms that are due, then lets their effects run. */
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (const a of [...this.alarms]) {
      if (a.deadline <= this.t) {
        this.alarms.delete(a);
        a.fire();
      }
    }
    await macrotask();
  }
}

/** One macrotask without a timer (a MessageChannel message): what the last step queued has run. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** One timer turn: Deno's timers and I/O had their chance too. */
export const turn = () => new Promise<void>((r) => setTimeout(r, 0));

/** Whether `p` has settled by the next macrotask. */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await turn();
  return done;
}
