/**
 * The Deno socket backend: sockets over `Deno.listen` / `Deno.connect`
 * ({@linkcode DenoSocket}). Needs only `--allow-net` and runs everywhere.
 *
 * @module
 */

import type { SocketBackend } from "../socket_state.ts";
import { DenoSocket } from "./socket.ts";

/** The backend that makes {@linkcode DenoSocket}s. */
export const denoBackend: SocketBackend = {
  name: "deno",
  create: (domain) => new DenoSocket(domain),
};
