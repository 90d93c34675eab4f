/**
 * What the Linux conformance tests (`conformance_*_test.ts`) share: a
 * scope that closes every fd a test opened, and the `epoll_ctl` and
 * `epoll_wait` calls asserted to succeed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  close,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  epollWait,
  eventfd,
  getsockname,
  pipe,
  SOCK_STREAM,
  type SockAddr,
  socketpair,
} from "../mod.ts";

/** The port a library listener is bound to. */
export function listenerPort(fd: number): { port: number } {
  const a = {} as SockAddr;
  assert.equal(getsockname(fd, a), 0);
  assert.ok(a.family !== AF_UNIX);
  return { port: a.port };
}

/** Fds opened by one test, all closed at its end. */
export class Scope {
  readonly fds: number[] = [];
  track(fd: number): number {
    assert.ok(Number.isInteger(fd) && fd >= 0, `expected an fd, got ${fd}`);
    this.fds.push(fd);
    return fd;
  }
  /** Closes one tracked fd now (and forgets it). */
  close(fd: number): void {
    const i = this.fds.lastIndexOf(fd);
    assert.ok(i >= 0, `fd ${fd} is not tracked`);
    this.fds.splice(i, 1);
    assert.equal(close(fd), 0);
  }
  closeAll(): void {
    while (this.fds.length > 0) close(this.fds.pop()!);
  }
  ep(): number {
    return this.track(epollCreate1(0));
  }
  pipe(): [number, number] {
    const fds: number[] = [];
    assert.equal(pipe(fds), 0);
    this.track(fds[0]);
    this.track(fds[1]);
    return [fds[0], fds[1]];
  }
  pair(): [number, number] {
    const sv: number[] = [];
    assert.equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    this.track(sv[0]);
    this.track(sv[1]);
    return [sv[0], sv[1]];
  }
  eventfd(init = 0, flags = 0): number {
    return this.track(eventfd(init, flags));
  }
}

/** Runs `fn` with a fresh {@linkcode Scope}, closing every fd it tracked after. */
export function scoped(fn: (s: Scope) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const s = new Scope();
    try {
      await fn(s);
    } finally {
      s.closeAll();
    }
  };
}

/** `EPOLL_CTL_ADD`, asserted to succeed. */
export function add(epfd: number, fd: number, events: number, data: unknown = fd): void {
  assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fd, { events, data }), 0);
}

/** `EPOLL_CTL_MOD`, asserted to succeed. */
export function mod(epfd: number, fd: number, events: number, data: unknown = fd): void {
  assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, fd, { events, data }), 0);
}

/** epoll_wait, returning copies of the filled entries. */
export async function wait(epfd: number, maxevents = 16, timeoutMs = 0): Promise<EpollEvent[]> {
  const out: EpollEvent[] = [];
  const n = await epollWait(epfd, out, maxevents, timeoutMs);
  assert.ok(n >= 0, `epollWait failed with ${n}`);
  return out.slice(0, n).map(({ events, data }) => ({ events, data }));
}

/** The number epoll_wait returns (or -errno). */
export async function count(epfd: number, maxevents = 16, timeoutMs = 0): Promise<number> {
  return await epollWait(epfd, [], maxevents, timeoutMs);
}

/** `n` bytes of `fill`. */
export function bytes(n: number, fill = 0x61): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** One byte to write. */
export const W = new TextEncoder().encode("w");
