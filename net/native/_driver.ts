/**
 * The native driver: one kernel epoll per process holding every native
 * socket edge-triggered (`IN|OUT|RDHUP|PRI`), and the {@linkcode Poller}
 * that turns its events into readiness on the sockets' descriptions
 * (mio's model: the kernel says when readiness rises, a would-block result
 * clears the cached bit; the userspace ready list stays the fairness
 * authority).
 *
 * Driving, without blocking the JS thread:
 * - `pollNow` (before every harvest of a userspace epoll): one synchronous
 *   `epoll_wait` with a zero timeout.
 * - While a task sleeps in a wait: first a short spin (at most
 *   `DEFAULT_SPIN_US`) of zero-timeout polls with `sched_yield()` between
 *   them, only while spinning or a quickly-returning park has recently paid
 *   off (so an idle or in-process-only program does not spin), then a
 *   park: an `epoll_wait` declared `nonblocking` (a worker thread) with a
 *   bounded timeout. An eventfd in the set wakes the park when the last
 *   sleeper leaves for another reason (an in-memory write, a timer, a Deno
 *   socket); that sleeper awaits the parked call's return, so no FFI
 *   operation outlives the waits that needed it.
 *
 * @module
 */

import type { Libc, NativeEvent } from "./libc.ts";
import { type Poller, registerPoller } from "../../runtime/core/poller.ts";
import { loopTurn } from "../../runtime/core/_loop_turn.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
} from "../../runtime/core/constants.ts";

/** What every native socket is registered for. */
export const DRIVER_EVENTS = (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND |
  EPOLLWRNORM | EPOLLWRBAND | EPOLLRDHUP | EPOLLET) >>> 0;

/** Something the driver delivers kernel readiness to. */
export interface DriverTarget {
  /** The kernel's readiness at harvest time (exact for the registered bits). */
  kernelEvents(events: number): void;
}

/** Longest a parked wait lasts before it re-parks (so a lost wake-up costs at most this). */
const PARK_MS = 500;
/** Events taken per `epoll_wait`. */
const BATCH = 256;
/**
 * Longest spin (zero-timeout polls with `sched_yield()` between them) before
 * parking, in microseconds. Chosen by measurement (bench/README.md, "native
 * wake-up strategy"); `DENO_EPOLL_NATIVE_SPIN_US` overrides it (0: always
 * park at once) when the program may read the environment.
 */
const DEFAULT_SPIN_US = 50;

function spinBudgetUs(): number {
  try {
    const name = "DENO_EPOLL_NATIVE_SPIN_US";
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return DEFAULT_SPIN_US;
    }
    const v = Number(Deno.env.get(name) ?? DEFAULT_SPIN_US);
    return Number.isFinite(v) && v >= 0 ? Math.min(v, 10_000) : DEFAULT_SPIN_US;
  } catch {
    return DEFAULT_SPIN_US;
  }
}
/** Token of the wake-up eventfd (socket tokens start at 1). */
const WAKE_TOKEN = 0;

/** The process-wide driver epoll. */
export class Driver implements Poller {
  readonly epfd: number;
  readonly #wakeFd: number;
  readonly #libc: Libc;
  readonly #targets = new Map<number, DriverTarget>();
  #nextToken = 1;
  readonly #events: NativeEvent[] = [];
  readonly #parkEvents: NativeEvent[] = [];
  #sleepers = 0;
  /** Events are being handed to their sockets (see {@linkcode Driver.pollNow}). */
  #delivering = false;
  #parked: Promise<number> | null = null;
  #parkLoop = false;
  #wakePending = false;
  /** Spins that found an event, decayed: spinning continues while it pays. */
  #spinCredit = 0;
  readonly #eight = new Uint8Array(8);
  readonly #spinMs = spinBudgetUs() / 1000;

  constructor(libc: Libc) {
    this.#libc = libc;
    const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw new Error(`epoll_create1 failed: ${-epfd}`);
    const wake = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) {
      libc.close(epfd);
      throw new Error(`eventfd failed: ${-wake}`);
    }
    this.epfd = epfd;
    this.#wakeFd = wake;
    libc.epoll_ctl(epfd, EPOLL_CTL_ADD, wake, EPOLLIN | EPOLLET, WAKE_TOKEN);
    new DataView(this.#eight.buffer).setBigUint64(0, 1n, true);
  }

  /** Number of registered sockets. */
  get size(): number {
    return this.#targets.size;
  }

  /** Registers a kernel fd; returns its token, or `-errno`. */
  add(kfd: number, target: DriverTarget): number {
    const token = this.#nextToken++;
    const r = this.#libc.epoll_ctl(this.epfd, EPOLL_CTL_ADD, kfd, DRIVER_EVENTS, token);
    if (r < 0) return r;
    this.#targets.set(token, target);
    // Tasks already asleep (the first socket joined an epoll they wait on) need the park too.
    this.#startParking();
    return token;
  }

  /** Deregisters before the kernel fd is closed; stale events for the token are dropped. */
  remove(kfd: number, token: number): void {
    if (this.#targets.delete(token)) this.#libc.epoll_ctl(this.epfd, EPOLL_CTL_DEL, kfd, 0, 0);
  }

  pollNow(): void {
    // Not inside a delivery: its watchers may ask for a poll (an epoll
    // queueing an item polls first), and the event buffer is in use.
    if (this.#targets.size === 0 || this.#delivering) return;
    const n = this.#libc.epoll_wait(this.epfd, this.#events, BATCH, 0);
    if (n > 0) this.#deliver(this.#events, n);
  }

  sleepBegin(): void {
    this.#sleepers++;
    this.#startParking();
  }

  #startParking(): void {
    if (!this.#parkLoop && this.#sleepers > 0 && this.#targets.size > 0) {
      this.#parkLoop = true;
      queueMicrotask(() => this.#run());
    }
  }

  sleepEnd(): Promise<void> | undefined {
    if (--this.#sleepers > 0 || this.#parked === null) return undefined;
    // The last sleeper leaves while a wait is parked: wake it and let the
    // caller await its return.
    if (!this.#wakePending) {
      this.#wakePending = true;
      this.#libc.write(this.#wakeFd, this.#eight);
    }
    return this.#parked.then(() => {});
  }

  /** `true` when a spin found events (and the sleepers may have been woken). */
  #spin(): boolean {
    const libc = this.#libc;
    const end = performance.now() + this.#spinMs;
    do {
      const n = libc.epoll_wait(this.epfd, this.#events, BATCH, 0);
      if (n > 0) {
        this.#deliver(this.#events, n);
        return true;
      }
      libc.sched_yield();
    } while (performance.now() < end);
    return false;
  }

  async #run(): Promise<void> {
    try {
      while (this.#sleepers > 0 && this.#targets.size > 0) {
        if (this.#spinCredit > 0 && this.#spinMs > 0) {
          const hit = this.#spin();
          this.#spinCredit = hit ? Math.min(this.#spinCredit + 1, 8) : this.#spinCredit - 1;
          if (hit) {
            // Sleepers left (the spin woke others): let the woken tasks and
            // Deno's event loop (timers, Deno I/O, signals) run before
            // spinning again for them.
            if (this.#sleepers > 0) await loopTurn();
            continue;
          }
        }
        const t0 = performance.now();
        this.#parked = this.#libc.epoll_wait_parked(this.epfd, this.#parkEvents, BATCH, PARK_MS);
        const n = await this.#parked;
        this.#parked = null;
        if (n > 0) {
          // A park that ended quickly on a socket event: a short spin would have caught it.
          if (performance.now() - t0 < 1) this.#spinCredit = Math.min(this.#spinCredit + 2, 8);
          this.#deliver(this.#parkEvents, n);
        }
      }
    } finally {
      this.#parkLoop = false;
      this.#parked = null;
    }
  }

  #deliver(events: NativeEvent[], n: number): void {
    this.#delivering = true;
    try {
      this.#deliverAll(events, n);
    } finally {
      this.#delivering = false;
    }
  }

  #deliverAll(events: NativeEvent[], n: number): void {
    for (let i = 0; i < n; i++) {
      const ev = events[i];
      if (ev.data === WAKE_TOKEN) {
        this.#libc.read(this.#wakeFd, this.#eight);
        new DataView(this.#eight.buffer).setBigUint64(0, 1n, true);
        this.#wakePending = false;
        continue;
      }
      this.#targets.get(ev.data)?.kernelEvents(ev.events);
    }
  }
}

let driver: Driver | undefined;

/**
 * The process-wide driver (created on first use), registered as a poller
 * of the current kernel: the waits of every kernel that makes native
 * sockets drive it (registering again is a no-op).
 */
export function getDriver(libc: Libc): Driver {
  driver ??= new Driver(libc);
  registerPoller(driver);
  return driver;
}
