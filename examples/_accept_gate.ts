/**
 * Accepting connections when descriptors run out: the standard `EMFILE`
 * recipe for a level-triggered server.
 *
 * When `accept` fails with `EMFILE`, the connection stays
 * queued and the listener stays readable, so a level-triggered loop would
 * be woken for it again at once, forever: a busy loop that serves nobody.
 * The recipe (libuv, nginx, and `accept(2)`'s own advice): stop watching the
 * listener, and watch it again when a descriptor is freed. The queued
 * clients wait in the backlog meanwhile, and are served as connections
 * close.
 *
 * @module
 */

import {
  accept,
  ECONNABORTED,
  EINTR,
  EMFILE,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCtl,
  EPOLLIN,
} from "../mod.ts";

/** A listener watched by an epoll set, unwatched while descriptors run out. */
export class AcceptGate {
  /** Whether the listener is unwatched because `accept` hit the descriptor limit. */
  paused = false;
  /** How many times the listener was unwatched (for `--stats` and tests). */
  pauses = 0;

  /**
   * Adds `listenFd` to `epfd` for `events` (`EPOLLIN`, or `EPOLLIN |
   * EPOLLET`) with `data`. Edge-triggered servers need the recipe too: the
   * `EPOLL_CTL_MOD` that watches the listener again re-polls it, so the
   * connections still queued give a fresh edge.
   */
  constructor(
    readonly epfd: number,
    readonly listenFd: number,
    readonly data: unknown,
    readonly events: number = EPOLLIN,
  ) {
    epollCtl(epfd, EPOLL_CTL_ADD, listenFd, { events, data });
  }

  /**
   * Accepts every pending connection, calling `onConnection` with each new
   * fd. On `EMFILE` it stops watching the listener (see
   * {@linkcode fdClosed}).
   */
  acceptAll(onConnection: (fd: number) => void): void {
    for (;;) {
      const fd = accept(this.listenFd);
      if (fd >= 0) {
        onConnection(fd);
        continue;
      }
      // A connection that died in the queue: skip it (accept(2), "Error handling").
      if (fd === -ECONNABORTED || fd === -EINTR) continue;
      if (fd === -EMFILE) {
        this.paused = true;
        this.pauses++;
        epollCtl(this.epfd, EPOLL_CTL_MOD, this.listenFd, { events: 0, data: this.data });
      }
      return; // -EAGAIN: nothing more queued
    }
  }

  /** Call after closing a descriptor: watches the listener again if it was paused. */
  fdClosed(): void {
    if (!this.paused) return;
    this.paused = false;
    epollCtl(this.epfd, EPOLL_CTL_MOD, this.listenFd, { events: this.events, data: this.data });
  }
}
