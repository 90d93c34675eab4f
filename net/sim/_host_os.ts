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

/** One argument or result as a short, deterministic summary. */
function show(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `[${v.length} bytes]`;
  if (Array.isArray(v)) return `[${v.length}]`;
  if (v instanceof Error) return v.name;
  if (v instanceof AbortSignal) return "signal";
  if (v !== null && typeof v === "object") {
    if ("port" in v) {
      const a = v as { address?: string; port: number };
      return `${a.address}:${a.port}`;
    }
    if ("events" in v) return `{events: ${(v as { events: number }).events}}`;
    if ("sec" in v) {
      const t = v as { sec: number; nsec: number };
      return `${t.sec}s${t.nsec}ns`;
    }
  }
  return v === null ? "null" : v === undefined ? "-" : "{}";
}

/**
 * Records one call the host's program made (the kernel's call tracer, see
 * `runtime/core/_call_trace.ts`): `read(3, [16 bytes]) = 5`, or
 * `= throws TypeError`.
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
  let list = "";
  for (let i = 0; i < n; i++) list += i === 0 ? show(args[i]) : `, ${show(args[i])}`;
  host.net.note(host.name, "call", `${name}(${list}) = ${threw ? "throws " : ""}${show(result)}`);
}

/** Builds `host.os` for one life of the host's program. */
export function hostCalls(host: Host, kernel: Kernel, gen: number): SimOs {
  const net = host.net;
  const extras: SimHostCalls = {
    hostname: host.name,
    now: () => net.now(),
    random: () => host.prng.float(),
    resolve: (name: string) => net.resolve(name),
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      host.calls++;
      return new Promise<void>((resolve, reject) => {
        const label = `sleep(${ms}) from ${net.now()} ms`;
        const onAbort = () => {
          net.cancel(ev);
          host.sleeps.delete(label);
          reject(signal!.reason);
        };
        const ev = net.after(Math.max(0, ms), async () => {
          if (host.gen !== gen) return; // killed: never returns
          host.sleeps.delete(label);
          signal?.removeEventListener("abort", onAbort);
          net.pokes++;
          const gate = host.gate();
          if (gate !== undefined) await gate;
          if (host.gen !== gen) return;
          recordCall(host, "sleep", [ms], 0, false);
          resolve();
        });
        if (signal?.aborted) return onAbort();
        host.sleeps.add(label);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
  return Object.assign(kernelCalls(kernel), extras);
}
