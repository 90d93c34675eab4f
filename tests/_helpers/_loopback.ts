/**
 * TCP over loopback with library sockets, obtained only through the public
 * calls (`socket`, `bind`, `listen`, `connect`, `accept`): which backend the
 * suite runs on, a listening socket, a connected pair, ports known to be
 * closed or free, and a connection its peer resets.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  connect,
  EINPROGRESS,
  EPOLLIN,
  EPOLLOUT,
  getSocketBackend,
  getsockname,
  getsockopt,
  type InetSockAddr,
  listen,
  SO_ERROR,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  write,
} from "../../mod.ts";
import { openLibc } from "../../net/native/libc.ts";
import { waitFor } from "./_readiness.ts";
import { closeQuietly, libReadExactly } from "./_streams.ts";

/**
 * Whether `socket()` makes kernel sockets. The suite runs once per backend
 * (`task test`, then `DENO_EPOLL_BACKEND=native task test`); where the Deno
 * backend can only approximate Linux, a test states both answers, the
 * native one being Linux's.
 */
export const NATIVE: boolean = getSocketBackend() === "native";

/** The loopback address every network test uses. */
export const LOOPBACK = "127.0.0.1";

/** A listening library socket on 127.0.0.1 (ephemeral port), its address and port. */
export function listenLoopback(
  backlog = 128,
): { fd: number; addr: InetSockAddr; port: number } {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  assert.ok(fd >= 0);
  assert.equal(bind(fd, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
  assert.equal(listen(fd, backlog), 0);
  const addr = {} as SockAddr;
  assert.equal(getsockname(fd, addr), 0);
  assert.ok(addr.family === AF_INET && addr.port > 0);
  return { fd, addr, port: addr.port };
}

let heldClosedPort = 0;

/**
 * A port on 127.0.0.1 that nothing listens on. Where FFI is available it is
 * held for the whole test process by a kernel socket bound but never
 * listening (close-on-exec), so no parallel test can take it and a connect
 * cannot self-connect to it (Linux may pick a free ephemeral port as the
 * connecting socket's own, and a connect to itself succeeds): connects to it
 * are always refused. Elsewhere it is found by listening and closing.
 */
export function closedPort(): number {
  if (heldClosedPort !== 0) return heldClosedPort;
  const libc = openLibc();
  if (typeof libc !== "string") {
    const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const addr = { family: AF_INET, address: LOOPBACK, port: 0 } as SockAddr;
    if (fd >= 0 && libc.bind(fd, addr) === 0 && libc.getsockname(fd, addr) === 0) {
      // Never closed: the port stays reserved until the process exits.
      if (addr.family === AF_INET) return heldClosedPort = addr.port;
    }
    if (fd >= 0) libc.close(fd);
  }
  return freePort();
}

/**
 * A port on 127.0.0.1 that was free a moment ago (found by listening and
 * closing), for a child process to listen on.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Waits for a pending connection on the listening `lfd` and accepts it. */
export async function acceptOne(lfd: number): Promise<number> {
  assert.equal(await waitFor(lfd, EPOLLIN), EPOLLIN);
  const fd = accept(lfd);
  assert.ok(fd >= 0, `accept gave ${fd}`);
  return fd;
}

/** A library client connected to 127.0.0.1:`port` (connect, EPOLLOUT, SO_ERROR 0). */
export async function connectLoopback(port: number): Promise<number> {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  assert.ok(fd >= 0);
  try {
    assert.equal(connect(fd, { family: AF_INET, address: LOOPBACK, port }), -EINPROGRESS);
    assert.equal(await waitFor(fd, EPOLLOUT), EPOLLOUT);
    assert.equal(getsockopt(fd, SOL_SOCKET, SO_ERROR), 0);
    return fd;
  } catch (e) {
    close(fd);
    throw e;
  }
}

/** A library fd accepted over loopback and its Deno peer; `using` closes what is still open. */
export interface AcceptedPair extends Disposable {
  /** The listening library socket. */
  readonly listener: number;
  /** The accepted library socket. */
  readonly fd: number;
  /** The Deno client connected to it. */
  readonly peer: Deno.Conn;
  /** Closes `fd` now (as the test's own `close`); the result of `close`. */
  closeFd(): number;
}

/** A connected pair: a library fd accepted from a listening library socket, and its Deno peer. */
export async function acceptedPair(): Promise<AcceptedPair> {
  const { fd: listener, port } = listenLoopback();
  let peer: Deno.Conn | undefined;
  try {
    peer = await Deno.connect({ hostname: LOOPBACK, port });
    const fd = await acceptOne(listener);
    const conn = peer;
    let open = true;
    return {
      listener,
      fd,
      peer: conn,
      closeFd() {
        open = false;
        return close(fd);
      },
      [Symbol.dispose]() {
        closeQuietly(conn);
        if (open) close(fd);
        close(listener);
      },
    };
  } catch (e) {
    if (peer) closeQuietly(peer);
    close(listener);
    throw e;
  }
}

/**
 * Whether this machine has an IPv6 loopback (`::1`), found with Deno's own
 * listener, independently of the library under test.
 */
export const IPV6_LOOPBACK: boolean = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

/**
 * The resetting peer, in a child process: it connects, sends "ping", reads
 * 4 bytes, lets more arrive unread, and exits. The kernel closes its socket
 * with unread bytes and no FIN first: a RST in ESTABLISHED. (An in-process
 * `Deno.Conn.close()` shuts the write side first, so its RST follows a FIN.)
 */
const RESET_PEER = `
const c = await Deno.connect({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
await c.write(new TextEncoder().encode("ping"));
const b = new Uint8Array(4);
for (let got = 0; got < 4;) got += (await c.read(b.subarray(got)))!;
await new Promise((r) => setTimeout(r, 100));
Deno.exit(0);
`;

/**
 * Runs `body` with a library-side TCP connection whose peer resets it: the
 * peer's "ping" has been read and "never read" written to it, which its
 * kernel answers with a RST once the peer exits. Closes everything after.
 */
export async function withPeerReset(body: (fd: number) => Promise<void> | void): Promise<void> {
  const { fd: lfd, port } = listenLoopback();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", RESET_PEER, String(port)],
    stdin: "null",
    stdout: "null",
  }).spawn();
  let fd = -1;
  try {
    fd = await acceptOne(lfd);
    assert.equal(new TextDecoder().decode(await libReadExactly(fd, 4)), "ping");
    assert.equal(write(fd, new TextEncoder().encode("never read")), 10);
    await body(fd);
    assert.equal((await child.status).code, 0);
  } finally {
    await child.status;
    if (fd >= 0) close(fd);
    close(lfd);
  }
}
