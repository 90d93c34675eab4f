/**
 * Socket addresses (`struct sockaddr`): their shapes, validation, the
 * wildcard address of a family, and the out-parameter copy that
 * `getsockname`/`getpeername` share. Every socket backend uses these.
 *
 * @module
 */

import { EAFNOSUPPORT, EINVAL } from "../runtime/core/errno.ts";
import { AF_INET, AF_INET6, AF_UNIX, type AF_UNSPEC } from "../runtime/core/constants.ts";

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

/** An IPv4 or IPv6 socket address. */
export interface InetSockAddr {
  /** {@linkcode AF_INET} or {@linkcode AF_INET6}. */
  family: typeof AF_INET | typeof AF_INET6;
  /** A literal address such as `"127.0.0.1"` or `"::1"`. */
  address: string;
  /** The port; 0 asks for an ephemeral port on `bind`. */
  port: number;
}

/** A Unix domain socket address. */
export interface UnixSockAddr {
  /** {@linkcode AF_UNIX}. */
  family: typeof AF_UNIX;
  /** The socket's path in the file system (empty when unnamed). */
  path: string;
}

/** A socket address, as `struct sockaddr`. */
export type SockAddr = InetSockAddr | UnixSockAddr;

/**
 * No address (`AF_UNSPEC`): `connect` with it dissolves a datagram socket's
 * default peer.
 */
export interface UnspecSockAddr {
  /** {@linkcode AF_UNSPEC} (0). */
  family: typeof AF_UNSPEC;
}

/** Fills `out` with `addr` (the `getsockname`/`getpeername` out-parameter). */
export function copyAddr(addr: SockAddr, out: SockAddr): void {
  const o = out as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) delete o[k];
  Object.assign(o, addr);
}
