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
 * @module
 */

import { ENOSYS } from "../runtime/core/errno.ts";
import type { SocketBackend } from "./socket_description.ts";
import { denoBackend } from "./deno/backend.ts";
import { nativeBackend } from "./native/backend.ts";

export type { SocketBackend };

let native: SocketBackend | string | undefined;
function getNative(): SocketBackend | string {
  return (native ??= nativeBackend());
}

let current: SocketBackend = denoBackend;

/** The backend new sockets use (internal: `socket()` calls it). */
export function currentBackend(): SocketBackend {
  return current;
}

/**
 * Chooses the backend of sockets created from now on; existing sockets keep
 * theirs.
 *
 * @param name `"deno"` or `"native"`.
 * @returns 0; `-ENOSYS` when `native` cannot run here
 * ({@linkcode socketBackendError} says why).
 * @throws {TypeError} For a name that is not `"deno"` or `"native"`.
 *
 * @example Use kernel sockets where they are available
 * ```ts
 * import { getSocketBackend, setSocketBackend, socketBackendError } from "jsr:@deno-epoll/epoll@^0.1.0";
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
export function setSocketBackend(name: "deno" | "native"): number {
  if (name === "deno") {
    current = denoBackend;
    return 0;
  }
  if (name !== "native") throw new TypeError(`unknown socket backend: ${String(name)}`);
  const b = getNative();
  if (typeof b === "string") return -ENOSYS;
  current = b;
  return 0;
}

/**
 * The backend sockets created now use.
 *
 * @returns `"deno"` or `"native"`.
 *
 * @example
 * ```ts
 * import { getSocketBackend } from "jsr:@deno-epoll/epoll@^0.1.0";
 * console.log(getSocketBackend()); // "deno" unless DENO_EPOLL_BACKEND=native
 * ```
 */
export function getSocketBackend(): "deno" | "native" {
  return current.name;
}

/**
 * Why the `native` backend cannot run here, or `null` when it can.
 *
 * @returns `null`, or a sentence such as "the native backend needs the FFI
 * permission (--allow-ffi)".
 *
 * @example
 * ```ts
 * import { socketBackendError } from "jsr:@deno-epoll/epoll@^0.1.0";
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
  if (setSocketBackend(requested) !== 0) {
    throw new Error(`DENO_EPOLL_BACKEND=native cannot be used: ${socketBackendError()}`);
  }
}
