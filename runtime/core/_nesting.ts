/**
 * The one nesting check shared by epoll and kqueue: both are descriptions
 * that watch other descriptions, and both may watch each other. Adding a
 * watched `target` to a `container` fails with `-ELOOP` when the target
 * reaches the container (a cycle), or when the chain of containers would be
 * deeper than Linux's `EP_MAX_NESTS` (4).
 *
 * A container lists what it watches through `watched()`; the containers
 * above one are found through its watchers' `owner`.
 *
 * @module
 */

import type { Description } from "./description.ts";
import { ELOOP } from "./errno.ts";

/** Linux's `EP_MAX_NESTS`. */
export const MAX_NESTS = 4;

/** A description that watches others: an epoll or a kqueue. */
export interface Container {
  /** The descriptions it watches (duplicates allowed). */
  watched(): Iterable<Description>;
}

/** Whether `d` watches other descriptions. */
export function isContainer(d: Description): d is Description & Container {
  return typeof (d as Partial<Container>).watched === "function";
}

/** Whether `target` is `from` or is reachable from it through containers. */
function reaches(from: Description, target: Description, depth: number): boolean {
  if (from === target || depth > MAX_NESTS) return true;
  if (!isContainer(from)) return false;
  for (const d of from.watched()) {
    if (isContainer(d) && reaches(d, target, depth + 1)) return true;
  }
  return false;
}

/** Longest chain of containers from `d` down, `d` included. */
function downward(d: Description, depth: number): number {
  if (depth > MAX_NESTS) return MAX_NESTS + 1;
  let best = 0;
  if (isContainer(d)) {
    for (const c of d.watched()) {
      if (isContainer(c)) best = Math.max(best, downward(c, depth + 1));
    }
  }
  return best + 1;
}

/** Longest chain of containers watching `d`, `d` excluded. */
function upward(d: Description, depth: number): number {
  if (depth > MAX_NESTS) return MAX_NESTS + 1;
  let best = 0;
  for (const w of d.watchers) {
    if (w.owner !== undefined) best = Math.max(best, 1 + upward(w.owner, depth + 1));
  }
  return best;
}

/**
 * Checks that `container` may watch `target`.
 *
 * @returns 0, or `-ELOOP` for a cycle or a chain deeper than {@linkcode MAX_NESTS}.
 */
export function checkNesting(container: Description, target: Description): number {
  if (!isContainer(target)) return 0;
  if (reaches(target, container, 0) || upward(container, 0) + downward(target, 0) > MAX_NESTS) {
    return -ELOOP;
  }
  return 0;
}
