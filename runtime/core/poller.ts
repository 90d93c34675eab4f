/**
 * The poller registry: readiness sources that live outside the JavaScript
 * event loop (the kernel's epoll behind native sockets) and must be driven
 * by whoever waits. Each kernel (`kernel.ts`) keeps its own list
 * (`_pollers.ts`), and its waits (`_wait_queue.ts`) drive that list;
 * {@linkcode registerPoller} adds to the current kernel's.
 *
 * Descriptions fed by Deno ops or by in-memory writes raise their
 * readiness by themselves. A native socket cannot: the kernel tells its
 * readiness only to a caller of `epoll_wait`. A {@linkcode Poller} is that
 * caller. Waits (the epoll instance's `ep_poll`, and any other blocking
 * primitive built on the readiness core) use a poller's three entry points
 * and never need to know what is behind them:
 *
 * - `pollNow` before each harvest: raise whatever readiness is
 *   already there, without blocking (a zero-timeout `epoll_wait`). A
 *   poller that only follows sleeps (a keep-alive) omits it, and costs the
 *   harvests and in-memory wake-ups nothing.
 * - `sleepBegin` when a task is about to sleep: the pollers make
 *   sure readiness will keep arriving while it does (e.g. by parking in an
 *   `epoll_wait` on a worker thread).
 * - `sleepEnd` when it wakes, for whatever reason: the result is
 *   a promise to await before returning to the caller when a poller must
 *   first finish work off the JS thread (a parked wait that the last
 *   sleeper leaves is woken and awaited, so no operation outlives the wait),
 *   or `undefined`.
 *
 * @module
 */

import { currentKernel } from "./kernel.ts";
import type { Poller } from "./_pollers.ts";

export type { Poller };

/**
 * Registers a poller with the current kernel (`kernel.ts`) for the rest of
 * its life; registering it again does nothing. The native socket backend
 * registers its driver with each kernel that creates a native socket.
 */
export function registerPoller(p: Poller): void {
  currentKernel().pollers.register(p);
}
