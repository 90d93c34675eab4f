/**
 * The Deno backend's one mapping from Deno to Linux: Deno's address objects
 * to {@linkcode SockAddr}, and Deno's errors to errno values. No policy
 * lives here.
 *
 * @module
 */

import {
  EACCES,
  EADDRINUSE,
  EADDRNOTAVAIL,
  ECONNABORTED,
  ECONNREFUSED,
  ECONNRESET,
  EINTR,
  ENOENT,
  ENOTCONN,
  EPIPE,
  errnoNumber,
  ETIMEDOUT,
} from "../../runtime/core/errno.ts";
import { AF_INET, AF_INET6, AF_UNIX } from "../../runtime/core/constants.ts";
import type { SockAddr } from "../sockaddr.ts";

/** Converts a Deno address to a {@linkcode SockAddr}. */
export function fromDenoAddr(addr: Deno.Addr): SockAddr {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return { family: AF_UNIX, path: (addr as Deno.UnixAddr).path ?? "" };
  }
  const net = addr as Deno.NetAddr;
  const v6 = net.hostname.includes(":");
  return {
    family: v6 ? AF_INET6 : AF_INET,
    address: v6 ? net.hostname.replace(/^\[|\]$/g, "") : net.hostname,
    port: net.port,
  };
}

const BY_CLASS: [new (...args: never[]) => Error, number][] = [
  [Deno.errors.ConnectionRefused, ECONNREFUSED],
  [Deno.errors.ConnectionReset, ECONNRESET],
  [Deno.errors.ConnectionAborted, ECONNABORTED],
  [Deno.errors.NotConnected, ENOTCONN],
  [Deno.errors.AddrInUse, EADDRINUSE],
  [Deno.errors.AddrNotAvailable, EADDRNOTAVAIL],
  [Deno.errors.BrokenPipe, EPIPE],
  [Deno.errors.TimedOut, ETIMEDOUT],
  [Deno.errors.PermissionDenied, EACCES],
  [Deno.errors.NotCapable, EACCES],
  [Deno.errors.NotFound, ENOENT],
  [Deno.errors.Interrupted, EINTR],
];

/**
 * The errno for an error thrown by Deno's networking, positive. Unknown
 * errors map to `fallback`.
 */
export function errnoOf(err: unknown, fallback: number): number {
  // Deno's errors carry the OS error's name in `code` when there is one.
  const code = (err as { code?: unknown })?.code;
  const byName = typeof code === "string" ? errnoNumber(code) : 0;
  if (byName !== 0) return byName;
  for (const [cls, errno] of BY_CLASS) if (err instanceof cls) return errno;
  return fallback;
}
