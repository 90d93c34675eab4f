/**
 * What the model test's driver keeps besides the model: its seeded choices,
 * the log of recent steps, the checks that report a mismatch with a replay
 * line, and a population of a few pipes, socketpairs, an eventfd and 2-3
 * epolls kept alive.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  EFD_SEMAPHORE,
  epollCreate1,
  EPOLLET,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
  errnoName,
  eventfd,
  pipe,
  SOCK_STREAM,
  socketpair,
} from "../../mod.ts";
import { mulberry32 } from "../_helpers.ts";
import type { Desc, Kind, Pipe } from "./_descriptions.ts";
import { Model } from "./_model.ts";

/** The driver's seeded choices, log, checks and population; `Driver` adds the steps. */
export class Harness {
  readonly rnd: () => number;
  readonly m = new Model();
  readonly log: string[] = [];
  step = 0;
  epollTarget: number;
  readonly events: EpollEvent[] = [];
  /** What the run exercised, to check that the driver does not degenerate. */
  readonly stats: Record<string, number> = {};
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
}
