/**
 * Per-call tracing. A kernel may carry a tracer (a simulated host's does:
 * its calls go to the network's trace); the tracer hears every call of
 * `mod.ts` made in that kernel, once, with its arguments and its result,
 * however the call was reached: a module-level call made by the host's
 * program (ambient), a call through `kernelCalls(k)` (`host.os`), or a
 * method of the object layer (`Epoll`, `Socket`, `Listener`, ...), which
 * makes the same calls.
 *
 * **How.** Every call of the library begins with
 * `if (tracing) return traced(name, self, ...args);`. {@linkcode tracing}
 * is `false` while no kernel has a tracer, so a process without a
 * simulated network pays one load and branch of a module variable per
 * call: no wrapper, no lookup. While some kernel has one, {@linkcode traced}
 * finds the current kernel's tracer (none for the process's own kernel)
 * and runs the call with `tracing` cleared for its synchronous part, so
 * the call's own calls (`accept` is `accept4(fd, 0)`, `Socket.read` is
 * `read`) are recorded once, as the outermost call.
 *
 * **When.** A call is recorded when it returns, a call that returns a
 * promise (`epollWait`, `epollPwait2`, `kevent`) when the promise settles
 * (its record comes before the caller's continuation runs), a call that
 * throws (a `TypeError` for a wrong JavaScript type) with what it threw.
 * Records are in the order the calls completed, which is the program's
 * order for the synchronous calls.
 *
 * @module
 */

import { currentKernel, type Kernel } from "./kernel.ts";

/**
 * Hears one completed call: its name (the `mod.ts` export), its arguments
 * (the caller's objects: an out-parameter holds what the call wrote), and
 * its result, or what it threw or rejected with when `threw`.
 */
export type CallTracer = (
  name: string,
  args: readonly unknown[],
  result: unknown,
  threw: boolean,
) => void;

/** Whether some kernel has a tracer: each call checks this first. */
export let tracing = false;
/** Kernels with a tracer (and not yet collected). */
let tracers = 0;
const collected = new FinalizationRegistry<undefined>(() => {
  tracers--;
  tracing = tracers > 0;
});

/**
 * Sets (or, with `undefined`, removes) the tracer of `kernel`'s calls.
 *
 * @param kernel The kernel.
 * @param tracer What hears each call made in it.
 */
export function setCallTracer(kernel: Kernel, tracer: CallTracer | undefined): void {
  const had = kernel.tracer !== undefined;
  kernel.tracer = tracer;
  if (tracer !== undefined && !had) {
    tracers++;
    collected.register(kernel, undefined, kernel);
  } else if (tracer === undefined && had) {
    tracers--;
    collected.unregister(kernel);
  }
  tracing = tracers > 0;
}

/**
 * Runs the call `fn` (a call of the library, which re-enters itself with
 * `tracing` cleared) and tells the current kernel's tracer, if any.
 *
 * @param name The call's `mod.ts` name.
 * @param fn The call itself.
 * @param args Its arguments (six at most).
 * @returns What the call returns.
 */
export function traced<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => R,
  ...args: A
): R;
// Fixed parameters rather than a rest array: while a simulated network
// exists, the process's own kernel's calls pass through here untraced.
export function traced(
  name: string,
  fn: (...args: unknown[]) => unknown,
  a?: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
  e?: unknown,
  f?: unknown,
): unknown {
  const tracer = currentKernel().tracer;
  tracing = false;
  let result: unknown;
  try {
    result = fn(a, b, c, d, e, f);
  } catch (err) {
    tracing = tracers > 0;
    tracer?.(name, [a, b, c, d, e, f], err, true);
    throw err;
  }
  tracing = tracers > 0;
  if (tracer !== undefined) {
    const args = [a, b, c, d, e, f];
    if (result instanceof Promise) {
      result.then((v) => tracer(name, args, v, false), (x) => tracer(name, args, x, true));
    } else tracer(name, args, result, false);
  }
  return result;
}
