/**
 * Datagram sockets of the suite's backend over loopback: whether it has
 * them, a bound socket, and a receive that waits.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  bind,
  close,
  EAGAIN,
  EPOLLERR,
  EPOLLIN,
  getsockname,
  recvfrom,
  SOCK_DGRAM,
  type SockAddr,
  socket,
} from "../../mod.ts";
import { LOOPBACK } from "./_loopback.ts";
import { waitFor } from "./_readiness.ts";

/**
 * Whether the current backend makes datagram sockets (the Deno backend needs
 * `Deno.listenDatagram`, which deno.json's `"unstable": ["net"]` provides).
 */
export const DATAGRAMS: boolean = (() => {
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  close(fd);
  return true;
})();

/** A bound datagram socket of the current backend on loopback, and its address. */
export function udpBound(family: 2 | 10 = AF_INET): { fd: number; addr: SockAddr } {
  const fd = socket(family, SOCK_DGRAM, 0);
  assert.ok(fd >= 0, `socket(SOCK_DGRAM) gave ${fd}`);
  const address = family === AF_INET ? LOOPBACK : "::1";
  assert.equal(bind(fd, { family, address, port: 0 } as SockAddr), 0);
  const addr = {} as SockAddr;
  assert.equal(getsockname(fd, addr), 0);
  return { fd, addr };
}

/**
 * `recvfrom`, waiting with epoll while it says `-EAGAIN` (a Deno-backend
 * datagram arrives a loop turn after it was sent). Fails after `ms`.
 */
export async function recvWithin(
  fd: number,
  buf: Uint8Array,
  flags = 0,
  from?: SockAddr,
  ms = 5000,
): Promise<number> {
  for (;;) {
    const n = recvfrom(fd, buf, flags, from);
    if (n !== -EAGAIN) return n;
    assert.ok((await waitFor(fd, EPOLLIN, ms)) & (EPOLLIN | EPOLLERR), `fd ${fd}: no EPOLLIN`);
  }
}
