/**
 * The model test's steps: `epollCtl` ADD/MOD/DEL with random masks, write,
 * read, shutdown, dup, close and `epollWait` (timeout 0, random
 * `maxevents`), each compared with the model's prediction; a wait as the set
 * of (data, events), and a round-robin check across waits.
 *
 * @module
 */

import {
  close,
  dup,
  EBADF,
  EINVAL,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCtl,
  EPOLLERR,
  EPOLLET,
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
  read,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  shutdown,
  write,
} from "../../mod.ts";
import { EFD_MAX, patternByte, ready, reportable, U64_MAX } from "./_descriptions.ts";
import { Harness } from "./_harness.ts";

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

/** The steps: each makes one call, and checks its result against the model's. */
export class Driver extends Harness {
  #dataSeq = 0;

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
