/**
 * A small reference model of Linux's pipes, socketpairs, eventfds and epoll
 * (written from `fs/pipe.c`, `net/unix/af_unix.c`, `fs/eventfd.c` and
 * `fs/eventpoll.c`, not from this library): each call's result, and the
 * wake-ups it causes.
 *
 * The model of delivery, per interest (an epitem keyed by (description, fd)):
 * - `events` is what ADD/MOD asked for, plus EPOLLERR|EPOLLHUP (always reported).
 * - An interest is *reportable* at a wait when it is armed, the description's readiness
 *   intersects `events`, and, for EPOLLET, an edge is pending. The reported bits are
 *   `readiness & events`, recomputed at the wait (stale readiness is dropped silently).
 * - An edge becomes pending on ADD and MOD when the description is ready for `events`
 *   (ep_insert/ep_modify poll the file), and on every *arrival*: a wake-up of the
 *   description whose key is 0 or intersects `events` (ep_poll_callback). Arrivals: every
 *   write (IN on the reader), every eventfd write (IN) and read (OUT), a read that frees
 *   room for a full pipe / a socketpair sender (OUT), shutdown and close (key 0, or
 *   HUP/ERR for pipes).
 * - A report clears the pending edge; EPOLLONESHOT disarms until MOD.
 * - A wait returns min(maxevents, reportable) entries. Which ones is up to the ready
 *   list's order, so waits are compared as sets, and a separate check asserts the
 *   round-robin property: an interest that stays reportable is skipped by fewer
 *   consecutive waits than the epoll had interests when the skipping began (every wait
 *   that skips it moves at least one item from ahead of it to the tail).
 * - Closing the last fd of a description removes its interests everywhere; closing one
 *   of several dups leaves every interest in place (the key's fd number may be stale).
 *
 * @module
 */

import {
  EAGAIN,
  EBADF,
  ECONNRESET,
  EEXIST,
  EINVAL,
  ENOENT,
  EPIPE,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDNORM,
  EPOLLWRBAND,
  EPOLLWRNORM,
  SHUT_RD,
  SHUT_WR,
} from "../../mod.ts";
import {
  buffered,
  type Desc,
  EFD_MAX,
  type Interest,
  type Kind,
  MAX_SKB,
  PAGE_SIZE,
  PIPE_SLOTS,
  ready,
  type Stream,
  U64_MAX,
  UNIX_SNDBUF,
} from "./_descriptions.ts";

/** The model's file table, and what each call does to it (the result, the wake-ups). */
export class Model {
  fds = new Map<number, Desc>();
  /** fds open before the test started (not ours; never reused). */
  foreign = new Set<number>();
  #nextId = 1;

  newDesc(kind: Kind, extra: Partial<Desc> = {}): Desc {
    return { id: this.#nextId++, kind, fds: new Set(), open: true, watchers: new Set(), ...extra };
  }

  lowestFree(): number {
    let fd = 0;
    while (this.fds.has(fd) || this.foreign.has(fd)) fd++;
    return fd;
  }

  install(d: Desc): number {
    const fd = this.lowestFree();
    this.fds.set(fd, d);
    d.fds.add(fd);
    return fd;
  }

  /** A wake-up on `d` with `key` (0: "anything may have changed"). */
  arrive(d: Desc, key: number): void {
    for (const it of d.watchers) {
      if (it.armed && (key === 0 || (key & it.events) !== 0)) it.pending = true;
    }
  }

  close(fd: number): number {
    const d = this.fds.get(fd);
    if (d === undefined) return -EBADF;
    this.fds.delete(fd);
    d.fds.delete(fd);
    if (d.fds.size === 0) this.release(d);
    return 0;
  }

  /** The last fd closed: interests go first (eventpoll_release), then the file's release. */
  release(d: Desc): void {
    d.open = false;
    for (const it of d.watchers) it.ep.interests!.delete(`${d.id}:${it.fd}`);
    d.watchers.clear();
    switch (d.kind) {
      case "pipe-r": // pipe_release wakes the other side
        d.pipe!.readerOpen = false;
        if (d.pipe!.writerOpen) this.arrive(d.pipe!.writer, EPOLLERR);
        break;
      case "pipe-w":
        d.pipe!.writerOpen = false;
        if (d.pipe!.readerOpen) this.arrive(d.pipe!.reader, EPOLLHUP);
        break;
      case "sock": { // unix_release_sock: the peer is shut both ways; unread data resets it
        const peer = d.peer!;
        if (peer.open) {
          peer.rdShut = peer.wrShut = true;
          if (buffered(d.rx!) > 0) peer.err = ECONNRESET;
          this.arrive(peer, 0);
        }
        d.rx!.read = d.rx!.written;
        d.rxChunks!.length = 0;
        break;
      }
      case "epoll":
        for (const it of d.interests!.values()) it.desc.watchers.delete(it);
        d.interests!.clear();
        break;
    }
  }

  epollCtl(epfd: number, op: number, fd: number, events: number, data: string): number {
    const ep = this.fds.get(epfd);
    const target = this.fds.get(fd);
    if (ep === undefined || target === undefined) return -EBADF;
    if (ep === target || ep.kind !== "epoll") return -EINVAL;
    const key = `${target.id}:${fd}`;
    const it = ep.interests!.get(key);
    if (op === EPOLL_CTL_ADD) {
      if (it !== undefined) return -EEXIST;
      const added: Interest = {
        ep,
        desc: target,
        fd,
        events: (events | EPOLLERR | EPOLLHUP) >>> 0,
        data,
        armed: true,
        pending: false,
        skips: 0,
        skipBound: 0,
      };
      added.pending = ready(added) !== 0;
      ep.interests!.set(key, added);
      target.watchers.add(added);
      return 0;
    }
    if (it === undefined) return -ENOENT;
    if (op === EPOLL_CTL_DEL) {
      ep.interests!.delete(key);
      target.watchers.delete(it);
      return 0;
    }
    it.events = (events | EPOLLERR | EPOLLHUP) >>> 0;
    it.data = data;
    it.armed = true;
    it.skips = 0;
    if (ready(it) !== 0) it.pending = true;
    return 0;
  }

  /** Returns the expected count, or the byte pattern's stream for the caller to fill. */
  write(fd: number, len: number): { result: number; stream?: Stream } {
    const d = this.fds.get(fd);
    if (d === undefined) return { result: -EBADF };
    switch (d.kind) {
      case "pipe-r":
        return { result: -EBADF }; // not open for writing
      case "pipe-w": {
        const p = d.pipe!;
        if (len === 0) return { result: 0 }; // "Null write succeeds", even without readers
        if (!p.readerOpen) return { result: -EPIPE };
        // pipe_write: the sub-page remainder merges into the last slot if its page has
        // room, then whole pages go into free slots.
        let n = 0;
        const chars = len % PAGE_SIZE;
        if (chars && p.slots.length > 0 && p.lastEnd + chars <= PAGE_SIZE) {
          p.slots[p.slots.length - 1] += chars;
          p.lastEnd += chars;
          n = chars;
        }
        while (n < len && p.slots.length < PIPE_SLOTS) {
          const take = Math.min(PAGE_SIZE, len - n);
          p.slots.push(take);
          p.lastEnd = take;
          n += take;
        }
        // Readers are woken even when nothing went in ("epoll nonsensically wants a wakeup").
        this.arrive(p.reader, EPOLLIN | EPOLLRDNORM);
        if (n === 0) return { result: -EAGAIN };
        const stream = { ...p.data };
        p.data.written += n;
        return { result: n, stream };
      }
      case "sock": {
        const peer = d.peer!;
        if (d.wrShut || peer.rdShut) return { result: -EPIPE };
        if (len === 0) return { result: 0 };
        const n = Math.min(len, UNIX_SNDBUF - buffered(peer.rx!));
        if (n === 0) return { result: -EAGAIN };
        const stream = { ...peer.rx! };
        peer.rx!.written += n;
        for (let left = n; left > 0; left -= MAX_SKB) peer.rxChunks!.push(Math.min(left, MAX_SKB));
        this.arrive(peer, EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND); // sock_def_readable
        return { result: n, stream };
      }
      default:
        return { result: -EINVAL }; // handled by writeCounter / epoll has no write
    }
  }

  writeCounter(fd: number, value: bigint): number {
    const d = this.fds.get(fd)!;
    if (value === U64_MAX) return -EINVAL;
    if (value > EFD_MAX - d.count!) return -EAGAIN;
    d.count! += value;
    this.arrive(d, EPOLLIN); // every eventfd write wakes, even of 0
    return 8;
  }

  /** Expected result, and for stream reads the offset the bytes start at. */
  read(fd: number, len: number): { result: number; stream?: Stream; value?: bigint } {
    const d = this.fds.get(fd);
    if (d === undefined) return { result: -EBADF };
    switch (d.kind) {
      case "pipe-w":
        return { result: -EBADF }; // not open for reading
      case "pipe-r": {
        const p = d.pipe!;
        if (buffered(p.data) === 0) return { result: p.writerOpen ? -EAGAIN : 0 };
        const n = Math.min(len, buffered(p.data));
        const stream = { ...p.data };
        p.data.read += n;
        // pipe_read: a slot freed while the pipe was full wakes the writer.
        let wake = false;
        for (let left = n; left > 0;) {
          const take = Math.min(left, p.slots[0]);
          left -= take;
          p.slots[0] -= take;
          if (p.slots[0] > 0) break;
          wake ||= p.slots.length >= PIPE_SLOTS;
          p.slots.shift();
        }
        if (wake && p.writerOpen) this.arrive(p.writer, EPOLLOUT | EPOLLWRNORM);
        return { result: n, stream };
      }
      case "sock": {
        const rx = d.rx!;
        if (buffered(rx) === 0) {
          if (d.err) {
            const e = d.err;
            d.err = 0;
            return { result: -e };
          }
          return { result: d.rdShut ? 0 : -EAGAIN };
        }
        const n = Math.min(len, buffered(rx));
        const stream = { ...rx };
        rx.read += n;
        // Each skb read whole is freed: unix_write_space wakes the sender if it is
        // writable then. Reading part of an skb wakes nobody.
        const peer = d.peer!;
        const chunks = d.rxChunks!;
        for (let left = n; left > 0;) {
          const take = Math.min(left, chunks[0]);
          left -= take;
          chunks[0] -= take;
          if (chunks[0] > 0) break;
          chunks.shift();
          const unread = chunks.reduce((a, b) => a + b, 0);
          if (peer.open && unread * 4 <= UNIX_SNDBUF) {
            this.arrive(peer, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
          }
        }
        return { result: n, stream };
      }
      case "eventfd": {
        if (len < 8) return { result: -EINVAL };
        if (d.count === 0n) return { result: -EAGAIN };
        const value = d.semaphore ? 1n : d.count!;
        d.count! -= value;
        this.arrive(d, EPOLLOUT);
        return { result: 8, value };
      }
      case "epoll":
        return { result: -EINVAL };
    }
  }

  shutdown(fd: number, how: number): number {
    const d = this.fds.get(fd)!;
    const rd = how !== SHUT_WR;
    const wr = how !== SHUT_RD;
    // unix_shutdown mirrors each half onto the peer and wakes both (sk_state_change).
    if (rd) d.rdShut = true;
    if (wr) d.wrShut = true;
    const peer = d.peer!;
    if (peer.open) {
      if (rd) peer.wrShut = true;
      if (wr) peer.rdShut = true;
      this.arrive(peer, 0);
    }
    this.arrive(d, 0);
    return 0;
  }
}
