/**
 * Model-based test of readiness and epoll delivery.
 *
 * A small reference model of Linux (written from `fs/pipe.c`, `net/unix/af_unix.c`,
 * `fs/eventfd.c` and `fs/eventpoll.c`, not from this library) runs side by side with the
 * real calls. A seeded random driver works on a few pipes, socketpairs, one eventfd and
 * 2-3 epolls: `epollCtl` ADD/MOD/DEL with random masks, write, read, shutdown, dup, close
 * and `epollWait` (timeout 0, random `maxevents`). After every step the result of the call
 * is compared with the model's prediction; for every wait, the set of (data, events).
 *
 * Replay or extend a run: `MODEL_SEED=7 MODEL_STEPS=100000 deno test -A tests/model_test.ts`.
 *
 * The model of delivery, per interest (an epitem keyed by (description, fd)):
 * - `events` is what ADD/MOD asked for, plus EPOLLERR|EPOLLHUP (always reported).
 * - An interest is *reportable* at a wait when it is armed, the description's readiness
 *   intersects `events`, and, for EPOLLET, an edge is pending. The reported bits are
 *   `readiness & events`, recomputed at the wait (stale readiness is dropped silently).
 * - An edge becomes pending on ADD and MOD when the description is ready for `events`
 *   (ep_insert/ep_modify poll the file), and on every *arrival*: a wake-up of the
 *   description whose key is 0 or intersects `events` (ep_poll_callback). Arrivals: every
 *   write (IN on the reader), every eventfd write (IN) and read (OUT), a read that frees
 *   room for a full pipe / a socketpair sender (OUT), shutdown and close (key 0, or
 *   HUP/ERR for pipes).
 * - A report clears the pending edge; EPOLLONESHOT disarms until MOD.
 * - A wait returns min(maxevents, reportable) entries. Which ones is up to the ready
 *   list's order, so waits are compared as sets, and a separate check asserts the
 *   round-robin property: an interest that stays reportable is skipped by fewer
 *   consecutive waits than the epoll had interests when the skipping began (every wait
 *   that skips it moves at least one item from ahead of it to the tail).
 * - Closing the last fd of a description removes its interests everywhere; closing one
 *   of several dups leaves every interest in place (the key's fd number may be stale).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  close,
  dup,
  EAGAIN,
  EBADF,
  ECONNRESET,
  EEXIST,
  EFD_SEMAPHORE,
  EINVAL,
  ENOENT,
  EPIPE,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  epollWait,
  EPOLLWRBAND,
  EPOLLWRNORM,
  errnoName,
  eventfd,
  pipe,
  read,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  shutdown,
  SOCK_STREAM,
  socketpair,
  write,
} from "../mod.ts";
import { mulberry32 } from "./_helpers.ts";
// ---------------------------------------------------------------------------------------
// Linux constants the model needs (fs/pipe.c, net/unix, fs/eventfd.c).

const PAGE_SIZE = 4096; // a pipe slot holds one page
const PIPE_SLOTS = 16; // PIPE_DEF_BUFFERS: writable while a slot is free
const MAX_SKB = 3776 + 32768; // SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ on x86-64
const UNIX_SNDBUF = 212992; // wmem_default: a socketpair end's send buffer
const EFD_MAX = 0xffff_ffff_ffff_fffen; // largest eventfd count
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const FLAG_BITS = EPOLLET | EPOLLONESHOT;

// ---------------------------------------------------------------------------------------
// The model: plain data.

/** One direction of a byte stream; the bytes themselves follow a pattern of the offset. */
interface Stream {
  salt: number;
  written: number;
  read: number;
}
const buffered = (s: Stream) => s.written - s.read;
const patternByte = (s: Stream, offset: number) =>
  (offset * 13 + (offset >>> 8) * 7 + s.salt) & 0xff;

interface Pipe {
  data: Stream;
  /** Bytes in each used page slot, oldest first; where the last one ends in its page. */
  slots: number[];
  lastEnd: number;
  readerOpen: boolean;
  writerOpen: boolean;
  reader: Desc;
  writer: Desc;
}

type Kind = "pipe-r" | "pipe-w" | "sock" | "eventfd" | "epoll";

/** An open file description. */
interface Desc {
  id: number;
  kind: Kind;
  /** The fds referring to it; it is released when the last one closes. */
  fds: Set<number>;
  open: boolean;
  /** Interests (of any epoll) watching it. */
  watchers: Set<Interest>;
  pipe?: Pipe;
  // socketpair end
  rx?: Stream; // bytes the peer sent us
  rxChunks?: number[]; // the unread skbs of rx
  rdShut?: boolean;
  wrShut?: boolean;
  err?: number;
  peer?: Desc;
  // eventfd
  count?: bigint;
  semaphore?: boolean;
  // epoll: interests keyed by `${description id}:${fd}`
  interests?: Map<string, Interest>;
}

interface Interest {
  ep: Desc;
  desc: Desc;
  fd: number;
  /** Requested events | EPOLLERR | EPOLLHUP, plus EPOLLET / EPOLLONESHOT. */
  events: number;
  data: string;
  /** False once an EPOLLONESHOT interest has reported, until MOD. */
  armed: boolean;
  /** An edge arrived (or ADD/MOD found it ready) and has not been reported yet. */
  pending: boolean;
  /** Round-robin check: consecutive waits that skipped it while reportable, and the bound. */
  skips: number;
  skipBound: number;
}

/** Readiness of a description now, as Linux's `poll` methods compute it. */
function readiness(d: Desc): number {
  switch (d.kind) {
    case "pipe-r": { // pipe_poll, FMODE_READ
      const p = d.pipe!;
      return (buffered(p.data) > 0 ? EPOLLIN | EPOLLRDNORM : 0) | (p.writerOpen ? 0 : EPOLLHUP);
    }
    case "pipe-w": { // pipe_poll, FMODE_WRITE
      const p = d.pipe!;
      const full = p.slots.length >= PIPE_SLOTS;
      return (full ? 0 : EPOLLOUT | EPOLLWRNORM) | (p.readerOpen ? 0 : EPOLLERR);
    }
    case "sock": { // unix_poll
      let mask = d.err ? EPOLLERR : 0;
      if (d.rdShut && d.wrShut) mask |= EPOLLHUP;
      if (d.rdShut) mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
      if (buffered(d.rx!) > 0) mask |= EPOLLIN | EPOLLRDNORM;
      // unix_writable: what we sent and the peer has not read is at most sndbuf / 4.
      if (buffered(d.peer!.rx!) * 4 <= UNIX_SNDBUF) mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
      return mask;
    }
    case "eventfd": // eventfd_poll
      return (d.count! > 0n ? EPOLLIN : 0) | (d.count! === U64_MAX ? EPOLLERR : 0) |
        (d.count! < EFD_MAX ? EPOLLOUT : 0);
    case "epoll":
      return 0; // epolls are never watched here (no nesting in this model)
  }
}

/** The bits an interest would report now (0: not ready for it). */
const ready = (it: Interest) => readiness(it.desc) & it.events & ~FLAG_BITS;
const reportable = (it: Interest) =>
  it.armed && ready(it) !== 0 && (!(it.events & EPOLLET) || it.pending);

class Model {
  fds = new Map<number, Desc>();
  /** fds open before the test started (not ours; never reused). */
  foreign = new Set<number>();
  #nextId = 1;

  newDesc(kind: Kind, extra: Partial<Desc> = {}): Desc {
    return { id: this.#nextId++, kind, fds: new Set(), open: true, watchers: new Set(), ...extra };
  }

  lowestFree(): number {
    let fd = 0;
    while (this.fds.has(fd) || this.foreign.has(fd)) fd++;
    return fd;
  }

  install(d: Desc): number {
    const fd = this.lowestFree();
    this.fds.set(fd, d);
    d.fds.add(fd);
    return fd;
  }

  /** A wake-up on `d` with `key` (0: "anything may have changed"). */
  arrive(d: Desc, key: number): void {
    for (const it of d.watchers) {
      if (it.armed && (key === 0 || (key & it.events) !== 0)) it.pending = true;
    }
  }

  close(fd: number): number {
    const d = this.fds.get(fd);
    if (d === undefined) return -EBADF;
    this.fds.delete(fd);
    d.fds.delete(fd);
    if (d.fds.size === 0) this.release(d);
    return 0;
  }

  /** The last fd closed: interests go first (eventpoll_release), then the file's release. */
  release(d: Desc): void {
    d.open = false;
    for (const it of d.watchers) it.ep.interests!.delete(`${d.id}:${it.fd}`);
    d.watchers.clear();
    switch (d.kind) {
      case "pipe-r": // pipe_release wakes the other side
        d.pipe!.readerOpen = false;
        if (d.pipe!.writerOpen) this.arrive(d.pipe!.writer, EPOLLERR);
        break;
      case "pipe-w":
        d.pipe!.writerOpen = false;
        if (d.pipe!.readerOpen) this.arrive(d.pipe!.reader, EPOLLHUP);
        break;
      case "sock": { // unix_release_sock: the peer is shut both ways; unread data resets it
        const peer = d.peer!;
        if (peer.open) {
          peer.rdShut = peer.wrShut = true;
          if (buffered(d.rx!) > 0) peer.err = ECONNRESET;
          this.arrive(peer, 0);
        }
        d.rx!.read = d.rx!.written;
        d.rxChunks!.length = 0;
        break;
      }
      case "epoll":
        for (const it of d.interests!.values()) it.desc.watchers.delete(it);
        d.interests!.clear();
        break;
    }
  }

  epollCtl(epfd: number, op: number, fd: number, events: number, data: string): number {
    const ep = this.fds.get(epfd);
    const target = this.fds.get(fd);
    if (ep === undefined || target === undefined) return -EBADF;
    if (ep === target || ep.kind !== "epoll") return -EINVAL;
    const key = `${target.id}:${fd}`;
    const it = ep.interests!.get(key);
    if (op === EPOLL_CTL_ADD) {
      if (it !== undefined) return -EEXIST;
      const added: Interest = {
        ep,
        desc: target,
        fd,
        events: (events | EPOLLERR | EPOLLHUP) >>> 0,
        data,
        armed: true,
        pending: false,
        skips: 0,
        skipBound: 0,
      };
      added.pending = ready(added) !== 0;
      ep.interests!.set(key, added);
      target.watchers.add(added);
      return 0;
    }
    if (it === undefined) return -ENOENT;
    if (op === EPOLL_CTL_DEL) {
      ep.interests!.delete(key);
      target.watchers.delete(it);
      return 0;
    }
    it.events = (events | EPOLLERR | EPOLLHUP) >>> 0;
    it.data = data;
    it.armed = true;
    it.skips = 0;
    if (ready(it) !== 0) it.pending = true;
    return 0;
  }

  /** Returns the expected count, or the byte pattern's stream for the caller to fill. */
  write(fd: number, len: number): { result: number; stream?: Stream } {
    const d = this.fds.get(fd);
    if (d === undefined) return { result: -EBADF };
    switch (d.kind) {
      case "pipe-r":
        return { result: -EBADF }; // not open for writing
      case "pipe-w": {
        const p = d.pipe!;
        if (len === 0) return { result: 0 }; // "Null write succeeds", even without readers
        if (!p.readerOpen) return { result: -EPIPE };
        // pipe_write: the sub-page remainder merges into the last slot if its page has
        // room, then whole pages go into free slots.
        let n = 0;
        const chars = len % PAGE_SIZE;
        if (chars && p.slots.length > 0 && p.lastEnd + chars <= PAGE_SIZE) {
          p.slots[p.slots.length - 1] += chars;
          p.lastEnd += chars;
          n = chars;
        }
        while (n < len && p.slots.length < PIPE_SLOTS) {
          const take = Math.min(PAGE_SIZE, len - n);
          p.slots.push(take);
          p.lastEnd = take;
          n += take;
        }
        // Readers are woken even when nothing went in ("epoll nonsensically wants a wakeup").
        this.arrive(p.reader, EPOLLIN | EPOLLRDNORM);
        if (n === 0) return { result: -EAGAIN };
        const stream = { ...p.data };
        p.data.written += n;
        return { result: n, stream };
      }
      case "sock": {
        const peer = d.peer!;
        if (d.wrShut || peer.rdShut) return { result: -EPIPE };
        if (len === 0) return { result: 0 };
        const n = Math.min(len, UNIX_SNDBUF - buffered(peer.rx!));
        if (n === 0) return { result: -EAGAIN };
        const stream = { ...peer.rx! };
        peer.rx!.written += n;
        for (let left = n; left > 0; left -= MAX_SKB) peer.rxChunks!.push(Math.min(left, MAX_SKB));
        this.arrive(peer, EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND); // sock_def_readable
        return { result: n, stream };
      }
      default:
        return { result: -EINVAL }; // handled by writeCounter / epoll has no write
    }
  }

  writeCounter(fd: number, value: bigint): number {
    const d = this.fds.get(fd)!;
    if (value === U64_MAX) return -EINVAL;
    if (value > EFD_MAX - d.count!) return -EAGAIN;
    d.count! += value;
    this.arrive(d, EPOLLIN); // every eventfd write wakes, even of 0
    return 8;
  }

  /** Expected result, and for stream reads the offset the bytes start at. */
  read(fd: number, len: number): { result: number; stream?: Stream; value?: bigint } {
    const d = this.fds.get(fd);
    if (d === undefined) return { result: -EBADF };
    switch (d.kind) {
      case "pipe-w":
        return { result: -EBADF }; // not open for reading
      case "pipe-r": {
        const p = d.pipe!;
        if (buffered(p.data) === 0) return { result: p.writerOpen ? -EAGAIN : 0 };
        const n = Math.min(len, buffered(p.data));
        const stream = { ...p.data };
        p.data.read += n;
        // pipe_read: a slot freed while the pipe was full wakes the writer.
        let wake = false;
        for (let left = n; left > 0;) {
          const take = Math.min(left, p.slots[0]);
          left -= take;
          p.slots[0] -= take;
          if (p.slots[0] > 0) break;
          wake ||= p.slots.length >= PIPE_SLOTS;
          p.slots.shift();
        }
        if (wake && p.writerOpen) this.arrive(p.writer, EPOLLOUT | EPOLLWRNORM);
        return { result: n, stream };
      }
      case "sock": {
        const rx = d.rx!;
        if (buffered(rx) === 0) {
          if (d.err) {
            const e = d.err;
            d.err = 0;
            return { result: -e };
          }
          return { result: d.rdShut ? 0 : -EAGAIN };
        }
        const n = Math.min(len, buffered(rx));
        const stream = { ...rx };
        rx.read += n;
        // Each skb read whole is freed: unix_write_space wakes the sender if it is
        // writable then. Reading part of an skb wakes nobody.
        const peer = d.peer!;
        const chunks = d.rxChunks!;
        for (let left = n; left > 0;) {
          const take = Math.min(left, chunks[0]);
          left -= take;
          chunks[0] -= take;
          if (chunks[0] > 0) break;
          chunks.shift();
          const unread = chunks.reduce((a, b) => a + b, 0);
          if (peer.open && unread * 4 <= UNIX_SNDBUF) {
            this.arrive(peer, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
          }
        }
        return { result: n, stream };
      }
      case "eventfd": {
        if (len < 8) return { result: -EINVAL };
        if (d.count === 0n) return { result: -EAGAIN };
        const value = d.semaphore ? 1n : d.count!;
        d.count! -= value;
        this.arrive(d, EPOLLOUT);
        return { result: 8, value };
      }
      case "epoll":
        return { result: -EINVAL };
    }
  }

  shutdown(fd: number, how: number): number {
    const d = this.fds.get(fd)!;
    const rd = how !== SHUT_WR;
    const wr = how !== SHUT_RD;
    // unix_shutdown mirrors each half onto the peer and wakes both (sk_state_change).
    if (rd) d.rdShut = true;
    if (wr) d.wrShut = true;
    const peer = d.peer!;
    if (peer.open) {
      if (rd) peer.wrShut = true;
      if (wr) peer.rdShut = true;
      this.arrive(peer, 0);
    }
    this.arrive(d, 0);
    return 0;
  }
}

// ---------------------------------------------------------------------------------------
// The driver.

const MASK_NAMES: [number, string][] = [
  [EPOLLIN, "IN"],
  [EPOLLPRI, "PRI"],
  [EPOLLOUT, "OUT"],
  [EPOLLERR, "ERR"],
  [EPOLLHUP, "HUP"],
  [EPOLLRDNORM, "RDNORM"],
  [EPOLLRDBAND, "RDBAND"],
  [EPOLLWRNORM, "WRNORM"],
  [EPOLLWRBAND, "WRBAND"],
  [EPOLLRDHUP, "RDHUP"],
  [EPOLLONESHOT, "ONESHOT"],
  [EPOLLET, "ET"],
];
function maskName(m: number): string {
  const names = MASK_NAMES.filter(([bit]) => (m & bit) !== 0).map(([, n]) => n);
  return names.length ? names.join("|") : "0";
}
const OP_NAMES: Record<number, string> = {
  [EPOLL_CTL_ADD]: "ADD",
  [EPOLL_CTL_DEL]: "DEL",
  [EPOLL_CTL_MOD]: "MOD",
};

class Driver {
  readonly rnd: () => number;
  readonly m = new Model();
  readonly log: string[] = [];
  step = 0;
  epollTarget: number;
  readonly events: EpollEvent[] = [];
  /** What the run exercised, to check that the driver does not degenerate. */
  readonly stats: Record<string, number> = {};
  #dataSeq = 0;
  #salt = 0;

  constructor(readonly seed: number) {
    this.rnd = mulberry32(seed);
    this.epollTarget = 2 + (this.rnd() < 0.5 ? 1 : 0);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  count(what: string): void {
    this.stats[what] = (this.stats[what] ?? 0) + 1;
  }

  note(line: string): void {
    this.log.push(`#${this.step} ${line}`);
    if (this.log.length > 40) this.log.splice(0, 20);
  }

  fail(what: string): never {
    assert.fail(
      `model mismatch: seed ${this.seed}, step ${this.step}: ${what}\n` +
        `replay: MODEL_SEED=${this.seed} MODEL_STEPS=${this.step + 1} ` +
        `deno test -A tests/model_test.ts\nlast steps:\n${this.log.slice(-20).join("\n")}`,
    );
  }

  expect(actual: unknown, expected: unknown, what: string): void {
    if (actual !== expected) this.fail(`${what}: got ${actual}, the model expects ${expected}`);
  }

  /** Checks a call's result against the model, and counts the outcome. */
  outcome(op: string, actual: number, expected: number): void {
    this.expect(actual, expected, op);
    this.count(`${op} ${actual < 0 ? errnoName(actual) : "ok"}`);
  }

  // --- choosing fds

  descs(pred: (d: Desc) => boolean): Desc[] {
    const seen = new Set<Desc>();
    for (const d of this.m.fds.values()) if (pred(d)) seen.add(d);
    return [...seen];
  }
  /** An fd with its kind, for the log. */
  fdName(fd: number): string {
    return `${fd}${this.m.fds.has(fd) ? ":" + this.m.fds.get(fd)!.kind : ":closed"}`;
  }
  fdOf(d: Desc): number {
    return this.pick([...d.fds]);
  }
  closedFd(): number {
    return this.m.lowestFree() + this.int(3);
  }
  /** A live fd of the given kinds, sometimes anything at all (closed numbers included). */
  someFd(kinds: Kind[], wild = 0.05): number {
    const pool = [...this.m.fds.entries()].filter(([, d]) => kinds.includes(d.kind));
    if (pool.length === 0 || this.rnd() < wild) {
      return this.rnd() < 0.5 ? this.closedFd() : this.pick([...this.m.fds.keys()]);
    }
    return this.pick(pool)[0];
  }

  randomMask(): number {
    let ev = 0;
    if (this.rnd() < 0.6) ev |= EPOLLIN;
    if (this.rnd() < 0.45) ev |= EPOLLOUT;
    if (this.rnd() < 0.3) ev |= EPOLLRDHUP;
    if (this.rnd() < 0.08) ev |= this.pick([EPOLLPRI, EPOLLRDNORM, EPOLLWRNORM, EPOLLWRBAND]);
    if (this.rnd() < 0.04) ev |= EPOLLHUP;
    if (this.rnd() < 0.4) ev |= EPOLLET;
    if (this.rnd() < 0.25) ev |= EPOLLONESHOT;
    return ev >>> 0;
  }

  writeSize(): number {
    const r = this.rnd();
    if (r < 0.03) return 0;
    if (r < 0.33) return 1 + this.int(200);
    if (r < 0.6) return 1000 + this.int(5000);
    return 8000 + this.int(16000);
  }

  readSize(): number {
    const r = this.rnd();
    if (r < 0.4) return 1 + this.int(100);
    if (r < 0.7) return 100 + this.int(4000);
    return 4000 + this.int(26000);
  }

  /** Whether a description can still carry data both ways (else it is worth recycling). */
  healthy(d: Desc): boolean {
    if (d.kind === "pipe-r" || d.kind === "pipe-w") return d.pipe!.readerOpen && d.pipe!.writerOpen;
    if (d.kind === "sock") return d.peer!.open && !d.rdShut && !d.wrShut;
    return true;
  }

  // --- creating descriptions

  createPipe(): void {
    const fds: number[] = [];
    const res = pipe(fds);
    const p = {
      data: { salt: ++this.#salt, written: 0, read: 0 },
      slots: [] as number[],
      lastEnd: 0,
    } as Pipe;
    p.readerOpen = p.writerOpen = true;
    p.reader = this.m.newDesc("pipe-r", { pipe: p });
    p.writer = this.m.newDesc("pipe-w", { pipe: p });
    const want = [this.m.install(p.reader), this.m.install(p.writer)];
    this.note(`pipe -> ${res} [${fds}]`);
    this.expect(res, 0, "pipe()");
    this.expect(`${fds}`, `${want}`, "pipe() fds");
  }

  createSocketpair(): void {
    const sv: number[] = [];
    const res = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    const end = () =>
      this.m.newDesc("sock", {
        rx: { salt: ++this.#salt, written: 0, read: 0 },
        rxChunks: [],
        rdShut: false,
        wrShut: false,
        err: 0,
      });
    const a = end(), b = end();
    a.peer = b;
    b.peer = a;
    const want = [this.m.install(a), this.m.install(b)];
    this.note(`socketpair -> ${res} [${sv}]`);
    this.expect(res, 0, "socketpair()");
    this.expect(`${sv}`, `${want}`, "socketpair() fds");
  }

  createEventfd(): void {
    const init = this.int(3);
    const semaphore = this.rnd() < 0.5;
    const fd = eventfd(init, semaphore ? EFD_SEMAPHORE : 0);
    const want = this.m.install(this.m.newDesc("eventfd", { count: BigInt(init), semaphore }));
    this.note(`eventfd(${init}, ${semaphore ? "SEMAPHORE" : "0"}) -> ${fd}`);
    this.expect(fd, want, "eventfd()");
  }

  createEpoll(): void {
    const fd = epollCreate1(0);
    const want = this.m.install(this.m.newDesc("epoll", { interests: new Map() }));
    this.note(`epollCreate1 -> ${fd}`);
    this.expect(fd, want, "epollCreate1()");
  }

  /** Keeps a few of each kind alive. */
  replenish(): void {
    const pipes = this.descs((d) => d.kind === "pipe-r" && this.healthy(d));
    if (pipes.length < 3 && this.m.fds.size < 48 && this.rnd() < 0.3) this.createPipe();
    const socks = this.descs((d) => d.kind === "sock" && this.healthy(d));
    if (socks.length < 4 && this.m.fds.size < 48 && this.rnd() < 0.3) this.createSocketpair();
    if (this.descs((d) => d.kind === "eventfd").length === 0 && this.rnd() < 0.3) {
      this.createEventfd();
    }
    while (this.descs((d) => d.kind === "epoll").length < this.epollTarget) this.createEpoll();
  }

  // --- steps

  ctl(): void {
    const eps = this.descs((d) => d.kind === "epoll");
    const ep = this.pick(eps);
    let epfd = this.fdOf(ep);
    if (this.rnd() < 0.04) epfd = this.someFd(["pipe-r", "sock", "eventfd"], 0.5);
    const r = this.rnd();
    let op = r < 0.4 ? EPOLL_CTL_ADD : r < 0.75 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    let fd: number;
    const known = [...ep.interests!.values()];
    if (op !== EPOLL_CTL_ADD && known.length > 0 && this.rnd() < 0.85) {
      fd = this.pick(known).fd; // may be a closed, or reused, fd number
    } else if (this.rnd() < 0.03) {
      fd = this.fdOf(ep); // epfd == fd (or a dup of it): EINVAL
    } else {
      fd = this.someFd(["pipe-r", "pipe-w", "sock", "eventfd"]);
    }
    // No nesting in this model: never add an epoll to another one.
    const target = this.m.fds.get(fd);
    const epDesc = this.m.fds.get(epfd);
    if (
      op === EPOLL_CTL_ADD && target?.kind === "epoll" && epDesc?.kind === "epoll" &&
      target !== epDesc
    ) op = EPOLL_CTL_MOD;
    const events = op === EPOLL_CTL_DEL ? 0 : this.randomMask();
    const data = `d${++this.#dataSeq}`;
    const res = epollCtl(epfd, op, fd, { events, data });
    const want = this.m.epollCtl(epfd, op, fd, events, data);
    this.note(`epollCtl(${epfd}, ${OP_NAMES[op]}, ${fd}, ${maskName(events)} ${data}) -> ${res}`);
    this.outcome(`epollCtl ${OP_NAMES[op]}`, res, want);
  }

  write(): void {
    const fd = this.someFd(["pipe-w", "sock", "eventfd"]);
    const d = this.m.fds.get(fd);
    if (d?.kind === "eventfd") return this.writeCounter(fd);
    const len = this.writeSize();
    const want = this.m.write(fd, len);
    const buf = new Uint8Array(len);
    const s = want.stream;
    if (s !== undefined) { for (let i = 0; i < len; i++) buf[i] = patternByte(s, s.written + i); }
    const res = write(fd, buf);
    this.note(`write(${this.fdName(fd)}, ${len}) -> ${res}`);
    this.outcome("write", res, want.result);
  }

  writeCounter(fd: number): void {
    const r = this.rnd();
    const value = r < 0.1
      ? 0n
      : r < 0.8
      ? BigInt(1 + this.int(3))
      : r < 0.97
      ? EFD_MAX - BigInt(this.int(3))
      : U64_MAX;
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, value, true);
    const res = write(fd, buf);
    const want = this.m.writeCounter(fd, value);
    this.note(`write(${fd}, eventfd +${value}) -> ${res}`);
    this.outcome("eventfd write", res, want);
  }

  read(): void {
    const fd = this.someFd(["pipe-r", "sock", "eventfd"]);
    const kind = this.m.fds.get(fd)?.kind;
    const len = kind === "eventfd" ? (this.rnd() < 0.03 ? 4 : 8) : this.readSize();
    const buf = new Uint8Array(len);
    const name = this.fdName(fd);
    const res = read(fd, buf);
    const want = this.m.read(fd, len);
    this.note(`read(${name}, ${len}) -> ${res}`);
    this.outcome("read", res, want.result);
    const s = want.stream;
    if (s !== undefined) {
      for (let i = 0; i < res; i++) {
        if (buf[i] !== patternByte(s, s.read + i)) {
          this.fail(`read(${fd}): byte ${i} of the stream at offset ${s.read} is wrong`);
        }
      }
    }
    if (want.value !== undefined) {
      this.expect(new DataView(buf.buffer).getBigUint64(0, true), want.value, "eventfd value");
    }
  }

  shutdown(): void {
    const socks = [...this.m.fds.entries()].filter(([, d]) => d.kind === "sock");
    if (socks.length === 0) return;
    const fd = this.pick(socks)[0];
    const how = this.pick([SHUT_RD, SHUT_WR, SHUT_RDWR]);
    const res = shutdown(fd, how);
    const want = this.m.shutdown(fd, how);
    this.note(`shutdown(${fd}, ${["RD", "WR", "RDWR"][how]}) -> ${res}`);
    this.outcome("shutdown", res, want);
  }

  dup(): void {
    if (this.m.fds.size >= 40) return;
    const fd = this.rnd() < 0.03 ? this.closedFd() : this.pick([...this.m.fds.keys()]);
    const res = dup(fd);
    const d = this.m.fds.get(fd);
    const want = d === undefined ? -EBADF : this.m.install(d);
    this.note(`dup(${fd}) -> ${res}`);
    this.outcome("dup", res, want);
  }

  close(): void {
    const r = this.rnd();
    const dead = [...this.m.fds.entries()].filter(([, d]) => !this.healthy(d));
    const fd = r < 0.03
      ? this.closedFd()
      : r < 0.1
      ? this.someFd(["epoll"], 0)
      : r < 0.6 && dead.length > 0
      ? this.pick(dead)[0]
      : this.someFd(["pipe-r", "pipe-w", "sock", "eventfd"], 0);
    const res = close(fd);
    const want = this.m.close(fd);
    this.note(`close(${fd}) -> ${res}`);
    this.outcome("close", res, want);
  }

  async wait(): Promise<void> {
    const ep = this.pick(this.descs((d) => d.kind === "epoll"));
    let epfd = this.fdOf(ep);
    let maxevents = this.pick([1, 1, 1, 2, 2, 3, 4, 8, 64]);
    const r = this.rnd();
    if (r < 0.02) epfd = this.someFd(["pipe-r", "sock", "eventfd"], 0.5);
    else if (r < 0.03) maxevents = this.pick([0, -1]);
    const res = await epollWait(epfd, this.events, maxevents, 0);
    const got = this.events.slice(0, Math.max(res, 0)).map((e) =>
      `${e.data}:${maskName(e.events)}`
    );
    this.note(`epollWait(${epfd}, max ${maxevents}) -> ${res} [${got.join(" ")}]`);

    const target = this.m.fds.get(epfd);
    if (maxevents <= 0) return this.expect(res, -EINVAL, "epollWait");
    if (target === undefined) return this.expect(res, -EBADF, "epollWait");
    if (target.kind !== "epoll") return this.expect(res, -EINVAL, "epollWait");

    const all = [...target.interests!.values()];
    for (const it of all) {
      if ((it.events & EPOLLET) && it.armed && ready(it) !== 0 && !it.pending) {
        this.count("ET ready without a new edge (must stay silent)");
      }
    }
    const candidates = all.filter(reportable);
    const expected = new Map(candidates.map((it) => [it.data, ready(it) >>> 0]));
    const shown = candidates.map((it) => `${it.data}:${maskName(expected.get(it.data)!)}`);
    const n = Math.min(maxevents, candidates.length);
    if (res !== n) {
      this.fail(`epollWait returned ${res}, the model expects ${n} of [${shown.join(" ")}]`);
    }
    const reported = new Set<string>();
    for (let i = 0; i < res; i++) {
      const e = this.events[i];
      const data = e.data as string;
      if (!expected.has(data) || expected.get(data) !== e.events || reported.has(data)) {
        this.fail(
          `epollWait reported ${data}:${maskName(e.events)}; the model allows [${shown.join(" ")}]`,
        );
      }
      reported.add(data);
      const it = candidates.find((c) => c.data === data)!;
      this.count(it.events & EPOLLET ? "report ET" : "report LT");
      if (it.events & EPOLLONESHOT) this.count("report ONESHOT");
      for (const bit of [EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR]) {
        if (e.events & bit) this.count(`report ${maskName(bit)}`);
      }
    }
    if (candidates.length > res) this.count("wait truncated by maxevents");
    // Apply the deliveries, and check round-robin fairness.
    for (const it of all) {
      if (reported.has(it.data)) {
        it.pending = false;
        it.skips = 0;
        if (it.events & EPOLLONESHOT) it.armed = false;
      } else if (expected.has(it.data)) {
        if (it.skips++ === 0) it.skipBound = all.length;
        this.count(`skipped ${it.events & EPOLLET ? "ET" : "LT"} while reportable`);
        if (it.skips >= it.skipBound) {
          this.fail(`${it.data} (fd ${it.fd}) starved: skipped by ${it.skips} waits in a row`);
        }
      } else {
        it.skips = 0;
      }
    }
  }

  async run(steps: number): Promise<void> {
    // fds already open in this process are not ours: find them (dup succeeds) and skip them.
    for (let fd = 0; fd < 64; fd++) {
      const copy = dup(fd);
      if (copy >= 0) {
        this.m.foreign.add(fd);
        close(copy);
      }
    }
    try {
      for (this.step = 0; this.step < steps; this.step++) {
        this.replenish();
        const r = this.rnd();
        if (r < 0.25) this.ctl();
        else if (r < 0.45) this.write();
        else if (r < 0.58) this.read();
        else if (r < 0.6) this.shutdown();
        else if (r < 0.64) this.dup();
        else if (r < 0.7) this.close();
        else await this.wait();
      }
    } finally {
      for (const fd of [...this.m.fds.keys()]) close(fd);
    }
  }
}

function envNumber(name: string): number | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : Number(v);
  } catch {
    return undefined; // no --allow-env
  }
}

const STEPS = envNumber("MODEL_STEPS") ?? 10_000;
const ONE_SEED = envNumber("MODEL_SEED");
const SEEDS = ONE_SEED !== undefined ? [ONE_SEED] : [1, 0xc0ffee, 20250601];

for (const seed of SEEDS) {
  Deno.test(`epoll model: seed ${seed}, ${STEPS} steps`, async () => {
    const driver = new Driver(seed);
    await driver.run(STEPS);
    if (envNumber("MODEL_STATS")) console.log(driver.stats);
  });
}
