/**
 * Which simulated host the running code belongs to. Each host's program
 * runs inside its own kernel (`Kernel.run`, which follows awaits), so the
 * current kernel names the host; outside every program it is the
 * process's kernel and no host is found.
 *
 * @module
 */

import { currentKernel, type Kernel } from "../../runtime/core/kernel.ts";
import type { Stack } from "./_stack.ts";

/** What the sim keeps about a host's kernel. */
export interface HostOfKernel {
  readonly name: string;
  readonly stack: Stack;
  readonly kernel: Kernel;
  /** Calls its program made (the driver's start-up check). */
  calls: number;
}

const hosts = new WeakMap<Kernel, HostOfKernel>();

/** Records that `kernel` is `host`'s. */
export function bindKernel(kernel: Kernel, host: HostOfKernel): void {
  hosts.set(kernel, host);
}

/** The host whose program is running, or `undefined`. */
export function currentHost(): HostOfKernel | undefined {
  return hosts.get(currentKernel());
}

/** Runs `fn` as part of `host`'s program (inside its kernel). */
export function runAs<T>(host: HostOfKernel, fn: () => T): T {
  return host.kernel.run(fn);
}
