/**
 * Socket backends and their selection. A backend only makes new,
 * unconnected socket descriptions; every later call (`bind`, `listen`,
 * `accept4`, `connect`, `read`, …) goes to the description itself, so the
 * calls never ask which backend a socket came from, and sockets of both
 * backends live in one descriptor table and one epoll.
 *
 * - `"deno"` (the default): `Deno.listen` / `Deno.connect`; needs only
 *   `--allow-net`, runs everywhere.
 * - `"native"`: the kernel's own sockets and epoll through FFI; needs Linux
 *   and `--allow-ffi`.
 *
 * At import, `DENO_EPOLL_BACKEND` (`deno` or `native`) sets the initial
 * backend when the program may read it (`--allow-env`); asking for
 * `native` where it cannot run makes the import fail with an `Error` that
 * says why.
 *
 * The choice is per kernel (`runtime/core/kernel.ts`): `setSocketBackend`
 * and `getSocketBackend` act on the current kernel's, and a new kernel
 * starts with the default kernel's choice. A third backend (a simulated
 * network's) joins with {@linkcode registerSocketBackend}; a kernel then
 * selects it by name, so its `socket()` makes that backend's sockets
 * while other kernels keep theirs.
 *
 * @module
 */

import { ENOSYS } from "../runtime/core/errno.ts";
import { Kernel, PerKernel } from "../runtime/core/kernel.ts";
import type { SocketBackend } from "./socket_description.ts";
import { denoBackend } from "./deno/backend.ts";
import { nativeBackend } from "./native/backend.ts";
import { traced, tracing } from "../runtime/core/_call_trace.ts";

export type { SocketBackend };

let native: SocketBackend | string | undefined;
function getNative(): SocketBackend | string {
  return (native ??= nativeBackend());
}

/** Backends beside `deno` and `native`, by name. */
const registered = new Map<string, SocketBackend>();

/** Each kernel's choice; a new kernel starts with the default kernel's. */
const chosen: PerKernel<{ backend: SocketBackend; pinned: boolean }> = new PerKernel((k) => ({
  backend: k === Kernel.default ? denoBackend : chosen.of(Kernel.default).backend,
  pinned: false,
}));

/**
 * Selects a registered backend for the current kernel for good: a later
 * {@linkcode setSocketBackend} there succeeds and changes nothing, so a
 * program that asks for `deno` or `native` runs unchanged on it (a
 * simulated host's kernel pins the simulated network). Internal.
 */
export function pinSocketBackend(name: string): void {
  const b = registered.get(name);
  if (b === undefined) throw new TypeError(`unknown socket backend: ${name}`);
  const state = chosen.of();
  state.backend = b;
  state.pinned = true;
}

/** The backend new sockets of the current kernel use (internal: `socket()` calls it). */
export function currentBackend(): SocketBackend {
  return chosen.of().backend;
}

/**
 * Makes a third backend selectable by name in every kernel (internal: the
 * simulated network registers its own). Registering the same backend
 * again does nothing.
 *
 * @throws {TypeError} For `deno`, `native`, or the name of another registered backend.
 */
export function registerSocketBackend(backend: SocketBackend): void {
  const name = backend.name;
  const other = registered.get(name);
  if (name === "deno" || name === "native" || (other !== undefined && other !== backend)) {
    throw new TypeError(`socket backend "${name}" is taken`);
  }
  registered.set(name, backend);
}

/**
 * Chooses the backend of sockets the current kernel creates from now on;
 * existing sockets keep theirs.
 *
 * @param name `"deno"`, `"native"`, or a backend registered by a third
 * party (a simulated network's).
 * @returns 0; `-ENOSYS` when `native` cannot run here
 * ({@linkcode socketBackendError} says why). In a simulated host's kernel
 * the backend is pinned: the call returns 0 and changes nothing.
 * @throws {TypeError} For a name no backend has.
 *
 * @example Use kernel sockets where they are available
 * ```ts
 * import { getSocketBackend, setSocketBackend, socketBackendError } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const before = getSocketBackend();
 * if (socketBackendError() === null) {
 *   assert.equal(setSocketBackend("native"), 0);
 *   assert.equal(getSocketBackend(), "native");
 * } else {
 *   assert.equal(setSocketBackend("native"), -38); // ENOSYS
 * }
 * setSocketBackend(before);
 * ```
 */
export function setSocketBackend(
  name: "deno" | "native" | (string & Record<never, never>),
): number {
  if (tracing) return traced("setSocketBackend", setSocketBackend, name);
  let b: SocketBackend | string | undefined;
  if (name === "deno") b = denoBackend;
  else if (name === "native") b = getNative();
  else b = registered.get(name);
  if (b === undefined) throw new TypeError(`unknown socket backend: ${String(name)}`);
  const state = chosen.of();
  if (state.pinned) return 0; // a simulated host: its sockets stay simulated
  if (typeof b === "string") return -ENOSYS;
  state.backend = b;
  return 0;
}

/**
 * The backend sockets the current kernel creates now use.
 *
 * @returns `"deno"` or `"native"`; in a kernel that selected a registered
 * backend (a simulated host), that backend's name (the type names the two
 * built-in ones, which is all a program outside a simulation sees).
 *
 * @example
 * ```ts
 * import { getSocketBackend } from "@deno-epoll/epoll";
 * console.log(getSocketBackend()); // "deno" unless DENO_EPOLL_BACKEND=native
 * ```
 */
export function getSocketBackend(): "deno" | "native" {
  if (tracing) return traced("getSocketBackend", getSocketBackend);
  return currentBackend().name as "deno" | "native";
}

/**
 * Why the `native` backend cannot run here, or `null` when it can.
 *
 * @returns `null`, or a sentence such as "the native backend needs the FFI
 * permission (--allow-ffi)".
 *
 * @example
 * ```ts
 * import { socketBackendError } from "@deno-epoll/epoll";
 * const why = socketBackendError();
 * console.log(why === null ? "native sockets available" : why);
 * ```
 */
export function socketBackendError(): string | null {
  const b = getNative();
  return typeof b === "string" ? b : null;
}

/** `DENO_EPOLL_BACKEND`, when the program may read it. */
function fromEnvironment(): string | undefined {
  try {
    const q = Deno.permissions.querySync({ name: "env", variable: "DENO_EPOLL_BACKEND" });
    return q.state === "granted" ? Deno.env.get("DENO_EPOLL_BACKEND") : undefined;
  } catch {
    return undefined;
  }
}

const requested = fromEnvironment();
if (requested !== undefined && requested !== "") {
  if (requested !== "deno" && requested !== "native") {
    throw new Error(`DENO_EPOLL_BACKEND must be "deno" or "native", not "${requested}"`);
  }
  if (Kernel.default.run(() => setSocketBackend(requested)) !== 0) {
    throw new Error(`DENO_EPOLL_BACKEND=native cannot be used: ${socketBackendError()}`);
  }
}
