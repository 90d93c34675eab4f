/**
 * The differential runner's view of what a program made, from the results
 * already compared equal: which handle is which description and how many
 * fds share it, how much each socketpair or TCP direction holds unread
 * (normalisation 2 of `_runner.ts`: an op that would leave the room both
 * systems agree on is rewritten), and which epoll keys went stale
 * (normalisation 3).
 *
 * @module
 */

import type { Op } from "./_program.ts";
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL } from "../../mod.ts";

/** `unix_writable`'s bound: unread truesize at most a quarter of the 212992-byte SO_SNDBUF. */
const SAFE_TRUESIZE = 212992 / 4;
/**
 * Unread bytes a TCP direction stays under unless filled: well inside the
 * first receive window (64 KiB) and the 16 KiB send buffer's EPOLLOUT
 * threshold, so every write goes in whole and at once on both systems.
 */
const SAFE_TCP = 8192;
/**
 * An upper bound of the `truesize` Linux charges for a write of `n` bytes to
 * a Unix stream socket: per skb of at most 32 KiB of page fragments, a
 * `struct sk_buff` (under 512 bytes), a kmalloc'ed head (at most twice
 * its bytes plus 384 bytes of alignment and `skb_shared_info`), and whole
 * pages for the rest.
 */
export function truesizeBound(n: number): number {
  const skbs = Math.ceil(n / 32768) + 1;
  return skbs * (512 + 2 * (4096 + 384)) + 2 * n;
}

/** What one op showed on one system. */
export type Observation = unknown;

/** The tracker's view of one description (shared by its dups). */
export interface Desc {
  id: number;
  kind: "sock" | "tcp" | "other";
  refs: number;
  /** Socketpair end or TCP connection: the direction it reads, and its peer. */
  rx?: Direction;
  peer?: Desc;
  /** TCP listener: the connections not yet accepted, oldest first (their future peers). */
  pending?: Desc[];
}

/** One direction of a socketpair: the unread writes' truesize bounds, or full. */
interface Direction {
  full: boolean;
  chunks: { left: number; bound: number }[];
}

const bound = (d: Direction) => d.chunks.reduce((s, c) => s + c.bound, 0);
const unread = (d: Direction) => d.chunks.reduce((s, c) => s + c.left, 0);

/** The handles `op` makes. */
export function outs(op: Op): number[] {
  switch (op.k) {
    case "pipe":
    case "socketpair":
    case "dgrampair":
      return op.out;
    case "eventfd":
    case "epoll":
    case "dup":
    case "listen":
    case "connect":
    case "accept":
      return [op.out];
    default:
      return [];
  }
}

/** Rewrites an op that would leave the room both systems agree on (normalisation 2). */
export function normalise(op: Op, descs: Map<number, Desc>): Op {
  if (op.k === "read" && op.len > 0) {
    const d = descs.get(op.h)!;
    if (d.rx?.full) return { k: "drain", h: op.h };
  }
  if (op.k === "write" && op.len > 0) {
    const d = descs.get(op.h)!;
    const dir = d.peer?.rx;
    const over = d.kind === "tcp"
      ? dir !== undefined && (dir.full || unread(dir) + op.len > SAFE_TCP)
      : dir !== undefined && !dir.full && bound(dir) + truesizeBound(op.len) > SAFE_TRUESIZE;
    if (over) return { k: "fill", h: op.h, len: Math.max(op.len, 1000), tag: op.tag };
  }
  return op;
}

/** The next description id (ids only tell descriptions apart). */
let nextId = 1;

/** The epoll interests by (epoll, description, handle), and those whose handle is closed. */
export class Keys {
  #live = new Map<string, { ep: Desc; desc: Desc; h: number }>();
  #stale = new Set<string>();

  isStale(ep: Desc, desc: Desc): boolean {
    return this.#stale.has(`${ep.id}|${desc.id}`);
  }

  /** Call before {@linkcode track}, while a closed handle still maps to its description. */
  track(op: Op, seen: Observation, descs: Map<number, Desc>): void {
    if (op.k === "ctl" && seen === 0) {
      const ep = descs.get(op.ep)!, desc = descs.get(op.fd)!;
      const key = `${ep.id}|${desc.id}|${op.fd}`;
      if (op.op === EPOLL_CTL_ADD) this.#live.set(key, { ep, desc, h: op.fd });
      if (op.op === EPOLL_CTL_DEL) this.#live.delete(key);
    }
    if (op.k !== "close") return;
    const gone = descs.get(op.h)!;
    const released = gone.refs === 1;
    for (const [key, it] of this.#live) {
      if (released && (it.desc === gone || it.ep === gone)) {
        this.#live.delete(key); // eventpoll_release, or the epoll itself freed
      } else if (!released && it.h === op.h) {
        this.#live.delete(key);
        this.#stale.add(`${it.ep.id}|${it.desc.id}`);
      }
    }
    if (released) {
      for (const key of this.#stale) {
        const [ep, desc] = key.split("|").map(Number);
        if (ep === gone.id || desc === gone.id) this.#stale.delete(key);
      }
    }
  }
}

/** Keeps the tracker's view of socketpair directions in step, from the results of `a`. */
export function track(op: Op, seen: Observation, descs: Map<number, Desc>): void {
  switch (op.k) {
    case "pipe":
    case "dgrampair":
    case "eventfd":
    case "epoll":
      // Datagram pairs need no buffer normalisation (5. in the module doc).
      if (seen === "ok") {
        for (const h of outs(op)) descs.set(h, { id: nextId++, kind: "other", refs: 1 });
      }
      return;
    case "socketpair": {
      if (seen !== "ok") return;
      const x: Desc = { id: nextId++, kind: "sock", refs: 1, rx: { full: false, chunks: [] } };
      const y: Desc = {
        id: nextId++,
        kind: "sock",
        refs: 1,
        rx: { full: false, chunks: [] },
        peer: x,
      };
      x.peer = y;
      descs.set(op.out[0], x);
      descs.set(op.out[1], y);
      return;
    }
    case "dup":
      if (seen === "ok") {
        const d = descs.get(op.h)!;
        d.refs++;
        descs.set(op.out, d);
      }
      return;
    case "listen":
      if (seen === "ok") descs.set(op.out, { id: nextId++, kind: "other", refs: 1, pending: [] });
      return;
    case "connect": {
      if (!Array.isArray(seen) || seen[0] !== "ok") return;
      // The connection waits in the listener's queue; its far end is the
      // socket a later accept returns.
      const far: Desc = { id: nextId++, kind: "tcp", refs: 0, rx: { full: false, chunks: [] } };
      const near: Desc = {
        id: nextId++,
        kind: "tcp",
        refs: 1,
        rx: { full: false, chunks: [] },
        peer: far,
      };
      far.peer = near;
      descs.set(op.out, near);
      descs.get(op.l)!.pending?.push(far);
      return;
    }
    case "accept": {
      if (seen !== "ok") return;
      const far = descs.get(op.l)!.pending?.shift() ??
        { id: nextId++, kind: "tcp", refs: 0, rx: { full: false, chunks: [] } };
      far.refs = 1;
      descs.set(op.out, far);
      return;
    }
    case "close": {
      const d = descs.get(op.h)!;
      descs.delete(op.h);
      // The last close frees the unread bytes of its receive queue.
      if (--d.refs === 0 && d.rx) d.rx = { full: false, chunks: [] };
      return;
    }
    case "write": {
      const dir = descs.get(op.h)!.peer?.rx;
      if (dir === undefined || typeof seen !== "number" || seen <= 0 || dir.full) return;
      dir.chunks.push({ left: seen, bound: truesizeBound(seen) });
      return;
    }
    case "fill": {
      const d = descs.get(op.h)!;
      const [total] = seen as [number | string, number];
      if (d.peer?.rx && total !== 0) d.peer.rx = { full: true, chunks: [] };
      return;
    }
    case "read": {
      const dir = descs.get(op.h)!.rx;
      if (dir === undefined || !Array.isArray(seen)) return;
      let n = seen[0] as number;
      while (n > 0 && dir.chunks.length > 0) {
        const take = Math.min(n, dir.chunks[0].left);
        dir.chunks[0].left -= take;
        n -= take;
        if (dir.chunks[0].left === 0) dir.chunks.shift();
      }
      return;
    }
    case "drain": {
      const d = descs.get(op.h)!;
      if (d.rx) d.rx = { full: false, chunks: [] };
      return;
    }
    default:
      return;
  }
}
