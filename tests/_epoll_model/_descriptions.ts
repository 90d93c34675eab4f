/**
 * The reference model's state, as plain data: the Linux constants it needs,
 * a pipe, a socketpair end, an eventfd and an epoll as open file
 * descriptions, the interests watching them, and each description's
 * readiness as Linux's `poll` methods compute it.
 *
 * @module
 */

import {
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
} from "../../mod.ts";

// ---------------------------------------------------------------------------------------
// Linux constants the model needs (fs/pipe.c, net/unix, fs/eventfd.c).

export const PAGE_SIZE = 4096; // a pipe slot holds one page
export const PIPE_SLOTS = 16; // PIPE_DEF_BUFFERS: writable while a slot is free
export const MAX_SKB = 3776 + 32768; // SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ on x86-64
export const UNIX_SNDBUF = 212992; // wmem_default: a socketpair end's send buffer
export const EFD_MAX = 0xffff_ffff_ffff_fffen; // largest eventfd count
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
const FLAG_BITS = EPOLLET | EPOLLONESHOT;

// ---------------------------------------------------------------------------------------
// The model: plain data.

/** One direction of a byte stream; the bytes themselves follow a pattern of the offset. */
export interface Stream {
  salt: number;
  written: number;
  read: number;
}
export const buffered = (s: Stream) => s.written - s.read;
export const patternByte = (s: Stream, offset: number) =>
  (offset * 13 + (offset >>> 8) * 7 + s.salt) & 0xff;

export interface Pipe {
  data: Stream;
  /** Bytes in each used page slot, oldest first; where the last one ends in its page. */
  slots: number[];
  lastEnd: number;
  readerOpen: boolean;
  writerOpen: boolean;
  reader: Desc;
  writer: Desc;
}

export type Kind = "pipe-r" | "pipe-w" | "sock" | "eventfd" | "epoll";

/** An open file description. */
export interface Desc {
  id: number;
  kind: Kind;
  /** The fds referring to it; it is released when the last one closes. */
  fds: Set<number>;
  open: boolean;
  /** Interests (of any epoll) watching it. */
  watchers: Set<Interest>;
  pipe?: Pipe;
  // socketpair end
  rx?: Stream; // bytes the peer sent us
  rxChunks?: number[]; // the unread skbs of rx
  rdShut?: boolean;
  wrShut?: boolean;
  err?: number;
  peer?: Desc;
  // eventfd
  count?: bigint;
  semaphore?: boolean;
  // epoll: interests keyed by `${description id}:${fd}`
  interests?: Map<string, Interest>;
}

export interface Interest {
  ep: Desc;
  desc: Desc;
  fd: number;
  /** Requested events | EPOLLERR | EPOLLHUP, plus EPOLLET / EPOLLONESHOT. */
  events: number;
  data: string;
  /** False once an EPOLLONESHOT interest has reported, until MOD. */
  armed: boolean;
  /** An edge arrived (or ADD/MOD found it ready) and has not been reported yet. */
  pending: boolean;
  /** Round-robin check: consecutive waits that skipped it while reportable, and the bound. */
  skips: number;
  skipBound: number;
}

/** Readiness of a description now, as Linux's `poll` methods compute it. */
function readiness(d: Desc): number {
  switch (d.kind) {
    case "pipe-r": { // pipe_poll, FMODE_READ
      const p = d.pipe!;
      return (buffered(p.data) > 0 ? EPOLLIN | EPOLLRDNORM : 0) | (p.writerOpen ? 0 : EPOLLHUP);
    }
    case "pipe-w": { // pipe_poll, FMODE_WRITE
      const p = d.pipe!;
      const full = p.slots.length >= PIPE_SLOTS;
      return (full ? 0 : EPOLLOUT | EPOLLWRNORM) | (p.readerOpen ? 0 : EPOLLERR);
    }
    case "sock": { // unix_poll
      let mask = d.err ? EPOLLERR : 0;
      if (d.rdShut && d.wrShut) mask |= EPOLLHUP;
      if (d.rdShut) mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
      if (buffered(d.rx!) > 0) mask |= EPOLLIN | EPOLLRDNORM;
      // unix_writable: what we sent and the peer has not read is at most sndbuf / 4.
      if (buffered(d.peer!.rx!) * 4 <= UNIX_SNDBUF) mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
      return mask;
    }
    case "eventfd": // eventfd_poll
      return (d.count! > 0n ? EPOLLIN : 0) | (d.count! === U64_MAX ? EPOLLERR : 0) |
        (d.count! < EFD_MAX ? EPOLLOUT : 0);
    case "epoll":
      return 0; // epolls are never watched here (no nesting in this model)
  }
}

/** The bits an interest would report now (0: not ready for it). */
export const ready = (it: Interest) => readiness(it.desc) & it.events & ~FLAG_BITS;
export const reportable = (it: Interest) =>
  it.armed && ready(it) !== 0 && (!(it.events & EPOLLET) || it.pending);
