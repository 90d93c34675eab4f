/**
 * The Deno socket backend: sockets over `Deno.listen` / `Deno.connect`
 * ({@linkcode DenoSocket}). Needs only `--allow-net` and runs everywhere.
 *
 * @module
 */

import type { SocketBackend } from "../socket_description.ts";
import { DenoSocket } from "./socket.ts";
import { datagramBackendError, DenoDatagram } from "./datagram.ts";
import { EPROTONOSUPPORT } from "../../runtime/core/errno.ts";
import { AF_UNIX, SOCK_DGRAM } from "../../runtime/core/constants.ts";

/**
 * The backend that makes {@linkcode DenoSocket}s, and {@linkcode DenoDatagram}s
 * (UDP) where Deno has `Deno.listenDatagram` (else `-EPROTONOSUPPORT`).
 */
export const denoBackend: SocketBackend = {
  name: "deno",
  create(domain, type) {
    if (type !== SOCK_DGRAM) return new DenoSocket(domain);
    // Deno's "unixpacket" cannot send while a receive is in flight: no AF_UNIX datagrams here.
    if (domain === AF_UNIX || datagramBackendError() !== null) return -EPROTONOSUPPORT;
    return new DenoDatagram(domain);
  },
};
