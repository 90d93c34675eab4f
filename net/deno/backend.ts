/**
 * The Deno socket backend: sockets over `Deno.listen` / `Deno.connect`
 * ({@linkcode DenoSocket}). Needs only `--allow-net` and runs everywhere.
 *
 * @module
 */

import type { SocketBackend } from "../socket_backend.ts";
import { DenoSocket } from "./socket.ts";
import { EPROTONOSUPPORT } from "../../runtime/core/errno.ts";
import { SOCK_DGRAM } from "../../runtime/core/constants.ts";

/** The backend that makes {@linkcode DenoSocket}s. */
export const denoBackend: SocketBackend = {
  name: "deno",
  create: (domain, type) => type === SOCK_DGRAM ? -EPROTONOSUPPORT : new DenoSocket(domain),
};
