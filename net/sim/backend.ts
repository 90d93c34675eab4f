/**
 * The simulated network as a socket backend: inside a simulated host's
 * kernel, `socket()` makes a {@linkcode SimSocket} on that host's stack.
 * Registered once, under the name `"sim"`; each host's kernel selects it.
 * TCP (`SOCK_STREAM`, a {@linkcode SimSocket}) and UDP (`SOCK_DGRAM`, a
 * {@linkcode SimUdpSocket}) over the inet families are simulated: `AF_UNIX`
 * gives `-EAFNOSUPPORT` (a Unix socket would reach the real file system).
 *
 * @module
 */

import { EAFNOSUPPORT, EPROTONOSUPPORT } from "../../runtime/core/errno.ts";
import { AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM } from "../../runtime/core/constants.ts";
import { registerSocketBackend, type SocketBackend } from "../socket_backend.ts";
import { currentHost } from "./_ambient.ts";
import { SimSocket } from "./socket.ts";
import { SimUdpSocket } from "./udp_socket.ts";

/** The backend's name, as `getSocketBackend()` reports it inside a host. */
export const SIM_BACKEND = "sim";

const simBackend: SocketBackend = {
  name: SIM_BACKEND,
  create(domain: number, type: number): SimSocket | SimUdpSocket | number {
    const host = currentHost();
    if (host === undefined || (domain !== AF_INET && domain !== AF_INET6)) return -EAFNOSUPPORT;
    if (type === SOCK_DGRAM) return new SimUdpSocket(host.stack, domain);
    if (type !== SOCK_STREAM) return -EPROTONOSUPPORT;
    return new SimSocket(host.stack, domain);
  },
};

registerSocketBackend(simBackend);
