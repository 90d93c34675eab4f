/**
 * The datagram calls: `sendto`, `recvfrom`, `send`, `recv`, `sendmmsg`,
 * `recvmmsg`. One `sendto` is one datagram and one `recvfrom` takes at most
 * one, on datagram sockets of every backend (`socket(..., SOCK_DGRAM, 0)`,
 * `socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)`). On a stream socket `send` and
 * `recv` are `write` and `read` (the `native` backend also passes other
 * flags, such as `MSG_PEEK`, to the kernel; the others answer
 * `-EOPNOTSUPP`). None of them blocks or throws for a condition C reports
 * through errno.
 *
 * @module
 */

import { checkBuffer, requireNumber } from "../runtime/core/fd_table.ts";
import type { SockAddr } from "./sockaddr.ts";
import type { RecvMessage, SendMessage } from "./socket_description.ts";
import { sock } from "./_socket_lookup.ts";
import { traced, tracing } from "../runtime/core/_call_trace.ts";

function optionalAddr(addr: unknown, what: string): void {
  if (addr !== undefined && addr !== null && typeof addr !== "object") {
    throw new TypeError(`${what} must be a SockAddr object, null or undefined`);
  }
}

/** Checks a batch's types: an array of `{ buf: Uint8Array, addr?: object }`. */
function checkMessages(msgs: readonly (SendMessage | RecvMessage)[], nullAddr: boolean): void {
  if (!Array.isArray(msgs)) throw new TypeError("msgs must be an array");
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m === null || typeof m !== "object") throw new TypeError(`msgs[${i}] must be an object`);
    checkBuffer(m.buf, `msgs[${i}].buf`);
    const a = m.addr;
    if (a !== undefined && (a === null ? !nullAddr : typeof a !== "object")) {
      throw new TypeError(
        `msgs[${i}].addr must be a SockAddr object${nullAddr ? ", null" : ""} or undefined`,
      );
    }
  }
}

/** One slot reused by `recvfrom` and `recv` (the calls are synchronous). */
const slot: RecvMessage = { buf: new Uint8Array(0) };

/**
 * Sends one datagram (`sendto(2)`).
 *
 * @param fd The socket.
 * @param buf The datagram (all of it is sent, or nothing).
 * @param flags 0, or `MSG_DONTWAIT` / `MSG_NOSIGNAL` (accepted: nothing
 * here blocks or raises signals).
 * @param addr The destination; omit it (or `null`) on a connected socket.
 * @returns Bytes sent; `-EAGAIN` when the send buffer is full;
 * `-EDESTADDRREQ` unconnected without `addr`; `-EMSGSIZE` over the
 * protocol's limit (65,507 bytes for UDP over IPv4); `-ECONNREFUSED` on a
 * connected socket whose peer's port was found closed; `-EISCONN` with an
 * address on a connected in-memory socket; `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import {
 *   AF_INET, bind, close, getsockname, recvfrom, sendto, socket, SOCK_DGRAM, type SockAddr,
 * } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const a = socket(AF_INET, SOCK_DGRAM, 0);
 * if (a >= 0) { // -EPROTONOSUPPORT on the deno backend without --unstable-net
 *   const b = socket(AF_INET, SOCK_DGRAM, 0);
 *   bind(b, { family: AF_INET, address: "127.0.0.1", port: 0 });
 *   const to = {} as SockAddr;
 *   getsockname(b, to);
 *   assert.equal(sendto(a, new Uint8Array([1, 2, 3]), 0, to), 3);
 *   const buf = new Uint8Array(16);
 *   let n = recvfrom(b, buf, 0);
 *   for (let i = 0; n === -11 && i < 1000; i++) { // EAGAIN: not there yet
 *     await new Promise((r) => setTimeout(r, 1));
 *     n = recvfrom(b, buf, 0);
 *   }
 *   assert.equal(n, 3);
 *   close(a);
 *   close(b);
 * }
 * ```
 */
export function sendto(
  fd: number,
  buf: Uint8Array,
  flags: number,
  addr?: SockAddr | null,
): number {
  if (tracing) return traced("sendto", sendto, fd, buf, flags, addr);
  checkBuffer(buf);
  requireNumber(flags, "flags");
  optionalAddr(addr, "addr");
  const s = sock(fd);
  return typeof s === "number" ? s : s.sendto(buf, flags, addr ?? null);
}

/**
 * Receives one datagram (`recvfrom(2)`). The rest of a datagram longer than
 * `buf` is discarded.
 *
 * @param fd The socket.
 * @param buf Where the datagram goes.
 * @param flags 0, `MSG_PEEK` (leave it queued), `MSG_TRUNC` (return the
 * datagram's real length), `MSG_DONTWAIT` (accepted).
 * @param from Filled in place with the sender's address when given.
 * @returns The datagram's bytes (0 for an empty one); `-EAGAIN` when none
 * is queued; `-ECONNREFUSED` (a connected socket's peer port was found
 * closed); `-EBADF`, `-ENOTSOCK`.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, MSG_PEEK, recvfrom, send, SOCK_DGRAM, socketpair } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
 * send(sv[0], new Uint8Array([1, 2, 3, 4]), 0);
 * const two = new Uint8Array(2);
 * assert.equal(recvfrom(sv[1], two, MSG_PEEK), 2); // still queued
 * assert.equal(recvfrom(sv[1], two, 0), 2); // the rest is discarded
 * assert.equal(recvfrom(sv[1], two, 0), -11); // EAGAIN
 * sv.forEach(close);
 * ```
 */
export function recvfrom(fd: number, buf: Uint8Array, flags: number, from?: SockAddr): number {
  if (tracing) return traced("recvfrom", recvfrom, fd, buf, flags, from);
  checkBuffer(buf);
  requireNumber(flags, "flags");
  if (from !== undefined && (from === null || typeof from !== "object")) {
    throw new TypeError("from must be a SockAddr object or undefined");
  }
  const s = sock(fd);
  if (typeof s === "number") return s;
  slot.buf = buf;
  slot.addr = from;
  const n = s.recvmsg(slot, flags);
  slot.buf = new Uint8Array(0);
  slot.addr = undefined;
  return n;
}

/**
 * Sends on a connected socket (`send(2)`): {@linkcode sendto} without an
 * address.
 *
 * @param fd The socket.
 * @param buf The datagram (or, on a stream socket, the bytes).
 * @param flags As for {@linkcode sendto}.
 * @returns As {@linkcode sendto}.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, recv, send, SOCK_DGRAM, socketpair } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
 * assert.equal(send(sv[0], new Uint8Array(0), 0), 0); // an empty datagram
 * assert.equal(recv(sv[1], new Uint8Array(8), 0), 0); // reads as 0
 * assert.equal(recv(sv[1], new Uint8Array(8), 0), -11); // and is gone
 * sv.forEach(close);
 * ```
 */
export function send(fd: number, buf: Uint8Array, flags: number): number {
  if (tracing) return traced("send", send, fd, buf, flags);
  return sendto(fd, buf, flags, null);
}

/**
 * Receives without reporting the sender (`recv(2)`): {@linkcode recvfrom}
 * without `from`.
 *
 * @param fd The socket.
 * @param buf Where the datagram goes.
 * @param flags As for {@linkcode recvfrom}.
 * @returns As {@linkcode recvfrom}.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, MSG_TRUNC, recv, send, SOCK_DGRAM, socketpair } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
 * send(sv[0], new Uint8Array(100), 0);
 * assert.equal(recv(sv[1], new Uint8Array(10), MSG_TRUNC), 100); // the real length
 * sv.forEach(close);
 * ```
 */
export function recv(fd: number, buf: Uint8Array, flags: number): number {
  if (tracing) return traced("recv", recv, fd, buf, flags);
  return recvfrom(fd, buf, flags);
}

/**
 * Sends several datagrams (`sendmmsg(2)`); on the `native` backend in one
 * system call.
 *
 * @param fd The socket.
 * @param msgs The datagrams, each `{ buf, addr? }`.
 * @param flags As for {@linkcode sendto}.
 * @returns How many were sent, in order, stopping at the first that would
 * block or fails; that one's `-errno` when it is the first.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, recvmmsg, sendmmsg, SOCK_DGRAM, socketpair, type RecvMessage } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
 * const out = [{ buf: new Uint8Array([1]) }, { buf: new Uint8Array([2, 2]) }];
 * assert.equal(sendmmsg(sv[0], out, 0), 2);
 * const slots: RecvMessage[] = [0, 1, 2].map(() => ({ buf: new Uint8Array(8) }));
 * assert.equal(recvmmsg(sv[1], slots, 0), 2);
 * assert.deepEqual([slots[0].length, slots[1].length], [1, 2]);
 * sv.forEach(close);
 * ```
 */
export function sendmmsg(fd: number, msgs: readonly SendMessage[], flags: number): number {
  if (tracing) return traced("sendmmsg", sendmmsg, fd, msgs, flags);
  checkMessages(msgs, true);
  requireNumber(flags, "flags");
  const s = sock(fd);
  return typeof s === "number" ? s : s.sendmmsg(msgs, flags);
}

/**
 * Receives several datagrams (`recvmmsg(2)`); on the `native` backend in
 * one system call. Each filled slot gets `length` (bytes stored; the real
 * length with `MSG_TRUNC`), `addr` (the sender, filled in place when it is
 * already an object) and `flags` (`MSG_TRUNC` when the datagram was cut).
 *
 * @param fd The socket.
 * @param msgs The slots, each `{ buf }`; reuse them from call to call.
 * @param flags As for {@linkcode recvfrom}.
 * @returns How many slots were filled; `-EAGAIN` when none was queued.
 * @throws {TypeError} For arguments of the wrong type.
 *
 * @example
 * ```ts
 * import { AF_UNIX, close, MSG_TRUNC, recvmmsg, send, SOCK_DGRAM, socketpair, type RecvMessage } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const sv: number[] = [];
 * socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
 * send(sv[0], new Uint8Array(10), 0);
 * const slots: RecvMessage[] = [{ buf: new Uint8Array(4) }];
 * assert.equal(recvmmsg(sv[1], slots, 0), 1);
 * assert.equal(slots[0].flags, MSG_TRUNC);
 * sv.forEach(close);
 * ```
 */
export function recvmmsg(fd: number, msgs: RecvMessage[], flags: number): number {
  if (tracing) return traced("recvmmsg", recvmmsg, fd, msgs, flags);
  checkMessages(msgs, false);
  requireNumber(flags, "flags");
  const s = sock(fd);
  return typeof s === "number" ? s : s.recvmmsg(msgs, flags);
}
