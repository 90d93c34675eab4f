/**
 * Error numbers with their Linux x86-64 values, and helpers to name them.
 *
 * POSIX-shaped calls in this library return `-errno` on failure (the Linux
 * raw-syscall convention) instead of throwing, so hot paths stay cheap. The
 * object layer (`Epoll`, `Socket`, `Listener`) turns those codes into
 * {@linkcode ErrnoError}.
 *
 * @module
 */

/** Operation not permitted (`epoll_ctl` on a descriptor that cannot be polled). */
export const EPERM = 1;
/** No such file or directory (`EPOLL_CTL_MOD`/`DEL` of an fd not in the set). */
export const ENOENT = 2;
/** Interrupted call (`epollPwait2` aborted through its `AbortSignal`). */
export const EINTR = 4;
/** Bad file descriptor. */
export const EBADF = 9;
/** Resource temporarily unavailable: the call would block. */
export const EAGAIN = 11;
/** Same value as {@linkcode EAGAIN}, as on Linux. */
export const EWOULDBLOCK = 11;
/** Out of memory. */
export const ENOMEM = 12;
/** Access denied (for example a Unix socket path without permission). */
export const EACCES = 13;
/** Bad address (`epoll_ctl` ADD/MOD without an event). */
export const EFAULT = 14;
/** Already exists (`EPOLL_CTL_ADD` of an fd already in the set). */
export const EEXIST = 17;
/** Invalid argument. */
export const EINVAL = 22;
/** Too many open files in the system (native sockets: the kernel's file table is full). */
export const ENFILE = 23;
/** Too many open files: the descriptor limit is reached. */
export const EMFILE = 24;
/** Broken pipe: the write side is shut or the reader is gone. */
export const EPIPE = 32;
/** Function not implemented (`setSocketBackend("native")` where it cannot run). */
export const ENOSYS = 38;
/** Too many levels of nesting (epoll cycles, or nesting deeper than 4). */
export const ELOOP = 40;
/** Not a socket. */
export const ENOTSOCK = 88;
/** Protocol not available (unknown socket option). */
export const ENOPROTOOPT = 92;
/** Protocol not supported. */
export const EPROTONOSUPPORT = 93;
/** Operation not supported. */
export const EOPNOTSUPP = 95;
/** Address family not supported. */
export const EAFNOSUPPORT = 97;
/** Address already in use. */
export const EADDRINUSE = 98;
/** Cannot assign the requested address. */
export const EADDRNOTAVAIL = 99;
/** Network is unreachable. */
export const ENETUNREACH = 101;
/** Connection aborted. */
export const ECONNABORTED = 103;
/** Connection reset by peer. */
export const ECONNRESET = 104;
/** No buffer space available (native sockets: the kernel is out of socket memory). */
export const ENOBUFS = 105;
/** The socket is already connected. */
export const EISCONN = 106;
/** The socket is not connected. */
export const ENOTCONN = 107;
/** Connection timed out. */
export const ETIMEDOUT = 110;
/** Connection refused. */
export const ECONNREFUSED = 111;
/** No route to host. */
export const EHOSTUNREACH = 113;
// Datagram sockets (issue 17).
/** Input/output error (a Deno-backend send failed for a reason Deno does not name). */
export const EIO = 5;
/** Device or resource busy. */
export const EBUSY = 16;
/** A datagram socket with no default peer was given no destination. */
export const EDESTADDRREQ = 89;
/** The datagram is longer than the protocol allows (65,507 bytes for UDP over IPv4). */
export const EMSGSIZE = 90;

/** A non-blocking connect is already in progress. */
export const EALREADY = 114;
/** A non-blocking connect was started and completes later. */
export const EINPROGRESS = 115;

const TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [EPERM, "EPERM", "Operation not permitted"],
  [ENOENT, "ENOENT", "No such file or directory"],
  [EINTR, "EINTR", "Interrupted system call"],
  [EBADF, "EBADF", "Bad file descriptor"],
  [EAGAIN, "EAGAIN", "Resource temporarily unavailable"],
  [ENOMEM, "ENOMEM", "Cannot allocate memory"],
  [EACCES, "EACCES", "Permission denied"],
  [EFAULT, "EFAULT", "Bad address"],
  [EEXIST, "EEXIST", "File exists"],
  [EINVAL, "EINVAL", "Invalid argument"],
  [ENFILE, "ENFILE", "Too many open files in system"],
  [EMFILE, "EMFILE", "Too many open files"],
  [EPIPE, "EPIPE", "Broken pipe"],
  [ENOSYS, "ENOSYS", "Function not implemented"],
  [ELOOP, "ELOOP", "Too many levels of symbolic links"],
  [ENOTSOCK, "ENOTSOCK", "Socket operation on non-socket"],
  [ENOPROTOOPT, "ENOPROTOOPT", "Protocol not available"],
  [EPROTONOSUPPORT, "EPROTONOSUPPORT", "Protocol not supported"],
  [EOPNOTSUPP, "EOPNOTSUPP", "Operation not supported"],
  [EAFNOSUPPORT, "EAFNOSUPPORT", "Address family not supported by protocol"],
  [EADDRINUSE, "EADDRINUSE", "Address already in use"],
  [EADDRNOTAVAIL, "EADDRNOTAVAIL", "Cannot assign requested address"],
  [ENETUNREACH, "ENETUNREACH", "Network is unreachable"],
  [ECONNABORTED, "ECONNABORTED", "Software caused connection abort"],
  [ECONNRESET, "ECONNRESET", "Connection reset by peer"],
  [ENOBUFS, "ENOBUFS", "No buffer space available"],
  [EISCONN, "EISCONN", "Transport endpoint is already connected"],
  [ENOTCONN, "ENOTCONN", "Transport endpoint is not connected"],
  [ETIMEDOUT, "ETIMEDOUT", "Connection timed out"],
  [ECONNREFUSED, "ECONNREFUSED", "Connection refused"],
  [EHOSTUNREACH, "EHOSTUNREACH", "No route to host"],
  [EALREADY, "EALREADY", "Operation already in progress"],
  [EIO, "EIO", "Input/output error"],
  [EBUSY, "EBUSY", "Device or resource busy"],
  [EDESTADDRREQ, "EDESTADDRREQ", "Destination address required"],
  [EMSGSIZE, "EMSGSIZE", "Message too long"],
  [EINPROGRESS, "EINPROGRESS", "Operation now in progress"],
];

const NAMES = new Map<number, string>(TABLE.map(([n, name]) => [n, name]));
const MESSAGES = new Map<number, string>(TABLE.map(([n, , msg]) => [n, msg]));
const NUMBERS = new Map<string, number>(TABLE.map(([n, name]) => [name, n]));

function magnitude(e: number): number {
  if (typeof e !== "number") throw new TypeError(`errno must be a number, got ${typeof e}`);
  return Math.abs(e);
}

/**
 * Names an error number, accepting either sign (`11` and `-11` are both
 * `"EAGAIN"`).
 *
 * @param e An errno value, or a negative result of a POSIX-shaped call.
 * @returns The symbolic name, or `"E<number>"` for numbers this library never
 * produces.
 *
 * @example Naming a failed call's result
 * ```ts
 * import { close, errnoName } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errnoName(close(12345)), "EBADF");
 * ```
 */
export function errnoName(e: number): string {
  const n = magnitude(e);
  return NAMES.get(n) ?? `E${n}`;
}

/**
 * The error number of a symbolic name: the inverse of
 * {@linkcode errnoName} (`EWOULDBLOCK` gives `EAGAIN`'s 11).
 *
 * @param name A name such as `"ECONNRESET"` (an error's `code`, say).
 * @returns The positive errno, or 0 for a name this library does not know.
 *
 * @example Mapping an error code
 * ```ts
 * import { ECONNRESET, errnoNumber } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errnoNumber("ECONNRESET"), ECONNRESET);
 * assert.equal(errnoNumber("ENOSUCHTHING"), 0);
 * ```
 */
export function errnoNumber(name: string): number {
  if (typeof name !== "string") throw new TypeError(`name must be a string, got ${typeof name}`);
  return name === "EWOULDBLOCK" ? EAGAIN : NUMBERS.get(name) ?? 0;
}

/**
 * Describes an error number as `strerror(3)` does, accepting either sign.
 *
 * @param e An errno value, or a negative result of a POSIX-shaped call.
 * @returns The message glibc prints for it, or `"Unknown error N"`.
 *
 * @example
 * ```ts
 * import { EAGAIN, strerror } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.equal(strerror(-EAGAIN), "Resource temporarily unavailable");
 * ```
 */
export function strerror(e: number): string {
  const n = magnitude(e);
  return MESSAGES.get(n) ?? `Unknown error ${n}`;
}

/**
 * The error the object layer throws for a failed call: it carries the
 * positive `errno`, its symbolic `code` and the `syscall` that failed.
 *
 * @example Catching a failure of the object layer
 * ```ts
 * import { EBADF, ErrnoError } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const err = new ErrnoError(-EBADF, "close");
 * assert.equal(err.errno, EBADF);
 * assert.equal(err.code, "EBADF");
 * assert.equal(err.message, "close: Bad file descriptor (EBADF)");
 * ```
 */
export class ErrnoError extends Error {
  /** The positive error number, for example `11` for `EAGAIN`. */
  readonly errno: number;
  /** The symbolic name, for example `"EAGAIN"`. */
  readonly code: string;
  /** The call that failed, for example `"epoll_ctl"`. */
  readonly syscall: string;

  /**
   * Builds the error from a code of either sign.
   *
   * @param errno The error number (`11` or `-11`).
   * @param syscall The name of the call that failed.
   */
  constructor(errno: number, syscall = "") {
    const n = magnitude(errno);
    const code = errnoName(n);
    super(`${syscall ? syscall + ": " : ""}${strerror(n)} (${code})`);
    this.name = "ErrnoError";
    this.errno = n;
    this.code = code;
    this.syscall = syscall;
  }
}

/**
 * Returns `result` when it is not negative, and throws an
 * {@linkcode ErrnoError} for a `-errno` result.
 *
 * @param result The result of a POSIX-shaped call.
 * @param syscall The call's name, used in the error message.
 * @returns `result`, known to be `>= 0`.
 * @throws {ErrnoError} When `result < 0`.
 *
 * @example
 * ```ts
 * import { check, close, ErrnoError } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => check(close(12345), "close"), ErrnoError);
 * ```
 */
export function check(result: number, syscall: string): number {
  if (result < 0) throw new ErrnoError(result, syscall);
  return result;
}
