/**
 * The thin OS-facing mapping: socket addresses to and from Deno's address
 * objects, and Deno's errors to Linux errno values. No policy lives here.
 *
 * @module
 */

import {
  EACCES,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAFNOSUPPORT,
  ECONNABORTED,
  ECONNREFUSED,
  ECONNRESET,
  EHOSTUNREACH,
  EINTR,
  EINVAL,
  ENETUNREACH,
  ENOENT,
  ENOTCONN,
  EPIPE,
  ETIMEDOUT,
} from "../runtime/errno.ts";
import { AF_INET, AF_INET6, AF_UNIX } from "../runtime/socket_constants.ts";
import type { SockAddr } from "../runtime/socket_base.ts";

/** Linux's `sizeof(sun_path)`: a path takes at most 107 bytes plus NUL. */
const UNIX_PATH_MAX = 108;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks `addr` for a socket of `domain`. Returns 0, `-EAFNOSUPPORT` for a
 * family that does not match the socket, or `-EINVAL` for a malformed
 * address. Throws `TypeError` when `addr` is not an object.
 */
export function validateAddr(domain: number, addr: SockAddr): number {
  if (addr === null || typeof addr !== "object") {
    throw new TypeError("addr must be a SockAddr object");
  }
  if (addr.family !== domain) return -EAFNOSUPPORT;
  if (addr.family === AF_UNIX) {
    if (typeof addr.path !== "string") throw new TypeError("addr.path must be a string");
    const len = new TextEncoder().encode(addr.path).length;
    return len === 0 || len >= UNIX_PATH_MAX || addr.path.includes("\0") ? -EINVAL : 0;
  }
  if (typeof addr.address !== "string") throw new TypeError("addr.address must be a string");
  if (typeof addr.port !== "number") throw new TypeError("addr.port must be a number");
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) return -EINVAL;
  const ok = addr.family === AF_INET ? IPV4.test(addr.address) : isIPv6(addr.address);
  return ok ? 0 : -EINVAL;
}

/** The wildcard address of a family (Linux's autobind on `listen`). */
export function anyAddr(domain: number): SockAddr {
  return domain === AF_INET6
    ? { family: AF_INET6, address: "::", port: 0 }
    : { family: AF_INET, address: "0.0.0.0", port: 0 };
}

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

const BY_CODE: Record<string, number> = {
  ECONNREFUSED,
  ECONNRESET,
  ECONNABORTED,
  ENOTCONN,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EPIPE,
  ETIMEDOUT,
  EACCES,
  ENOENT,
  ENETUNREACH,
  EHOSTUNREACH,
  EINVAL,
};

/**
 * The errno for an error thrown by Deno's networking, positive. Unknown
 * errors map to `fallback`.
 */
export function errnoOf(err: unknown, fallback: number): number {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code in BY_CODE) return BY_CODE[code];
  for (const [cls, errno] of BY_CLASS) if (err instanceof cls) return errno;
  return fallback;
}
