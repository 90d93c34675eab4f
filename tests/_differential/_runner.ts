/**
 * Runs one differential program on two systems in lockstep and reports the
 * first operation whose observations differ.
 *
 * What is compared, for every op: the return value (`>= 0` or `-errno`),
 * the bytes a read returned, and for `epoll_wait` the whole event list
 * (masks and data) in order: with one thread, Linux fixes the order of the
 * ready list, so order is compared too.
 *
 * Normalisations (what Linux leaves to capacity, and nothing else):
 * 1. fd numbers: programs name objects by handle, and creation and `dup`
 *    are compared as "succeeded" (`>= 0`) or by errno. The kernel's numbers
 *    depend on what Deno itself holds open.
 * 2. Socketpair buffer sizes. Linux charges each skb's `truesize` (the data
 *    plus allocation overhead that depends on kernel build and allocator)
 *    against `SO_SNDBUF`; the library counts bytes. So the runner keeps every
 *    socketpair direction either (a) well inside the room both agree on: the
 *    unread skbs' worst-case truesize stays under a quarter of the send
 *    buffer, where both accept every write whole and both are writable; or
 *    (b) full, after a `fill`: there a fill's byte total is compared only as
 *    "none" or "some", a read of that direction is run as a `drain` (total
 *    likewise), and the direction is back to (a) once drained. A write that
 *    would leave (a) is run as a `fill` of the same chunk size. These
 *    choices depend only on results already compared equal, so both systems
 *    run the same ops. Pipes need no normalisation: the library keeps
 *    Linux's 16 page slots exactly.
 * 3. Stale epoll keys. Linux keys an interest by (file, fd number); after
 *    that fd is closed while a dup keeps the file open, whether a later
 *    `epoll_ctl` through another fd of the same file finds the old interest
 *    depends on whether the new fd got the old number. So an `epoll_ctl` on
 *    a description that has such a stale interest in that epoll is skipped
 *    on both systems (the interest itself keeps reporting, and that is
 *    compared).
 * 4. `recv` runs on datagram sockets only (the library's in-memory stream
 *    sockets take no `recv` flags).
 * 5. Datagram socketpairs need no normalisation: the library charges each
 *    datagram the kernel's own `truesize` (measured with `SIOCOUTQ` on
 *    x86-64 Linux 6.18 for every length up to the send buffer; see
 *    `net/pair/dgram_socketpair.ts`), so fill totals, `-EAGAIN` and
 *    `EPOLLOUT` are compared exactly. A kernel with another allocator or
 *    page size would diverge there, and that would be a true finding.
 *
 * @module
 */

import type { Event, Sys } from "./_systems.ts";
import { type Op, opToCode, uses } from "./_program.ts";
import { type Desc, Keys, normalise, type Observation, outs, track } from "./_tracker.ts";

/** A chunk of the drain and of reads run as drains. */
const DRAIN_CHUNK = 65536;
/** Most writes or reads one fill or drain makes. */
const MAX_LOOPS = 100_000;

/** The first difference between two systems running one program. */
export interface Divergence {
  /** Index in the program of the op that differed. */
  index: number;
  op: Op;
  a: { name: string; saw: Observation };
  b: { name: string; saw: Observation };
  /** Indices of the ops that ran (the others were skipped), up to the divergence. */
  ran: number[];
}

function pattern(len: number, tag: number, value?: bigint): Uint8Array {
  const buf = new Uint8Array(len);
  for (let i = 0; i < len; i++) buf[i] = (i * 31 + tag * 7 + (i >>> 8)) & 0xff;
  if (value !== undefined && len >= 8) new DataView(buf.buffer).setBigUint64(0, value, true);
  return buf;
}

/** Per-system state of a run: handle -> fd. */
class Side {
  readonly fds = new Map<number, number>();
  /** The fd the last close freed, while no call has taken a new fd since; else -1. */
  closedFd = -1;
  constructor(readonly sys: Sys) {}
}

/** Counts of all runs so far, for reports: operations executed (skipped ones excluded). */
export const stats = { ops: 0 };

/**
 * Runs `program` on `a` and `b`, comparing after every op; closes every fd
 * it opened before returning.
 *
 * @returns The first divergence, or `null` when the systems agree.
 */
export async function run(program: Op[], a: Sys, b: Sys): Promise<Divergence | null> {
  const sides = [new Side(a), new Side(b)];
  const descs = new Map<number, Desc>();
  const keys = new Keys();
  const ran: number[] = [];
  /** Handles of TCP connections (settled after every op). */
  const tcp = new Set<number>();
  try {
    for (let index = 0; index < program.length; index++) {
      let op = program[index];
      // Ops that name a handle which was never created (shrunk away) are skipped.
      if (uses(op).some((h) => !descs.has(h))) continue;
      if (op.k === "ctl" && keys.isStale(descs.get(op.ep)!, descs.get(op.fd)!)) continue;
      op = normalise(op, descs);
      stats.ops++;
      ran.push(index);
      const seen: Observation[] = [];
      for (const side of sides) seen.push(await apply(op, side, descs));
      if (tcp.size > 0) {
        // Both systems' TCP sockets quiet before anything is compared again.
        for (const side of sides) {
          await side.sys.settle([...tcp].map((h) => side.fds.get(h)!).filter((f) => f >= 0));
        }
      }
      const [sa, sb] = seen.map((s) => JSON.stringify(s));
      if (sa !== sb) {
        return {
          index,
          op: program[index],
          a: { name: a.name, saw: seen[0] },
          b: { name: b.name, saw: seen[1] },
          ran,
        };
      }
      keys.track(op, seen[0], descs);
      track(op, seen[0], descs);
      for (const h of outs(op)) if (descs.get(h)?.kind === "tcp") tcp.add(h);
      if (op.k === "close") tcp.delete(op.h);
    }
    return null;
  } finally {
    for (const side of sides) for (const fd of side.fds.values()) side.sys.close(fd);
  }
}

/** Runs one op on one system and returns what it showed. */
async function apply(op: Op, side: Side, descs: Map<number, Desc>): Promise<Observation> {
  const { sys, fds } = side;
  const fd = (h: number) => fds.get(h)!;
  if (outs(op).length > 0) side.closedFd = -1; // the freed number may be taken again
  switch (op.k) {
    case "pipe":
    case "socketpair":
    case "dgrampair": {
      const f: number[] = [];
      const r = op.k === "pipe"
        ? sys.pipe(f)
        : op.k === "socketpair"
        ? sys.socketpair(f)
        : sys.dgramSocketpair(f);
      if (r < 0) return r;
      fds.set(op.out[0], f[0]);
      fds.set(op.out[1], f[1]);
      return "ok";
    }
    case "eventfd":
    case "epoll":
    case "dup": {
      const r = op.k === "eventfd"
        ? sys.eventfd(op.init, op.flags)
        : op.k === "epoll"
        ? sys.epollCreate()
        : sys.dup(fd(op.h));
      if (r < 0) return r;
      fds.set(op.out, r);
      return "ok";
    }
    case "listen":
    case "accept": {
      const r = op.k === "listen" ? sys.listen() : sys.accept(fd(op.l));
      if (r < 0) return r;
      fds.set(op.out, r);
      return "ok";
    }
    case "connect": {
      const [s, r] = sys.connect(fd(op.l));
      if (s < 0) return s;
      fds.set(op.out, s);
      return ["ok", r];
    }
    case "ctl":
      return sys.epollCtl(fd(op.ep), op.op, fd(op.fd), op.events, op.data);
    case "wait":
    case "wait-closed": {
      const r = await sys.epollWait(op.k === "wait" ? fd(op.ep) : side.closedFd, op.max);
      return typeof r === "number" ? r : r.map((e: Event) => [e.events >>> 0, e.data]);
    }
    case "read": {
      const buf = new Uint8Array(op.len);
      const r = sys.read(fd(op.h), buf);
      return r > 0 ? [r, Array.from(buf.subarray(0, r)).join(",")] : r;
    }
    case "recv": {
      const buf = new Uint8Array(op.len);
      const r = sys.recv(fd(op.h), buf, op.flags);
      return r > 0 ? [r, Array.from(buf.subarray(0, Math.min(r, op.len))).join(",")] : r;
    }
    case "write":
      return sys.write(fd(op.h), pattern(op.len, op.tag, op.value));
    case "fill": {
      const buf = pattern(op.len, op.tag);
      let total = 0, r = 0;
      for (let i = 0; i < MAX_LOOPS && (r = sys.write(fd(op.h), buf)) >= 0; i++) total += r;
      const d = descs.get(op.h)!;
      // A full TCP direction takes a little more as ACKs free send space:
      // whether it took any is the timing's, not the kernel's rules.
      if (d.kind === "tcp" && d.peer?.rx?.full) return ["full", r];
      return [d.kind !== "other" && total > 0 ? "some" : total, r];
    }
    case "drain": {
      const buf = new Uint8Array(DRAIN_CHUNK);
      let total = 0, r = 0;
      for (let i = 0; i < MAX_LOOPS && (r = sys.read(fd(op.h), buf)) > 0; i++) total += r;
      const d = descs.get(op.h)!;
      const full = d.rx?.full === true;
      if (full && d.kind === "tcp") {
        // The window the drain opened lets the peer send what it still
        // holds: drained means that has arrived and been read too.
        for (let k = 0; k < 100; k++) {
          await sys.settle([...fds.values()].filter((f) => f >= 0));
          let more = 0;
          for (let i = 0; i < MAX_LOOPS && (r = sys.read(fd(op.h), buf)) > 0; i++) more += r;
          total += more;
          if (more === 0) break;
        }
      }
      return [full && total > 0 ? "some" : total, r];
    }
    case "shutdown":
      return sys.shutdown(fd(op.h), op.how);
    case "close": {
      const r = sys.close(fd(op.h));
      if (r === 0) side.closedFd = fd(op.h);
      fds.delete(op.h);
      return r;
    }
  }
}

/**
 * Prints `program` as TypeScript over `mod.ts`: the ops that ran, when a
 * divergence tells which, else those that name only handles made before.
 */
export function programToCode(program: Op[], divergence?: Divergence): string {
  const made = new Set<number>();
  const ran = divergence ? new Set(divergence.ran) : undefined;
  const closedFds = program.some((op) => op.k === "wait-closed");
  const lines = [
    "const h: number[] = [];",
    "const events: EpollEvent[] = [];",
    ...(closedFds ? ["let closedFd = -1; // the fd the last close freed, until a new fd"] : []),
  ];
  program.forEach((op, i) => {
    if (ran ? !ran.has(i) : uses(op).some((h) => !made.has(h))) return;
    for (const h of outs(op)) made.add(h);
    if (op.k === "close") made.delete(op.h);
    let line = opToCode(op);
    if (closedFds) {
      if (op.k === "close") line = `closedFd = h[${op.h}]; ${line}`;
      else if (outs(op).length > 0) line += " closedFd = -1;";
    }
    if (divergence?.index === i) {
      line += ` // ${divergence.a.name}: ${JSON.stringify(divergence.a.saw)}` +
        ` ${divergence.b.name}: ${JSON.stringify(divergence.b.saw)}`;
    }
    lines.push(line);
  });
  return lines.join("\n");
}
