/**
 * Deliberately broken variants of a system, to prove the differential
 * harness finds what it should: each wraps a correct {@linkcode Sys} and
 * changes one behaviour the way a plausible bug would.
 *
 * @module
 */

import { EAGAIN, EINVAL, EPOLLONESHOT, EPOLLRDHUP, MSG_PEEK } from "../../mod.ts";
import type { Sys } from "./_systems.ts";

/** The broken variants by name. */
export const BROKEN: Record<string, (inner: Sys) => Sys> = {
  /** Reports ready events in reverse order. */
  "reversed-order": (inner) => ({
    ...inner,
    name: `${inner.name}+reversed-order`,
    async epollWait(epfd, max) {
      const r = await inner.epollWait(epfd, max);
      return typeof r === "number" ? r : r.reverse();
    },
  }),
  /** Never reports EPOLLRDHUP. */
  "no-rdhup": (inner) => ({
    ...inner,
    name: `${inner.name}+no-rdhup`,
    async epollWait(epfd, max) {
      const r = await inner.epollWait(epfd, max);
      if (typeof r === "number") return r;
      return r.map((e) => ({ ...e, events: (e.events & ~EPOLLRDHUP) >>> 0 }))
        .filter((e) => e.events !== 0);
    },
  }),
  /** A zero-length read returns -EAGAIN when nothing is buffered (the old socketpair bug). */
  "zero-read-eagain": (inner) => ({
    ...inner,
    name: `${inner.name}+zero-read-eagain`,
    read(fd, buf) {
      if (buf.length === 0 && inner.read(fd, new Uint8Array(0)) === 0) return -EAGAIN;
      return inner.read(fd, buf);
    },
  }),
  /** Writes of 16 bytes that should fail with -EINVAL succeed (the old eventfd bug). */
  "long-eventfd-write": (inner) => ({
    ...inner,
    name: `${inner.name}+long-eventfd-write`,
    write(fd, buf) {
      const r = inner.write(fd, buf);
      return r === -EINVAL && buf.length === 16 ? inner.write(fd, buf.subarray(0, 8)) : r;
    },
  }),
  /** Ignores EPOLLONESHOT: the interest stays armed after reporting. */
  "oneshot-ignored": (inner) => ({
    ...inner,
    name: `${inner.name}+oneshot-ignored`,
    epollCtl: (epfd, op, fd, events, data) =>
      inner.epollCtl(epfd, op, fd, (events & ~EPOLLONESHOT) >>> 0, data),
  }),
  /** Drops the last event of a wait that returns more than one. */
  "lost-event": (inner) => ({
    ...inner,
    name: `${inner.name}+lost-event`,
    async epollWait(epfd, max) {
      const r = await inner.epollWait(epfd, max);
      return typeof r === "number" || r.length < 2 ? r : r.slice(0, -1);
    },
  }),
  /** A datagram recv with MSG_PEEK takes the datagram off the queue. */
  "peek-consumes": (inner) => ({
    ...inner,
    name: `${inner.name}+peek-consumes`,
    recv: (fd, buf, flags) => inner.recv(fd, buf, flags & ~MSG_PEEK),
  }),
};
