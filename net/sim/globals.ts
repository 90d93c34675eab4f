/**
 * `sim.installGlobals()`: while the simulation is being driven, the
 * process's clocks, timers and random numbers become the simulation's
 * (virtual and seeded), and a host that reaches for the real network gets
 * a {@linkcode SimLeakError}; its signal listeners are accepted and never
 * called, and its `Deno.exit` ends its program with an error naming the
 * code, not the test. Everything is restored when the driving call
 * (`run`, `step`, `runFor`, `runUntil`) returns.
 *
 * @module
 */

import type { SimEvent } from "./_event_queue.ts";
import type { Prng } from "./_prng.ts";
import { currentHost, runAs } from "./_ambient.ts";
import { SimLeakError } from "./errors.ts";

/** Virtual `Date.now()` at time 0: 2000-01-01T00:00:00Z. */
export const VIRTUAL_EPOCH_MS = 946_684_800_000;

/** What the patch needs from the network. */
export interface GlobalsHost {
  now(): number;
  after(ms: number, fn: () => void): SimEvent;
  cancel(ev: SimEvent | undefined): void;
  /** A program is about to run (the driver must let it). */
  poke(): void;
}

type Saved = {
  dateNow: typeof Date.now;
  perfNow: typeof performance.now;
  setTimeout: typeof setTimeout;
  clearTimeout: typeof clearTimeout;
  setInterval: typeof setInterval;
  clearInterval: typeof clearInterval;
  random: typeof Math.random;
  getRandomValues: typeof crypto.getRandomValues;
  connect: typeof Deno.connect;
  listen: typeof Deno.listen;
  fetch: typeof fetch;
  addSignal: typeof Deno.addSignalListener;
  removeSignal: typeof Deno.removeSignalListener;
  exit: typeof Deno.exit;
};

/** The patch of one network; `apply` and `restore` nest. */
export class GlobalPatch {
  #depth = 0;
  #saved: Saved | null = null;
  #timers = new Map<number, SimEvent>();
  #nextId = 1;

  constructor(readonly net: GlobalsHost, readonly prng: Prng) {}

  apply(): void {
    if (this.#depth++ > 0) return;
    const g = globalThis as unknown as Record<string, unknown>;
    const s: Saved = {
      dateNow: Date.now,
      perfNow: performance.now,
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
      setInterval: globalThis.setInterval,
      clearInterval: globalThis.clearInterval,
      random: Math.random,
      getRandomValues: crypto.getRandomValues,
      connect: Deno.connect,
      listen: Deno.listen,
      fetch: globalThis.fetch,
      addSignal: Deno.addSignalListener,
      removeSignal: Deno.removeSignalListener,
      exit: Deno.exit,
    };
    this.#saved = s;
    const net = this.net;
    Date.now = () => VIRTUAL_EPOCH_MS + Math.floor(net.now());
    performance.now = () => net.now();
    Math.random = () => this.prng.float();
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
      if (array !== null) {
        const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
        for (let i = 0; i < bytes.length; i++) bytes[i] = this.prng.u32() & 0xff;
      }
      return array;
    }) as typeof crypto.getRandomValues;
    g.setTimeout = (fn: (...a: unknown[]) => void, ms = 0, ...args: unknown[]) =>
      this.#schedule(fn, ms, args, false);
    g.setInterval = (fn: (...a: unknown[]) => void, ms = 0, ...args: unknown[]) =>
      this.#schedule(fn, ms, args, true);
    g.clearTimeout = g.clearInterval = (id?: number) => {
      if (id === undefined) return;
      this.net.cancel(this.#timers.get(id));
      this.#timers.delete(id);
    };
    const leak = <F extends (...a: never[]) => unknown>(name: string, real: F): F =>
      ((...a: Parameters<F>) => {
        const h = currentHost();
        if (h !== undefined) throw new SimLeakError(h.name, name);
        return real(...a);
      }) as F;
    Deno.connect = leak("Deno.connect", s.connect);
    Deno.listen = leak("Deno.listen", s.listen);
    g.fetch = leak("fetch", s.fetch);
    // No signal reaches a simulated host: its listeners are accepted and never called.
    const inHost = <F extends (...a: never[]) => unknown>(real: F): F =>
      ((...a: Parameters<F>) => currentHost() === undefined ? real(...a) : undefined) as F;
    Deno.addSignalListener = inHost(s.addSignal);
    Deno.removeSignalListener = inHost(s.removeSignal);
    // A host's exit ends its program (as an error naming the code), not the test process.
    Deno.exit = ((code?: number) => {
      const h = currentHost();
      if (h === undefined) return s.exit(code);
      throw new SimLeakError(h.name, `Deno.exit(${code ?? 0})`);
    }) as typeof Deno.exit;
  }

  restore(): void {
    if (--this.#depth > 0) return;
    const s = this.#saved!;
    const g = globalThis as unknown as Record<string, unknown>;
    Date.now = s.dateNow;
    performance.now = s.perfNow;
    Math.random = s.random;
    crypto.getRandomValues = s.getRandomValues;
    g.setTimeout = s.setTimeout;
    g.clearTimeout = s.clearTimeout;
    g.setInterval = s.setInterval;
    g.clearInterval = s.clearInterval;
    Deno.connect = s.connect;
    Deno.listen = s.listen;
    g.fetch = s.fetch;
    Deno.addSignalListener = s.addSignal;
    Deno.removeSignalListener = s.removeSignal;
    Deno.exit = s.exit;
    this.#saved = null;
  }

  #schedule(fn: (...a: unknown[]) => void, ms: number, args: unknown[], repeat: boolean): number {
    const id = this.#nextId++;
    const delay = Math.max(0, Number(ms) || 0);
    const host = currentHost(); // the callback runs as part of the host that set it
    if (host !== undefined) host.calls++;
    const fire = () => {
      if (repeat) this.#timers.set(id, this.net.after(Math.max(1, delay), fire));
      else this.#timers.delete(id);
      this.net.poke();
      if (host === undefined) fn(...args);
      else runAs(host, () => fn(...args));
    };
    this.#timers.set(id, this.net.after(delay, fire));
    return id;
  }
}
