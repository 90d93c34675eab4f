/**
 * Differential programs: what an operation is, a seeded generator of
 * operation sequences over pipes, socketpairs, eventfds and epolls (nested
 * too), and a printer that turns a sequence into code to paste into a test.
 *
 * Objects are named by *handle* (an index chosen by the generator), never by
 * fd number: creation ops say which handles they fill, and the runner maps
 * handles to each system's fds. A sequence never uses a handle after closing
 * it (fd numbers are reused, differently on each system). When the shrinker
 * removes a creation op, the ops that name its handles are skipped.
 *
 * @module
 */

import {
  EFD_SEMAPHORE,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLERR,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLMSG,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
} from "../../mod.ts";
import { mulberry32 } from "../_helpers.ts";

/** One operation. `h`, `ep`, `fd` and `out` are handles. */
export type Op =
  | { k: "pipe"; out: [number, number] }
  | { k: "socketpair"; out: [number, number] }
  /** `socketpair(AF_UNIX, SOCK_DGRAM)`. */
  | { k: "dgrampair"; out: [number, number] }
  /** `recv(2)` with flags (`MSG_PEEK`, `MSG_TRUNC`), on datagram sockets. */
  | { k: "recv"; h: number; len: number; flags: number }
  | { k: "eventfd"; out: number; init: number; flags: number }
  | { k: "epoll"; out: number }
  /** A TCP socket listening on 127.0.0.1 (an ephemeral port). */
  | { k: "listen"; out: number }
  /** A TCP socket connecting to the listener `l`'s port (non-blocking `connect`). */
  | { k: "connect"; l: number; out: number }
  /** `accept4` on the listener `l`: the oldest pending connection. */
  | { k: "accept"; l: number; out: number }
  | { k: "dup"; h: number; out: number }
  | { k: "ctl"; ep: number; op: number; fd: number; events: number; data: number }
  | { k: "wait"; ep: number; max: number }
  /**
   * `epoll_wait` on a descriptor that is not open: the fd the last `close`
   * freed while no call has taken a new fd since, else -1.
   */
  | { k: "wait-closed"; max: number }
  | { k: "read"; h: number; len: number }
  /** Writes `len` bytes: the 64-bit `value` first (when given), then a pattern of `tag`. */
  | { k: "write"; h: number; len: number; tag: number; value?: bigint }
  /** Writes `len`-byte chunks until a write fails; reports the total and that error. */
  | { k: "fill"; h: number; len: number; tag: number }
  /** Reads 64 KiB at a time until a read returns 0 or fails; reports the total and that. */
  | { k: "drain"; h: number }
  | { k: "shutdown"; h: number; how: number }
  | { k: "close"; h: number };

/** The handles an op names (creation outputs excluded). */
export function uses(op: Op): number[] {
  switch (op.k) {
    case "pipe":
    case "socketpair":
    case "dgrampair":
    case "eventfd":
    case "epoll":
    case "wait-closed":
    case "listen":
      return [];
    case "connect":
    case "accept":
      return [op.l];
    case "ctl":
      return [op.ep, op.fd];
    case "wait":
      return [op.ep];
    default:
      return [op.h];
  }
}

type Kind = "pipe-r" | "pipe-w" | "sock" | "dgram" | "eventfd" | "epoll" | "tcp" | "tcp-l";

/** What a generator makes, besides epolls: in-memory objects and, when asked, TCP sockets. */
export interface GenerateOptions {
  /** Also make TCP listeners and connections over loopback (the native backend's sockets). */
  tcp?: boolean;
}

const POLL_BITS = [
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWRNORM,
  EPOLLRDHUP,
  EPOLLPRI,
  EPOLLERR,
  EPOLLHUP,
  EPOLLRDBAND,
  EPOLLWRBAND,
  EPOLLMSG,
];
const STREAM_READS = [0, 1, 2, 3, 7, 10, 100, 1000, 4095, 4096, 4097, 5000, 65536, 100000];
const STREAM_WRITES = [0, 1, 3, 10, 100, 904, 1000, 3000, 4096, 4097, 5000, 10000, 40000, 70000];
const FILL_CHUNKS = [100, 1000, 3000, 4096, 5000, 65536];
/** Datagram sizes around every step of the kernel's truesize and the 212,960-byte limit. */
const DGRAM_WRITES = [
  0,
  0,
  1,
  10,
  100,
  192,
  193,
  704,
  705,
  1000,
  3776,
  3777,
  16064,
  16065,
  40000,
  85696,
  85697,
  150000,
  212960,
  212961,
];
const DGRAM_READS = [0, 1, 2, 10, 100, 192, 1000, 4096, 65536, 300000];
const DGRAM_FILL_CHUNKS = [0, 1, 192, 193, 1000, 5000, 16065, 65536];
/** recv flags: none, MSG_PEEK, MSG_TRUNC, both, MSG_DONTWAIT, MSG_OOB. */
const RECV_FLAGS = [0, 0x2, 0x20, 0x22, 0x40, 0x1];
const EVENTFD_LENS = [0, 4, 7, 8, 8, 8, 8, 8, 9, 16];
const EVENTFD_VALUES = [
  0n,
  1n,
  1n,
  2n,
  3n,
  7n,
  1n << 32n,
  0xffff_ffff_ffff_fffdn,
  0xffff_ffff_ffff_fffen,
  0xffff_ffff_ffff_ffffn,
];
const MAXEVENTS = [1, 1, 2, 3, 4, 8, 64];
/** Bad `maxevents` too (EINVAL, after EBADF), for some waits. */
const ANY_MAXEVENTS = [...MAXEVENTS, 0, -1, 178956971];
/** `EPOLLEXCLUSIVE_OK_BITS`. */
const EXCLUSIVE_OK = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLET | EPOLLEXCLUSIVE;

/**
 * Generates a sequence of `length` ops from `seed` (the same seed gives the
 * same sequence).
 */
export function generate(seed: number, length: number, options: GenerateOptions = {}): Op[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const chance = (p: number) => rnd() < p;
  const live = new Map<number, Kind>();
  let next = 0;
  const ops: Op[] = [];
  const handles = (kinds?: Kind[]) =>
    [...live].filter(([, k]) => kinds === undefined || kinds.includes(k)).map(([h]) => h);
  /** A handle of one of `kinds` most of the time, any handle otherwise. */
  const someHandle = (kinds: Kind[], pAny = 0.1): number | undefined => {
    const of = handles(kinds);
    const any = handles();
    if (any.length === 0) return undefined;
    return of.length > 0 && !chance(pAny) ? pick(of) : pick(any);
  };
  const mask = (op: number): number => {
    let m = 0;
    const n = Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) m |= pick(POLL_BITS);
    if (chance(0.35)) m |= EPOLLET;
    if (chance(0.15)) m |= EPOLLONESHOT;
    if (chance(op === EPOLL_CTL_ADD ? 0.12 : 0.02)) {
      m |= EPOLLEXCLUSIVE;
      // Mostly with the bits EXCLUSIVE allows, so that the ADD succeeds.
      if (chance(0.8)) m &= EXCLUSIVE_OK;
    }
    return m >>> 0;
  };
  /** Interests the generator added and did not delete: `${ep} ${fd}`. */
  const added = new Set<string>();
  const create = () => {
    if (options.tcp && chance(0.5)) {
      const listeners = handles(["tcp-l"]);
      if (listeners.length === 0 || chance(0.1)) {
        ops.push({ k: "listen", out: next });
        live.set(next++, "tcp-l");
      } else {
        const l = pick(listeners);
        ops.push({ k: chance(0.5) ? "connect" : "accept", l, out: next });
        live.set(next++, "tcp");
      }
      return;
    }
    const r = rnd();
    if (r < 0.3) {
      ops.push({ k: "pipe", out: [next, next + 1] });
      live.set(next++, "pipe-r");
      live.set(next++, "pipe-w");
    } else if (r < 0.6) {
      const dgram = chance(0.4);
      ops.push({ k: dgram ? "dgrampair" : "socketpair", out: [next, next + 1] });
      live.set(next++, dgram ? "dgram" : "sock");
      live.set(next++, dgram ? "dgram" : "sock");
    } else if (r < 0.75) {
      const init = pick([0, 0, 1, 5, 0xffffffff]);
      ops.push({ k: "eventfd", out: next, init, flags: chance(0.3) ? EFD_SEMAPHORE : 0 });
      live.set(next++, "eventfd");
    } else {
      ops.push({ k: "epoll", out: next });
      live.set(next++, "epoll");
    }
  };
  while (ops.length < length) {
    const r = rnd();
    if (handles(["epoll"]).length === 0 && chance(0.7)) {
      ops.push({ k: "epoll", out: next });
      live.set(next++, "epoll");
      continue;
    }
    if (live.size < 3 || (r < 0.08 && live.size < 14)) {
      create();
      continue;
    }
    if (r < 0.3) {
      const op = pick([EPOLL_CTL_ADD, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL]);
      const known = [...added].map((k) => k.split(" ").map(Number))
        .filter(([e, f]) => live.has(e) && live.has(f));
      let ep: number, target: number;
      if (op !== EPOLL_CTL_ADD && known.length > 0 && chance(0.85)) {
        [ep, target] = pick(known);
      } else {
        ep = someHandle(["epoll"], 0.03)!;
        target = chance(0.2) ? someHandle(["epoll"])! : someHandle(
          ["pipe-r", "pipe-w", "sock", "dgram", "eventfd", "tcp", "tcp-l"],
          0.05,
        )!;
      }
      if (op === EPOLL_CTL_ADD) added.add(`${ep} ${target}`);
      if (op === EPOLL_CTL_DEL) added.delete(`${ep} ${target}`);
      ops.push({ k: "ctl", ep, op, fd: target, events: mask(op), data: ops.length });
    } else if (r < 0.47) {
      if (chance(0.05)) ops.push({ k: "wait-closed", max: pick(ANY_MAXEVENTS) });
      else {
        const max = chance(0.05) ? pick(ANY_MAXEVENTS) : pick(MAXEVENTS);
        ops.push({ k: "wait", ep: someHandle(["epoll"], 0.03)!, max });
      }
    } else if (r < 0.62) {
      const h = someHandle(["pipe-w", "sock", "dgram", "eventfd", "tcp"])!;
      if (live.get(h) === "dgram") {
        ops.push({ k: "write", h, len: pick(DGRAM_WRITES), tag: ops.length });
      } else if (live.get(h) === "eventfd" || chance(0.03)) {
        ops.push({
          k: "write",
          h,
          len: pick(EVENTFD_LENS),
          tag: ops.length,
          value: pick(EVENTFD_VALUES),
        });
      } else {
        ops.push({ k: "write", h, len: pick(STREAM_WRITES), tag: ops.length });
      }
    } else if (r < 0.76) {
      const h = someHandle(["pipe-r", "sock", "dgram", "eventfd", "tcp"])!;
      const kind = live.get(h);
      if (kind === "dgram" && chance(0.5)) {
        ops.push({ k: "recv", h, len: pick(DGRAM_READS), flags: pick(RECV_FLAGS) });
      } else {
        const len = kind === "eventfd"
          ? pick(EVENTFD_LENS)
          : kind === "dgram"
          ? pick(DGRAM_READS)
          : pick(STREAM_READS);
        ops.push({ k: "read", h, len });
      }
    } else if (r < 0.8) {
      const h = someHandle(["pipe-w", "sock", "dgram", "tcp"])!;
      const len = pick(live.get(h) === "dgram" ? DGRAM_FILL_CHUNKS : FILL_CHUNKS);
      ops.push({ k: "fill", h, len, tag: ops.length });
    } else if (r < 0.84) {
      ops.push({ k: "drain", h: someHandle(["pipe-r", "sock", "dgram", "tcp"])! });
    } else if (r < 0.88) {
      const h = someHandle(["sock", "dgram", "tcp"])!;
      ops.push({ k: "shutdown", h, how: pick([0, 1, 2, 2, 5]) });
    } else if (r < 0.93) {
      const h = pick(handles());
      ops.push({ k: "close", h });
      live.delete(h);
    } else {
      const h = pick(handles());
      ops.push({ k: "dup", h, out: next });
      live.set(next++, live.get(h)!);
    }
  }
  return ops;
}

const CTL_NAMES: Record<number, string> = {
  [EPOLL_CTL_ADD]: "EPOLL_CTL_ADD",
  [EPOLL_CTL_DEL]: "EPOLL_CTL_DEL",
  [EPOLL_CTL_MOD]: "EPOLL_CTL_MOD",
};

/** One op as a line of TypeScript over `mod.ts` (handles live in `h[]`). */
export function opToCode(op: Op): string {
  switch (op.k) {
    case "pipe":
      return `{ const f: number[] = []; pipe(f); [h[${op.out[0]}], h[${op.out[1]}]] = f; }`;
    case "socketpair":
      return `{ const f: number[] = []; socketpair(AF_UNIX, SOCK_STREAM, 0, f); ` +
        `[h[${op.out[0]}], h[${op.out[1]}]] = f; }`;
    case "dgrampair":
      return `{ const f: number[] = []; socketpair(AF_UNIX, SOCK_DGRAM, 0, f); ` +
        `[h[${op.out[0]}], h[${op.out[1]}]] = f; }`;
    case "recv":
      return `recv(h[${op.h}], new Uint8Array(${op.len}), 0x${op.flags.toString(16)});`;
    case "eventfd":
      return `h[${op.out}] = eventfd(${op.init}, ${op.flags});`;
    case "epoll":
      return `h[${op.out}] = epollCreate1(0);`;
    case "listen":
      return `h[${op.out}] = tcpListen(); // socket, TCP_NODELAY, bind 127.0.0.1:0, listen`;
    case "connect":
      return `h[${op.out}] = tcpConnect(h[${op.l}]); // socket, TCP_NODELAY, connect to its port`;
    case "accept":
      return `h[${op.out}] = accept(h[${op.l}]);`;
    case "dup":
      return `h[${op.out}] = dup(h[${op.h}]);`;
    case "ctl":
      return `epollCtl(h[${op.ep}], ${CTL_NAMES[op.op]}, h[${op.fd}], ` +
        `{ events: 0x${op.events.toString(16)}, data: ${op.data} });`;
    case "wait":
      return `await epollWait(h[${op.ep}], events, ${op.max}, 0);`;
    case "wait-closed":
      return `await epollWait(closedFd, events, ${op.max}, 0);`;
    case "read":
      return `read(h[${op.h}], new Uint8Array(${op.len}));`;
    case "write":
      return op.value === undefined
        ? `write(h[${op.h}], new Uint8Array(${op.len}));`
        : `write(h[${op.h}], u64(0x${op.value.toString(16)}n, ${op.len}));`;
    case "fill":
      return `while (write(h[${op.h}], new Uint8Array(${op.len})) >= 0);`;
    case "drain":
      return `while (read(h[${op.h}], new Uint8Array(65536)) > 0);`;
    case "shutdown":
      return `shutdown(h[${op.h}], ${op.how});`;
    case "close":
      return `close(h[${op.h}]);`;
  }
}
