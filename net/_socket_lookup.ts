/**
 * What every socket call does first: find the socket behind an fd, and
 * check that an address argument is an object.
 *
 * @module
 */

import { ENOTSOCK } from "../runtime/core/errno.ts";
import { lookupAs } from "../runtime/core/fd_table.ts";
import { SocketDescription } from "./socket_description.ts";

/** The socket behind `fd`, or `-EBADF` / `-ENOTSOCK`. */
export function sock(fd: number): SocketDescription | number {
  return lookupAs(fd, SocketDescription, ENOTSOCK);
}

/** Throws a `TypeError` naming `what` unless `v` is an object. */
export function requireObject(v: unknown, what: string): void {
  if (v === null || typeof v !== "object") throw new TypeError(`${what} must be an object`);
}
