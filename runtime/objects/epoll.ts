/**
 * `Epoll`: the idiomatic object layer over the same epoll core. Methods
 * throw {@linkcode ErrnoError} instead of returning `-errno`, and act on
 * the kernel current when the object was made.
 *
 * @module
 */

import { check } from "../core/errno.ts";
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD } from "../core/constants.ts";
import { FdGuard } from "./_fd_guard.ts";
import { timeoutTimespec } from "../core/time.ts";
import { epollCreate1, epollCtl, type EpollEvent, epollPwait2 } from "../epoll/epoll.ts";

/**
 * An epoll instance as an object.
 *
 * @example An event loop over a pipe
 * ```ts
 * import { close, Epoll, EPOLLIN, pipe, write } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * using ep = new Epoll();
 * const fds: number[] = [];
 * pipe(fds);
 * ep.add(fds[0], EPOLLIN, { name: "pipe" });
 * write(fds[1], new Uint8Array([1]));
 * const events = await ep.wait(8, 1000);
 * assert.deepEqual(events, [{ events: EPOLLIN, data: { name: "pipe" } }]);
 * fds.forEach(close);
 * ```
 */
export class Epoll implements Disposable {
  /** The epoll's fd; usable with the POSIX-shaped calls too. */
  readonly fd: number;
  #guard: FdGuard;

  /**
   * Creates an epoll instance.
   *
   * @param flags `0` (the default) or `EPOLL_CLOEXEC`.
   * @throws {ErrnoError} `EINVAL` for other flags, `EMFILE`.
   */
  constructor(flags?: number) {
    this.fd = check(epollCreate1(flags === undefined ? 0 : flags), "epoll_create1");
    this.#guard = new FdGuard(this.fd);
  }

  /**
   * Registers `fd` (`EPOLL_CTL_ADD`).
   *
   * @param fd The descriptor to watch.
   * @param events The `EPOLL*` mask, flags included.
   * @param data Returned with every event of this fd (default: `fd`).
   * @throws {ErrnoError} `EEXIST`, `EBADF`, `EINVAL`, `ELOOP`, `EPERM`.
   */
  add(fd: number, events: number, data?: unknown): void {
    if (data === undefined) data = fd;
    const g = this.#guard;
    g.run(() =>
      check(epollCtl(g.live("epoll_ctl"), EPOLL_CTL_ADD, fd, { events, data }), "epoll_ctl")
    );
  }

  /**
   * Changes a registration (`EPOLL_CTL_MOD`); re-arms `EPOLLONESHOT`.
   *
   * @param fd The watched descriptor.
   * @param events The new mask.
   * @param data The new user data (default: `fd`).
   * @throws {ErrnoError} `ENOENT`, `EBADF`, `EINVAL`.
   */
  modify(fd: number, events: number, data?: unknown): void {
    if (data === undefined) data = fd;
    const g = this.#guard;
    g.run(() =>
      check(epollCtl(g.live("epoll_ctl"), EPOLL_CTL_MOD, fd, { events, data }), "epoll_ctl")
    );
  }

  /**
   * Deregisters `fd` (`EPOLL_CTL_DEL`).
   *
   * @param fd The watched descriptor.
   * @throws {ErrnoError} `ENOENT`, `EBADF`.
   */
  delete(fd: number): void {
    const g = this.#guard;
    g.run(() => check(epollCtl(g.live("epoll_ctl"), EPOLL_CTL_DEL, fd), "epoll_ctl"));
  }

  /**
   * Waits for events.
   *
   * @param maxevents Most events to return (default 64).
   * @param timeoutMs -1 (the default) waits for an event, 0 polls.
   * @returns The events (empty on timeout, and when `close` ends the wait).
   * @throws {ErrnoError} `EBADF` once closed, `EINVAL`.
   */
  async wait(maxevents?: number, timeoutMs?: number): Promise<EpollEvent[]> {
    if (maxevents === undefined) maxevents = 64;
    if (timeoutMs === undefined) timeoutMs = -1;
    const g = this.#guard;
    const events: EpollEvent[] = [];
    const t = timeoutTimespec(timeoutMs);
    const n = await g.run(() => epollPwait2(g.live("epoll_wait"), events, maxevents, t, g.signal));
    return g.results(events, n, "epoll_wait");
  }

  /**
   * Yields batches of events until the epoll is closed.
   *
   * @returns An async iterator of event batches.
   */
  [Symbol.asyncIterator](): AsyncGenerator<EpollEvent[], void, undefined> {
    return this.#guard.batches(() => this.wait());
  }

  /**
   * Closes the epoll fd and ends pending waits (they return no events);
   * later calls fail with `EBADF`. Idempotent.
   */
  close(): void {
    this.#guard.close();
  }

  /** Same as {@linkcode Epoll.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
