/**
 * Shrinks a failing differential program to a small one that still fails:
 * first drops runs of ops (halving the run length down to single ops, as
 * delta debugging does), then simplifies what is left (fewer bits in epoll
 * masks, shorter reads and writes, smaller `maxevents`).
 *
 * @module
 */

import type { Op } from "./_program.ts";

/** Whether a candidate program still shows a divergence. */
export type Fails = (program: Op[]) => Promise<boolean>;

const SMALLER_LENS = [0, 1, 8, 10, 100, 4096];

/** Returns a program no larger than `program` for which `fails` still holds. */
export async function shrink(program: Op[], fails: Fails, budget = 2000): Promise<Op[]> {
  let cur = program;
  let tries = 0;
  const attempt = async (cand: Op[]) => {
    if (tries++ >= budget) return false;
    return await fails(cand);
  };
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1;) {
    let changed = false;
    for (let i = 0; i < cur.length;) {
      const cand = cur.slice(0, i).concat(cur.slice(i + chunk));
      if (await attempt(cand)) {
        cur = cand;
        changed = true;
      } else {
        i += chunk;
      }
    }
    if (!changed) chunk >>= 1;
  }
  for (let i = 0; i < cur.length; i++) {
    for (const variant of simpler(cur[i])) {
      const cand = cur.slice();
      cand[i] = variant;
      if (await attempt(cand)) {
        cur = cand;
        i--; // try the new op again
        break;
      }
    }
  }
  return cur;
}

/** Simpler versions of one op. */
function simpler(op: Op): Op[] {
  const out: Op[] = [];
  if (op.k === "ctl") {
    for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
      if (op.events & bit) out.push({ ...op, events: (op.events & ~bit) >>> 0 });
    }
  } else if (op.k === "read" || op.k === "write") {
    for (const len of SMALLER_LENS) if (len < op.len) out.push({ ...op, len });
  } else if (op.k === "wait" && op.max > 1) {
    out.push({ ...op, max: 1 }, { ...op, max: op.max - 1 });
  }
  return out;
}
