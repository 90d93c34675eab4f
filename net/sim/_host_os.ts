/**
 * A host's system calls (`host.os`): every call of `mod.ts` bound to the
 * host's kernel (`kernelCalls`), each traced with its result, plus what
 * only a simulated host has: `now()`, `sleep()`, `random()` and
 * `resolve()`. The module-level calls of `mod.ts`, made by the host's
 * program, act on the same kernel (untraced).
 *
 * @module
 */

import { currentKernel, type Kernel } from "../../runtime/core/kernel.ts";
import { CALLS, type KernelCalls, kernelCalls } from "../kernel_calls.ts";
import type { Host } from "./host.ts";
import { argsNow } from "./_trace.ts";

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

/** A rejection reaches the caller through the call's own promise; the trace's reaction ignores it. */
function ignore(): void {}

/** Builds `host.os` for one life of the host's program. */
export function hostCalls(host: Host, kernel: Kernel, gen: number): SimOs {
  const net = host.net;
  const calls = kernelCalls(kernel);
  const os: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(calls)) {
    // Classes (Epoll, Socket, ...) and the kernel pass through; functions are traced.
    const c = name.charCodeAt(0);
    if (typeof value !== "function" || (c >= 65 && c <= 90)) {
      os[name] = value;
      continue;
    }
    // The unbound call, run in the host's kernel (current already when the host's program calls).
    const fn = ((CALLS as Record<string, unknown>)[name] ?? value) as (
      ...args: unknown[]
    ) => unknown;
    os[name] = (...args: unknown[]) => {
      host.calls++;
      const r = currentKernel() === kernel ? fn(...args) : kernel.run(() => fn(...args));
      if (r instanceof Promise) {
        // Recorded when it resolves, before the caller's own continuation
        // (registered first); the caller gets the call's promise itself.
        const shown = argsNow(args);
        r.then((v) => net.noteCall(host.name, name, shown, v), ignore);
        return r;
      }
      net.noteCall(host.name, name, args, r);
      return r;
    };
  }
  const extras: SimHostCalls = {
    hostname: host.name,
    now: () => net.now(),
    random: () => host.prng.float(),
    resolve: (name: string) => net.resolve(name),
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      host.calls++;
      return new Promise<void>((resolve, reject) => {
        // Described only when a deadlock report lists it.
        const pending = { ms, from: net.now() };
        const wake = () => {
          if (host.gen !== gen) return; // killed meanwhile: never returns
          net.noteCall(host.name, "sleep", [ms], 0);
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
  return Object.assign(os, extras) as unknown as SimOs;
}
