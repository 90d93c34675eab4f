/**
 * Kernels: the runtime as an object. A {@linkcode Kernel} owns what a
 * process's kernel owns for it: a descriptor table (its fds, numbered from
 * 0, and its limit), a clock and the timer queue on it, the pollers its
 * waits drive, the socket backend its `socket()` uses, and per-kernel
 * state of the layers above ({@linkcode PerKernel}: the kqueue close
 * hooks, the backend choice, a simulated host's ports).
 *
 * **Which kernel a call acts on.** Every module-level call of `mod.ts`
 * (`socket`, `epollWait`, `close`, ...) acts on the *current* kernel:
 * {@linkcode Kernel.default}, the process's, unless the call runs inside
 * {@linkcode Kernel.run}, which makes another kernel current for a function
 * and everything it awaits (`AsyncLocalStorage`, which follows the awaiting
 * continuation, timers and I/O callbacks). This is how a simulated host runs
 * an unchanged server: its `main` runs inside its kernel. Objects of the
 * object layer (`Epoll`, `KQueue`, `Socket`, `Listener`) bind to the kernel
 * current when they are constructed, and `kernelCalls(k)` (in
 * `net/kernel_calls.ts`) gives every call bound to `k` as one object.
 *
 * **What it costs outside a simulation.** While no kernel but the default
 * one exists, finding the current kernel is a module-level counter test:
 * no `AsyncLocalStorage` lookup. The counter goes up when a kernel is
 * constructed and down when it is garbage-collected (not at shutdown: code
 * of a shut-down kernel may still be running, and must still find its own,
 * dead, kernel rather than the process's).
 *
 * **Shutdown** ({@linkcode Kernel.shutdown}, a simulated host's kill or
 * crash) tears down exactly one kernel, in this order:
 * 1. pending waits end: each one's promise is *never settled*; it is
 *    released instead (its timeout leaves the timer queue, its abort
 *    listener is removed, its pollers hear that it stopped sleeping, the
 *    instance it held is let go), so the program stops where it waited, as
 *    a killed process does, without running its error paths, and nothing
 *    it held stays pending (no op, no timer);
 * 2. every timer armed so far is cancelled (timerfds, `EVFILT_TIMER`,
 *    internal timers);
 * 3. every fd is closed, lowest first, exactly as `close()` would (sockets
 *    send FIN, or RST where data was unread, as their backend does). What
 *    a close itself starts runs on (a socket lingering to deliver its last
 *    bytes, with its time limit), as a kernel finishes its work for a
 *    killed process.
 * Afterwards the kernel stays dead: a wait that was under way never
 * settles (one that was waking up stops before it returns), new
 * descriptors fail with `-EMFILE`, old fd numbers with `-EBADF`.
 *
 * **The seam for a simulated network** (`net/sim/`), piece by piece:
 * - a host is `new Kernel({ name, clock, loopTurns })`: the network's
 *   virtual clock (its `alarm()` calls tell the network each host's next
 *   deadline; time advances to the earliest when nothing can run) and a
 *   fairness policy that yields to the network's scheduler
 *   deterministically instead of by the real clock (`_loop_turn.ts`);
 * - its sockets: the network's backend (a `SocketBackend` making
 *   `SocketDescription`s, `net/socket_state.ts`) registered once with
 *   `registerSocketBackend` and chosen in each host with
 *   `host.run(() => setSocketBackend(name))`; `create()` runs inside the
 *   host's kernel, so `currentKernel()` names the host, and per-host state
 *   (ports, connections) lives in a {@linkcode PerKernel};
 * - its program: `host.run(() => main(os))` with `os = kernelCalls(host)`
 *   plus the network's own `now`/`sleep`/`random`/`resolve`;
 * - knowing when a host is blocked: a poller registered in it
 *   (`host.run(() => registerPoller(p))`, `poller.ts`) hears every wait
 *   that parks (`sleepBegin`) and leaves (`sleepEnd`);
 *   {@linkcode Kernel.pendingWaits} counts them;
 * - its trace: a tracer set with `setCallTracer` (`_call_trace.ts`) hears
 *   every call made in the kernel, once, with its result; the process's
 *   kernel has none, and while no kernel has one the calls do not look;
 * - kill or crash: {@linkcode Kernel.shutdown}; a restart is a new kernel
 *   for the host (an empty table), the old one staying dead.
 *
 * Invariants:
 * - `currentKernel()` is the default kernel outside any `run`, and the
 *   innermost `run`'s kernel inside one, across awaits.
 * - A description belongs to the kernel it was created in: its waits,
 *   timers and close hooks use that kernel's queue, clock and state, even
 *   when it is reached from another context.
 * - Kernels share nothing mutable: two kernels have independent fd
 *   numbering, limits, timers, pollers and per-kernel state.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { type Clock, realClock } from "./clock.ts";
import { DEFAULT_LIMIT, DescriptorTable } from "./_descriptor_table.ts";
import { TimerQueue } from "./_timer_queue.ts";
import { Pollers } from "./_pollers.ts";
import { countedLoopTurns, eventLoopTurns, type LoopTurns } from "./_loop_turn.ts";
import type { CallTracer } from "./_call_trace.ts";

/**
 * How to build a {@linkcode Kernel}.
 *
 * @example A kernel on the real clock with a small descriptor table
 * ```ts
 * import { Kernel, type KernelOptions } from "@deno-epoll/epoll";
 * const options: KernelOptions = { name: "worker-1", limit: 64 };
 * const k = new Kernel(options);
 * k.shutdown();
 * ```
 */
export interface KernelOptions {
  /** A name for messages (default `"kernel-N"`). */
  name?: string;
  /** The clock of every wait timeout and timer in the kernel (default {@linkcode realClock}). */
  clock?: Clock;
  /** The initial descriptor limit (default 1,048,576, Linux's `nr_open`). */
  limit?: number;
  /**
   * The fairness policy of its waits towards the loop that runs them
   * (default: Deno's event loop, measured by the real clock; on a clock of
   * its own, a turn every 64 waits that find events, reading no clock).
   */
  loopTurns?: LoopTurns;
}

/** A parked wait as its kernel sees it: shutdown abandons it. */
export interface Sleeper {
  /** Ends the sleep without settling it, releasing everything it holds. */
  abandon(): void;
}

/** Runs on every close in every kernel, with the fd and its kernel, before the description is released. */
export type KernelCloseHook = (fd: number, kernel: Kernel) => void;

const closeHooks: KernelCloseHook[] = [];

/**
 * Registers a hook run on every close, in every kernel (kqueue deletes the
 * fd's knotes there). Hooks are process-wide; the state they touch is the
 * kernel's ({@linkcode PerKernel}).
 */
export function onDescriptorClose(hook: KernelCloseHook): void {
  closeHooks.push(hook);
}

const ambient = new AsyncLocalStorage<Kernel>();
/** Kernels other than the default one that may still run code (constructed, not yet collected). */
let others = 0;
const collected = new FinalizationRegistry<undefined>(() => others--);
/** Whether the default kernel exists yet (kernels made after it count in `others`). */
let started = false;
let named = 0;
let slotCount = 0;

/**
 * State that each kernel has its own copy of, made on first use: the
 * layers above the core keep their per-kernel state here (the kqueue close
 * hooks' index, the socket backend choice, a simulated host's ports).
 */
export class PerKernel<T> {
  /** The slot index in each kernel. */
  readonly slot: number = slotCount++;

  /** @param init Makes the state of a kernel that has none yet. */
  constructor(readonly init: (kernel: Kernel) => T) {}

  /** The state of `kernel` (default: the current kernel). */
  of(kernel: Kernel = currentKernel()): T {
    return kernel.local(this);
  }
}

/**
 * A kernel: a descriptor table, a clock and its timers, pollers and a
 * socket backend, as one object. See the module docs for which kernel a
 * call acts on, and what {@linkcode Kernel.shutdown} does.
 *
 * @example Two kernels number their fds independently
 * ```ts
 * import { close, currentKernel, eventfd, Kernel } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const host = new Kernel({ name: "host-a" });
 * const fd = host.run(() => eventfd(0, 0)); // the lowest free fd of host-a's table: 0
 * assert.equal(fd, 0);
 * await host.run(async () => {
 *   await Promise.resolve();
 *   assert.equal(currentKernel(), host); // still host-a after an await
 *   assert.equal(close(fd), 0);
 * });
 * assert.equal(currentKernel(), Kernel.default);
 * host.shutdown();
 * ```
 */
export class Kernel {
  /** Its name, for messages. */
  readonly name: string;
  /** The clock of every wait timeout and timer in this kernel. */
  readonly clock: Clock;
  /** @internal The descriptor table. */
  readonly fds: DescriptorTable;
  /** @internal The timer queue, on {@linkcode Kernel.clock}. */
  readonly timers: TimerQueue;
  /** @internal The pollers its waits drive. */
  readonly pollers: Pollers = new Pollers();
  /** @internal Its waits' fairness policy. */
  readonly loopTurns: LoopTurns;
  /** @internal Its parked waits. */
  readonly sleepers: Set<Sleeper> = new Set();
  /** @internal What hears each call made in it (`_call_trace.ts`); set by `setCallTracer`. */
  tracer: CallTracer | undefined = undefined;
  #slots: unknown[] = [];
  #down = false;

  /**
   * Makes a kernel with an empty descriptor table and no timers.
   *
   * @param options Name, clock, limit and fairness policy.
   * @throws {TypeError} For a limit that is not a positive integer.
   */
  constructor(options: KernelOptions = {}) {
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new TypeError(`limit must be a positive integer, got ${limit}`);
    }
    this.name = options.name ?? `kernel-${named++}`;
    this.clock = options.clock ?? realClock;
    this.loopTurns = options.loopTurns ??
      (this.clock === realClock ? eventLoopTurns : countedLoopTurns());
    this.timers = new TimerQueue(this.clock);
    this.fds = new DescriptorTable((fd) => {
      for (let i = 0; i < closeHooks.length; i++) closeHooks[i](fd, this);
    }, limit);
    if (started) {
      others++;
      collected.register(this, undefined);
    }
  }

  /**
   * The process's kernel: the one every call acts on outside
   * {@linkcode Kernel.run}. It cannot be shut down.
   */
  static get default(): Kernel {
    return defaultKernel;
  }

  /** Whether {@linkcode Kernel.shutdown} has run. */
  get isShutdown(): boolean {
    return this.#down;
  }

  /** How many fds are open in its table. */
  get openDescriptors(): number {
    return this.fds.open;
  }

  /** How many waits (`epollWait`, `kevent`, ...) are parked in it now. */
  get pendingWaits(): number {
    return this.sleepers.size;
  }

  /**
   * Runs `fn` with this kernel current: every module-level call made by
   * `fn`, and by everything it awaits or schedules, acts on this kernel.
   *
   * @param fn The function; an async one keeps the kernel across its awaits.
   * @returns What `fn` returns.
   */
  run<T>(fn: () => T): T {
    return currentKernel() === this ? fn() : ambient.run(this, fn);
  }

  /**
   * Tears this kernel down (see the module docs): pending waits end without
   * settling, every timer is cancelled, every fd is closed as `close()`
   * would; later calls in it find no fds (`-EBADF`) and cannot make
   * new ones (`-EMFILE`). Idempotent.
   *
   * @throws {Error} On the default kernel.
   */
  shutdown(): void {
    if (this === defaultKernel) throw new Error("the default kernel cannot be shut down");
    if (this.#down) return;
    this.#down = true;
    this.run(() => {
      for (const s of [...this.sleepers]) s.abandon();
      this.timers.clear();
      this.fds.closeAll();
    });
  }

  /** @internal The kernel's copy of a {@linkcode PerKernel} state. */
  local<T>(state: PerKernel<T>): T {
    const slots = this.#slots;
    const i = state.slot;
    if (i >= slots.length || slots[i] === undefined) slots[i] = state.init(this);
    return slots[i] as T;
  }
}

const defaultKernel: Kernel = new Kernel({ name: "default" });
started = true;

/**
 * The kernel the module-level calls act on now: the innermost
 * {@linkcode Kernel.run}'s, else {@linkcode Kernel.default}.
 *
 * @returns The current kernel.
 *
 * @example
 * ```ts
 * import { currentKernel, Kernel } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.equal(currentKernel(), Kernel.default);
 * ```
 */
export function currentKernel(): Kernel {
  return others === 0 ? defaultKernel : ambient.getStore() ?? defaultKernel;
}
