/**
 * Clients that connect and then reset (`SO_LINGER` 0, then `close`: the
 * kernel sends RST), made through the libc binding (net/native/libc.ts)
 * because Deno offers no `SO_LINGER`. Used to fill a server's accept queue
 * with dead connections. {@linkcode resetClientsAvailable} says whether it
 * can run here (Linux, FFI allowed).
 *
 * @module
 */

import { AF_INET, SOCK_STREAM, SOL_SOCKET } from "../mod.ts";
import { openLibc } from "../net/native/libc.ts";

const libc = openLibc();
/** Linux's `SO_LINGER` (the library has no such option). */
const SO_LINGER = 13;

/** Whether the libc binding is available. */
export function resetClientsAvailable(): boolean {
  return typeof libc !== "string";
}

/**
 * Opens `count` blocking connections to 127.0.0.1:`port` (each returns once
 * the kernel completed the handshake, so the server's backlog must have
 * room), then resets them all. Synchronous: the caller's event loop does not
 * run meanwhile, so a Deno server in this process cannot accept them before
 * they are dead. Returns how many connected.
 */
export function resetFlood(port: number, count: number): number {
  if (typeof libc === "string") throw new Error(libc);
  const linger = new Uint8Array(new Int32Array([1, 0]).buffer); // l_onoff 1, l_linger 0
  const fds: number[] = [];
  let connected = 0;
  try {
    for (let i = 0; i < count; i++) {
      const fd = libc.socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) break;
      fds.push(fd);
      if (libc.connect(fd, { family: AF_INET, address: "127.0.0.1", port }) !== 0) break;
      connected++;
      libc.setsockopt(fd, SOL_SOCKET, SO_LINGER, linger);
    }
  } finally {
    for (const fd of fds) libc.close(fd);
  }
  return connected;
}
