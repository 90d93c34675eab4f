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
 * {@linkcode AcceptGate} is the epoll form (`EPOLL_CTL_MOD` to an empty mask
 * and back); {@linkcode KqueueAcceptGate} the kqueue form (`EV_DISABLE` and
 * `EV_ENABLE` on the listener's `EVFILT_READ`, which keeps the knote and its
 * `udata`).
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
  EV_ADD,
  EV_DISABLE,
  EV_ENABLE,
  EVFILT_READ,
  type KEvent,
} from "../mod.ts";

/** What a connection that died in the queue gives: skip it (accept(2), "Error handling"). */
const SKIP = [-ECONNABORTED, -EINTR];

/** Connections accepted per listener event before the other ready events get their turn. */
export const ACCEPT_BATCH = 64;

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
   * Accepts pending connections, calling `onConnection` with each new fd:
   * until `-EAGAIN`, or at most `max` of them. On `EMFILE` it stops watching
   * the listener (see {@linkcode fdClosed}).
   *
   * The bound keeps a connection flood from starving the established
   * connections: the events already harvested wait while this loop runs,
   * and a flood can keep the queue full for as long as it lasts. After
   * `max` accepts the listener is re-armed (`EPOLL_CTL_MOD` re-polls it, so
   * an edge-triggered set gets a fresh edge for the connections still
   * queued) and comes back behind the events ready now.
   */
  acceptAll(onConnection: (fd: number) => void, max = ACCEPT_BATCH): void {
    for (let n = 0; n < max; n++) {
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
    epollCtl(this.epfd, EPOLL_CTL_MOD, this.listenFd, { events: this.events, data: this.data });
  }

  /** Call after closing a descriptor: watches the listener again if it was paused. */
  fdClosed(): void {
    if (!this.paused) return;
    this.paused = false;
    epollCtl(this.epfd, EPOLL_CTL_MOD, this.listenFd, { events: this.events, data: this.data });
  }
}

/**
 * The same recipe for a kqueue server: on `EMFILE` the listener's
 * `EVFILT_READ` is disabled (`EV_DISABLE`), and enabled again (`EV_ENABLE`)
 * when a descriptor is freed. The changes go through `submit`, which a
 * server usually batches into its next `kevent` call.
 */
export class KqueueAcceptGate {
  /** Whether the listener's filter is disabled because `accept` hit the descriptor limit. */
  paused = false;
  /** How many times it was disabled. */
  pauses = 0;

  /** Adds `listenFd`'s `EVFILT_READ` (level-triggered) with `udata`, through `submit`. */
  constructor(
    readonly listenFd: number,
    readonly udata: unknown,
    readonly submit: (change: KEvent) => void,
  ) {
    this.#change(EV_ADD);
  }

  /**
   * Accepts up to `pending` connections (the listener event's `data`),
   * calling `onConnection` with each new fd. On `EMFILE` it disables the
   * listener (see {@linkcode fdClosed}).
   */
  acceptAll(pending: number, onConnection: (fd: number) => void): void {
    for (let k = 0; k < pending; k++) {
      const fd = accept(this.listenFd);
      if (fd >= 0) {
        onConnection(fd);
        continue;
      }
      if (SKIP.includes(fd)) continue;
      if (fd === -EMFILE) {
        this.paused = true;
        this.pauses++;
        this.#change(EV_DISABLE);
      }
      return; // -EAGAIN: nothing more queued
    }
  }

  /** Call after closing a descriptor: enables the listener again if it was disabled. */
  fdClosed(): void {
    if (!this.paused) return;
    this.paused = false;
    this.#change(EV_ENABLE);
  }

  #change(flags: number): void {
    this.submit({
      ident: this.listenFd,
      filter: EVFILT_READ,
      flags,
      fflags: 0,
      data: 0,
      udata: this.udata,
    });
  }
}
