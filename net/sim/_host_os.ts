/**
 * A host's system calls (`host.os`): every call of `mod.ts` bound to the
 * host's kernel (`kernelCalls`), plus what only a simulated host has:
 * `now()`, `sleep()`, `random()` and `resolve()`. The module-level calls
 * of `mod.ts`, made by the host's program, act on the same kernel. Every
 * call made in the kernel, either way or through the object layer, is
 * traced once with its result ({@linkcode recordCall}, the kernel's call
 * tracer).
 *
 * @module
 */

import type { Kernel } from "../../runtime/core/kernel.ts";
import { type KernelCalls, kernelCalls } from "../kernel_calls.ts";
import type { Host } from "./host.ts";

/** What a simulated host's program has beside the calls of `mod.ts`. */
export interface SimHostCalls {
  /** The host's name. */
  readonly hostname: string;
  /** Virtual milliseconds since the simulation started. */
  now(): number;
  /**
   * Resolves after `ms` virtual milliseconds; rejects with `signal.reason`
   * when aborted. A killed program's sleep never returns.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** A float in [0, 1) from the host's seeded stream. */
  random(): number;
  /** The first address of a host name (the sim's DNS), or `null`. */
  resolve(name: string): string | null;
}

/**
 * The calls of a simulated host's program: every call of `mod.ts` bound to
 * the host's kernel, and {@linkcode SimHostCalls}.
 */
export type SimOs = KernelCalls & SimHostCalls;

/**
 * Records one call the host's program made (the kernel's call tracer, see
 * `runtime/core/_call_trace.ts`): `read(3, [16 bytes]) = 5`, or
 * `= throws TypeError`. The trace keeps the arguments' and the result's
 * shapes as numbers and writes the line only when it is read
 * (`_trace.ts`).
 */
export function recordCall(
  host: Host,
  name: string,
  args: readonly unknown[],
  result: unknown,
  threw: boolean,
): void {
  host.calls++;
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--; // omitted optional arguments
  const net = host.net;
  net.traceLog?.call(net.nowNs(), host.name, name, args, result, threw, n);
}

/** Builds `host.os` for one life of the host's program. */
export function hostCalls(host: Host, kernel: Kernel, gen: number): SimOs {
  const net = host.net;
  const extras: SimHostCalls = {
    hostname: host.name,
    // Calls too: each shows the program's code has loaded (see `Host.starting`).
    now: () => (host.calls++, net.now()),
    random: () => (host.calls++, host.prng.float()),
    resolve: (name: string) => (host.calls++, net.resolve(name)),
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      host.calls++;
      return new Promise<void>((resolve, reject) => {
        // Described only when a deadlock report lists it.
        const pending = { ms, from: net.now() };
        const wake = () => {
          if (host.gen !== gen) return; // killed meanwhile: never returns
          recordCall(host, "sleep", [ms], 0, false);
          resolve();
        };
        const ev = net.after(Math.max(0, ms), () => {
          if (host.gen !== gen) return; // killed: never returns
          host.sleeps.delete(pending);
          if (signal !== undefined) signal.removeEventListener("abort", onAbort);
          net.pokes++;
          const gate = host.gate();
          if (gate === undefined) wake();
          else gate.then(wake);
        });
        const onAbort = () => {
          net.cancel(ev);
          host.sleeps.delete(pending);
          reject(signal!.reason);
        };
        if (signal?.aborted) return onAbort();
        host.sleeps.add(pending);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
  return Object.assign(kernelCalls(kernel), extras);
}
