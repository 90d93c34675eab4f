/**
 * Which simulated host the running code belongs to: each program runs
 * inside an `AsyncLocalStorage` context that follows its awaits, so code
 * deep inside a host (a patched global, a leak check) can name it.
 * Outside every program the store is empty and nothing is looked up.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { SimHost } from "./host.ts";

const store = new AsyncLocalStorage<SimHost>();

/** Runs `fn` as part of `host`'s program. */
export function runAs<T>(host: SimHost, fn: () => T): T {
  return store.run(host, fn);
}

/** The host whose program is running, or `undefined`. */
export function currentHost(): SimHost | undefined {
  return store.getStore();
}
