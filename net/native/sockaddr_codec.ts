/**
 * `struct sockaddr` for the kernel: {@linkcode SockAddr} encoded as
 * `sockaddr_in` / `sockaddr_in6` / `sockaddr_un` bytes and decoded back,
 * with the IPv4 and IPv6 literal parsing and RFC 5952 formatting that needs.
 * Pure functions over a `DataView`; the libc binding (`libc.ts`) passes the
 * bytes to `bind`, `connect`, `accept4`, `getsockname` and `getpeername`.
 *
 * @module
 */

import { AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC } from "../../runtime/core/constants.ts";
import { EAFNOSUPPORT, EINVAL } from "../../runtime/core/errno.ts";
import type { SockAddr, UnspecSockAddr } from "../sockaddr.ts";

/**
 * Encodes `addr` as `struct sockaddr_in`/`sockaddr_in6`/`sockaddr_un` into
 * `view` (at least 110 bytes). Returns the address length, -EAFNOSUPPORT
 * for an unknown family, or -EINVAL for an address that does not parse.
 * `AF_UNSPEC` encodes as 16 zero bytes (what `connect` needs to dissolve).
 * A Unix path starting with NUL is an abstract address.
 */
export function encodeSockaddr(addr: SockAddr | UnspecSockAddr, view: DataView): number {
  if (addr === null || typeof addr !== "object") return -EINVAL;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (addr.family === AF_INET || addr.family === AF_INET6) {
    const port = addr.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return -EINVAL;
    if (typeof addr.address !== "string") return -EINVAL;
    if (addr.family === AF_INET) {
      const ip = parseIPv4(addr.address);
      if (ip === null) return -EINVAL;
      bytes.fill(0, 0, 16);
      view.setUint16(0, AF_INET, true);
      view.setUint16(2, port, false);
      bytes.set(ip, 4);
      return 16;
    }
    const ip = parseIPv6(addr.address);
    if (ip === null) return -EINVAL;
    bytes.fill(0, 0, 28);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, port, false);
    bytes.set(ip, 8);
    return 28;
  }
  if (addr.family === AF_UNIX) {
    if (typeof addr.path !== "string") return -EINVAL;
    const path = new TextEncoder().encode(addr.path);
    const abstract = path.length > 0 && path[0] === 0;
    if (path.length > 108 || (!abstract && path.length > 107)) return -EINVAL;
    bytes.fill(0, 0, 110);
    view.setUint16(0, AF_UNIX, true);
    bytes.set(path, 2);
    return abstract ? 2 + path.length : 2 + path.length + 1;
  }
  if (addr.family === AF_UNSPEC) {
    // connect(AF_UNSPEC): the kernel reads only the family.
    bytes.fill(0, 0, 16);
    return 16;
  }
  return -EAFNOSUPPORT;
}

/** Decodes a `struct sockaddr` of `len` bytes from `view`; null for an unknown family. */
export function decodeSockaddr(view: DataView, len: number): SockAddr | null {
  if (len < 2) return null;
  const family = view.getUint16(0, true);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (family === AF_INET && len >= 16) {
    return {
      family: AF_INET,
      address: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}`,
      port: view.getUint16(2, false),
    };
  }
  if (family === AF_INET6 && len >= 24) {
    return {
      family: AF_INET6,
      address: formatIPv6(bytes.subarray(8, 24)),
      port: view.getUint16(2, false),
    };
  }
  if (family === AF_UNIX) {
    const raw = bytes.subarray(2, Math.min(len, 110));
    if (raw.length > 0 && raw[0] === 0) {
      return { family: AF_UNIX, path: new TextDecoder().decode(raw) };
    }
    const nul = raw.indexOf(0);
    return {
      family: AF_UNIX,
      path: new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul)),
    };
  }
  return null;
}

/** Parses a dotted-quad IPv4 literal; null when it is not one. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses an IPv6 literal (with `::` and a trailing dotted quad); null when it is not one. */
export function parseIPv6(s: string): Uint8Array | null {
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 2 && halves[0].includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...new Array(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/** Formats 16 address bytes as RFC 5952 text (`::ffff:a.b.c.d` for IPv4-mapped). */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

// Loaded at import, so that a test calling openLibc() never sees the library
// opened inside it (the resource sanitizer reports a library loaded during a
// test). Cheap: libc is already mapped into the process.
