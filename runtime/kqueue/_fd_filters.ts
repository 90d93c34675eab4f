/**
 * `EVFILT_READ` and `EVFILT_WRITE`: knotes on a descriptor's description.
 * Counts come from {@linkcode Description.counts} (the one interface every
 * kind of description answers); there is no switch on the kind here.
 *
 * - READ fires while `data > 0` (bytes, pending connections, pending
 *   events, the counter, expirations; on a datagram socket the size of the
 *   next datagram, and it fires for an empty one too) or at EOF (`EV_EOF`, `data` the bytes
 *   left, `fflags` the pending socket error or 0).
 * - WRITE fires while the description is writable (`data` the free space),
 *   or when its write side is over (`EV_EOF`). Descriptions without a write
 *   side for kqueue (epoll, kqueue) refuse it with `EINVAL`.
 * - A READ knote on an epoll or kqueue is a nesting: the shared check
 *   refuses cycles and deep chains with `ELOOP`.
 *
 * @module
 */

import type { FilterCounts } from "../core/description.ts";
import { EINVAL } from "../core/errno.ts";
import { checkNesting } from "../core/_nesting.ts";
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRNORM,
  EVFILT_READ,
  EVFILT_WRITE,
} from "../core/constants.ts";
import { defineFilter, type FilterOps, type Knote } from "./_filter.ts";

/** One scratch object for every evaluation (no allocation per event). */
const c: FilterCounts = {
  readable: 0,
  readEof: false,
  writable: 0,
  writeReady: false,
  writeEof: false,
  error: 0,
};

const READ_BITS = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
const WRITE_BITS = EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR;

const readFilter: FilterOps = {
  isFd: true,
  validate: () => 0,
  attach(kn: Knote): number {
    return -checkNesting(kn.kq, kn.desc!);
  },
  detach(kn: Knote): void {
    kn.desc!.unwatch(kn);
  },
  interested: (events: number) => events === 0 || (events & READ_BITS) !== 0,
  event(kn: Knote): boolean {
    c.readReady = false;
    kn.desc!.counts(c);
    kn.data = c.readable;
    kn.eof = c.readEof;
    kn.fflags = c.readEof ? c.error : 0;
    return c.readable > 0 || c.readEof || c.readReady;
  },
  touch: () => {},
  retrieved: () => {},
};

const writeFilter: FilterOps = {
  isFd: true,
  validate: () => 0,
  attach(kn: Knote): number {
    kn.desc!.counts(c);
    return c.writable < 0 ? EINVAL : 0;
  },
  detach(kn: Knote): void {
    kn.desc!.unwatch(kn);
  },
  interested: (events: number) => events === 0 || (events & WRITE_BITS) !== 0,
  event(kn: Knote): boolean {
    kn.desc!.counts(c);
    kn.data = Math.max(0, c.writable);
    kn.eof = c.writeEof;
    kn.fflags = c.writeEof ? c.error : 0;
    return c.writeReady || c.writeEof;
  },
  touch: () => {},
  retrieved: () => {},
};

defineFilter(EVFILT_READ, readFilter);
defineFilter(EVFILT_WRITE, writeFilter);
