/**
 * The native socket backend: kernel sockets through FFI
 * ({@linkcode NativeSocket}), driven by one kernel epoll per process.
 * Needs Linux (x86-64 or aarch64), `libc.so.6` and `--allow-ffi`.
 *
 * @module
 */

import type { SocketBackend } from "../socket_description.ts";
import { openLibc } from "./libc.ts";
import { getDriver } from "./_driver.ts";
import { NativeSocket } from "./socket.ts";

/** The native backend, or a sentence saying why it cannot run here. */
export function nativeBackend(): SocketBackend | string {
  const libc = openLibc();
  if (typeof libc === "string") return libc;
  return {
    name: "native",
    create: (domain, type, protocol) =>
      NativeSocket.create(libc, getDriver(libc), domain, type, protocol),
  };
}
