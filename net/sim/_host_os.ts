/**
 * A host's system calls: every SPEC.md call bound to one simulated host.
 *
 * Until the runtime is instantiable (one kernel object per descriptor
 * table and clock), this binding keeps a host-local descriptor table over
 * the process table: a host fd names a process fd, numbers are the host's
 * own (lowest free first), and every call translates them. Waits run on
 * virtual time: a timeout is an event of the simulation's queue that
 * interrupts the process-level wait, which itself never sleeps on a real
 * timer. This file is the seam to swap for a kernel bound per host.
 *
 * @module
 */

import {
  EAFNOSUPPORT,
  EBADF,
  EINTR,
  EINVAL,
  EMFILE,
  ENOSYS,
  EPROTONOSUPPORT,
} from "../../runtime/core/errno.ts";
import {
  AF_INET,
  AF_INET6,
  EVFILT_READ,
  EVFILT_WRITE,
  IPPROTO_TCP,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "../../runtime/core/constants.ts";
import * as core from "../../runtime/core/fd_table.ts";
import { FreeList } from "../../runtime/core/_free_list.ts";
import * as ep from "../../runtime/epoll/epoll.ts";
import type { EpollEvent, Timespec } from "../../runtime/epoll/epoll.ts";
import * as kq from "../../runtime/kqueue/kevent.ts";
import type { KEvent } from "../../runtime/kqueue/kevent.ts";
import { pipe as pipeGlobal } from "../../runtime/memory/pipe.ts";
import { eventfd as eventfdGlobal } from "../../runtime/memory/eventfd.ts";
import { socketpair as socketpairGlobal } from "../pair/socketpair.ts";
import * as sc from "../socket_calls.ts";
import type { SockAddr } from "../sockaddr.ts";
import { SimHostDown } from "./errors.ts";
import { SimSocket } from "./socket.ts";
import type { SimHost } from "./host.ts";

/** Host-local numbering over process fds. */
class HostFds {
  readonly free = new FreeList();
  next = 0;
  limit = 1_048_576;
  readonly back = new Map<number, number>();
}

const fdsOf = new WeakMap<SimHost, HostFds>();

function fds(h: SimHost): HostFds {
  let f = fdsOf.get(h);
  if (f === undefined || (h.table.size === 0 && f.back.size !== 0)) {
    f = new HostFds();
    fdsOf.set(h, f);
  }
  return f;
}

function ts(t: Timespec | null | undefined): number {
  return t === null || t === undefined ? -1 : t.sec * 1000 + t.nsec / 1e6;
}

/**
 * The system calls of one simulated host's program (`host.os`). Every
 * descriptor number is the host's own; every wait runs on virtual time.
 */
export class SimOs {
  readonly #h: SimHost;
  readonly #gen: number;

  constructor(host: SimHost, gen: number) {
    this.#h = host;
    this.#gen = gen;
  }

  /** The host's name. */
  get hostname(): string {
    return this.#h.name;
  }

  #enter(): void {
    if (this.#h.gen !== this.#gen) throw new SimHostDown(this.#h.name);
    this.#h.net.activity++;
  }

  #trace(call: string, r: number | string): void {
    this.#h.net.note(this.#h.name, "call", `${call} = ${r}`);
  }

  /** The process fd behind a host fd, or -1. */
  #g(fd: number): number {
    core.requireNumber(fd, "fd");
    return this.#h.table.get(fd) ?? -1;
  }

  /** Gives a new process fd a host number (or closes it on EMFILE). */
  #install(g: number): number {
    if (g < 0) return g;
    const f = fds(this.#h);
    let fd: number;
    if (f.free.size > 0) fd = f.free.pop();
    else fd = f.next++;
    if (fd >= f.limit) {
      core.close(g);
      if (fd === f.next - 1) f.next--;
      else f.free.push(fd);
      return -EMFILE;
    }
    this.#h.table.set(fd, g);
    f.back.set(g, fd);
    return fd;
  }

  #call(name: string, fd: number, fn: (g: number) => number, makesFd = false): number {
    this.#enter();
    const g = this.#g(fd);
    let r = g < 0 ? -EBADF : fn(g);
    if (makesFd) r = this.#install(r);
    this.#trace(`${name}(${fd})`, r);
    return r;
  }

  // ---- Descriptors ----------------------------------------------------------

  close(fd: number): number {
    this.#enter();
    const g = this.#g(fd);
    if (g < 0) return -EBADF;
    const f = fds(this.#h);
    this.#h.table.delete(fd);
    f.back.delete(g);
    f.free.push(fd);
    const r = core.close(g);
    this.#trace(`close(${fd})`, r);
    return r;
  }

  dup(fd: number): number {
    return this.#call("dup", fd, core.dup, true);
  }

  read(fd: number, buf: Uint8Array): number {
    return this.#call("read", fd, (g) => core.read(g, buf));
  }

  write(fd: number, buf: Uint8Array): number {
    return this.#call("write", fd, (g) => core.write(g, buf));
  }

  getDescriptorLimit(): number {
    return fds(this.#h).limit;
  }

  setDescriptorLimit(n: number): number {
    this.#enter();
    if (!Number.isInteger(n) || n < 1) return -EINVAL;
    for (const fd of this.#h.table.keys()) if (fd >= n) return -EINVAL;
    fds(this.#h).limit = n;
    return 0;
  }

  pipe(out: number[]): number {
    return this.#pair("pipe", (o) => pipeGlobal(o), out);
  }

  socketpair(domain: number, type: number, protocol: number, out: number[]): number {
    return this.#pair("socketpair", (o) => socketpairGlobal(domain, type, protocol, o), out);
  }

  #pair(name: string, fn: (o: number[]) => number, out: number[]): number {
    this.#enter();
    const o: number[] = [];
    const r = fn(o);
    if (r < 0) return r;
    const a = this.#install(o[0]);
    const b = this.#install(o[1]);
    if (a < 0 || b < 0) {
      if (a >= 0) this.close(a);
      if (b >= 0) this.close(b);
      return -EMFILE;
    }
    out[0] = a;
    out[1] = b;
    this.#trace(`${name}()`, `${a},${b}`);
    return 0;
  }

  eventfd(initval: number, flags: number): number {
    this.#enter();
    return this.#install(eventfdGlobal(initval, flags));
  }

  // ---- Sockets --------------------------------------------------------------

  socket(domain: number, type: number, protocol: number): number {
    this.#enter();
    core.requireNumber(domain, "domain");
    core.requireNumber(type, "type");
    core.requireNumber(protocol, "protocol");
    let r: number;
    if (domain !== AF_INET && domain !== AF_INET6) r = -EAFNOSUPPORT;
    else if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== SOCK_STREAM) r = -EPROTONOSUPPORT;
    else if (protocol !== 0 && protocol !== IPPROTO_TCP) r = -EPROTONOSUPPORT;
    else r = this.#install(core.installDescription(new SimSocket(this.#h.stack, domain)));
    this.#trace(`socket(${domain})`, r);
    return r;
  }

  bind(fd: number, addr: SockAddr): number {
    return this.#call("bind", fd, (g) => sc.bind(g, addr));
  }

  listen(fd: number, backlog: number): number {
    return this.#call("listen", fd, (g) => sc.listen(g, backlog));
  }

  accept4(fd: number, flags: number): number {
    return this.#call("accept4", fd, (g) => sc.accept4(g, flags), true);
  }

  accept(fd: number): number {
    return this.accept4(fd, 0);
  }

  connect(fd: number, addr: SockAddr): number {
    return this.#call("connect", fd, (g) => sc.connect(g, addr));
  }

  shutdown(fd: number, how: number): number {
    return this.#call("shutdown", fd, (g) => sc.shutdown(g, how));
  }

  getsockname(fd: number, out: SockAddr): number {
    return this.#call("getsockname", fd, (g) => sc.getsockname(g, out));
  }

  getpeername(fd: number, out: SockAddr): number {
    return this.#call("getpeername", fd, (g) => sc.getpeername(g, out));
  }

  getsockopt(fd: number, level: number, name: number): number {
    return this.#call("getsockopt", fd, (g) => sc.getsockopt(g, level, name));
  }

  setsockopt(fd: number, level: number, name: number, value: number): number {
    return this.#call("setsockopt", fd, (g) => sc.setsockopt(g, level, name, value));
  }

  // ---- epoll ----------------------------------------------------------------

  epollCreate1(flags: number): number {
    this.#enter();
    return this.#install(ep.epollCreate1(flags));
  }

  epollCreate(size: number): number {
    this.#enter();
    return this.#install(ep.epollCreate(size));
  }

  epollCtl(epfd: number, op: number, fd: number, event?: EpollEvent | null): number {
    this.#enter();
    const e = this.#g(epfd), g = this.#g(fd);
    const r = e < 0 || g < 0 ? -EBADF : ep.epollCtl(e, op, g, event);
    this.#trace(`epollCtl(${epfd}, ${op}, ${fd}, ${event?.events ?? 0})`, r);
    return r;
  }

  epollWait(
    epfd: number,
    events: EpollEvent[],
    maxevents: number,
    timeoutMs: number,
  ): Promise<number> {
    this.#enter();
    core.requireNumber(timeoutMs, "timeoutMs");
    if (Number.isNaN(timeoutMs)) return Promise.resolve(-EINVAL);
    const t = timeoutMs < 0 || timeoutMs === Infinity ? -1 : Math.ceil(timeoutMs);
    return this.#epoll(`epollWait(${epfd}, ${timeoutMs})`, epfd, events, maxevents, t, undefined);
  }

  epollPwait2(
    epfd: number,
    events: EpollEvent[],
    maxevents: number,
    timeout: Timespec | null,
    signal?: AbortSignal,
  ): Promise<number> {
    this.#enter();
    const ms = ts(timeout);
    return this.#epoll(`epollPwait2(${epfd}, ${ms})`, epfd, events, maxevents, ms, signal);
  }

  #epoll(
    label: string,
    epfd: number,
    events: EpollEvent[],
    maxevents: number,
    ms: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const e = this.#g(epfd);
    const now = (n: number) =>
      ep.epollPwait2(e < 0 ? 0x7fffffff : e, events, n, { sec: 0, nsec: 0 });
    if (e < 0) return this.#done(label, Promise.resolve(-EBADF));
    if (ms === 0) return this.#done(label, now(maxevents));
    return this.#wait(
      label,
      ms,
      signal,
      (s) => ep.epollPwait2(e, events, maxevents, null, s),
      () => now(maxevents),
    );
  }

  // ---- kqueue ---------------------------------------------------------------

  kqueue(): number {
    this.#enter();
    return this.#install(kq.kqueue());
  }

  kevent(
    kqfd: number,
    changelist: KEvent[],
    eventlist: KEvent[],
    nevents: number,
    timeout: Timespec | null,
    signal?: AbortSignal,
  ): Promise<number> {
    this.#enter();
    const k = this.#g(kqfd);
    const label = `kevent(${kqfd}, ${changelist.length}, ${nevents})`;
    if (k < 0) return this.#done(label, Promise.resolve(-EBADF));
    const isFdFilter = (f: number) => f === EVFILT_READ || f === EVFILT_WRITE;
    const changes = changelist.map((c) =>
      isFdFilter(c.filter) ? { ...c, ident: this.#h.table.get(c.ident) ?? 0x7fffffff } : c
    );
    const back = (n: number) => {
      const f = fds(this.#h);
      for (let i = 0; i < n; i++) {
        const ev = eventlist[i];
        if (isFdFilter(ev.filter)) ev.ident = f.back.get(ev.ident) ?? ev.ident;
      }
      return n;
    };
    const zero = { sec: 0, nsec: 0 };
    const first = kq.kevent(k, changes, eventlist, nevents, zero).then(back);
    const ms = ts(timeout);
    return first.then((n) => {
      if (n !== 0 || ms === 0 || nevents === 0) return this.#done(label, Promise.resolve(n));
      return this.#wait(
        label,
        ms,
        signal,
        (s) => kq.kevent(k, [], eventlist, nevents, null, s).then(back),
        () => kq.kevent(k, [], eventlist, nevents, zero).then(back),
      );
    });
  }

  // ---- Timers and time ------------------------------------------------------

  /** `timerfd` on virtual time is not available yet in the simulation. */
  timerfdCreate(_clockid: number, _flags: number): number {
    this.#enter();
    return -ENOSYS;
  }

  /** Virtual milliseconds since the simulation started. */
  now(): number {
    return this.#h.net.now();
  }

  /** Resolves after `ms` virtual milliseconds; rejects with `signal.reason` when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.#enter();
    const label = `sleep(${ms})`;
    return this.#wait(label, Math.max(0, ms), signal, (s) =>
      new Promise<number>((resolve) => {
        s.addEventListener("abort", () => resolve(-EINTR), { once: true });
      }), () => Promise.resolve(0)).then((r) => {
        if (r === -EINTR) throw signal?.reason ?? new DOMException("aborted", "AbortError");
      });
  }

  /** A float in [0, 1) from the host's seeded stream. */
  random(): number {
    this.#enter();
    return this.#h.prng.float();
  }

  /** The first address of a host name (the sim's DNS), or `null`. */
  resolve(name: string): string | null {
    this.#enter();
    return this.#h.net.resolve(name);
  }

  // ---- Waiting --------------------------------------------------------------

  /** Traces a result and holds it while the host is paused. */
  async #done(label: string, p: Promise<number>): Promise<number> {
    const r = await p;
    return await this.#finish(label, r);
  }

  async #finish(label: string, r: number): Promise<number> {
    const gate = this.#h.gate();
    if (gate !== undefined) await gate;
    if (this.#h.gen !== this.#gen) return new Promise<number>(() => {}); // killed: never returns
    this.#h.net.activity++;
    this.#trace(label, r);
    return r;
  }

  /**
   * A wait on virtual time: `start` waits with an abort signal that a
   * simulation event aborts at the deadline (`ms` < 0: never); on that
   * timeout `again` harvests once more, as Linux does at expiry.
   */
  async #wait(
    label: string,
    ms: number,
    user: AbortSignal | undefined,
    start: (signal: AbortSignal) => Promise<number>,
    again: () => Promise<number>,
  ): Promise<number> {
    const h = this.#h;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = ms < 0 ? undefined : h.net.after(ms, () => {
      timedOut = true;
      h.net.pokes++;
      ctrl.abort();
    });
    const onUser = () => ctrl.abort();
    if (user?.aborted) ctrl.abort();
    user?.addEventListener("abort", onUser, { once: true });
    const entry = `${label} (since ${h.net.now()} ms)`;
    h.waits.add(entry);
    h.track(ctrl);
    let r: number;
    try {
      r = await start(ctrl.signal);
    } finally {
      h.net.cancel(timer);
      h.waits.delete(entry);
      h.untrack(ctrl);
      user?.removeEventListener("abort", onUser);
    }
    if (h.gen !== this.#gen) return new Promise<number>(() => {}); // killed: never returns
    if (r === -EINTR && timedOut && !user?.aborted) r = await again();
    return await this.#finish(label, r);
  }
}
