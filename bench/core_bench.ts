/**
 * Core benchmarks: `deno bench -A bench/core_bench.ts`.
 *
 * - `epoll_ctl`: one EPOLL_CTL_ADD + EPOLL_CTL_DEL pair.
 * - `epoll_wait`: `epollWait` returning the 1 ready fd among 10, 1,000 and
 *   10,000 interests. The three should be flat: the ready list makes a wait
 *   cost proportional to the events returned, not to the interest set.
 * - `event loop`: one iteration of write to 64 socketpairs, one wait, read
 *   each reported fd. Events per second = 64 / (time per iteration).
 * - `read/write`: 64 bytes through a pipe (one `write`, one `read`): the
 *   descriptor lookup every call pays.
 * - `object layer`: `Epoll.wait` returning the 1 ready fd of 10.
 * - `a view of a byte queue's storage`: `subarray` against the constructor
 *   `new Uint8Array(buffer, offset, length)`, which `runtime/core/_byte_queue.ts`
 *   uses for every message's views.
 *
 * Fixtures are built once, at module load, before any bench runs: each
 * bench has its own epoll and fds, none shares state with another, and every
 * call leaves its fixture as it found it (the ADD is undone by the DEL, the
 * one ready fd stays the only ready one, every byte written is read), and
 * each call checks that. No wait can stay pending: every wait polls
 * (timeout 0) and must return the expected count. Everything is closed at
 * unload, which then checks that the descriptor table is empty.
 *
 * Why not build each fixture lazily in its bench's first call: `deno bench`
 * warms up for 10 ms, then picks its mode from the warm-up average (calls
 * under 10 µs are timed in batches of 10,000, slower ones one by one). The
 * 10,000-interest set takes ~12 ms to build, which ends the warm-up after a
 * handful of calls and flips that one bench into per-call timing: it then
 * read 1.6x slower than the others for reasons that had nothing to do with
 * epoll (and `warmup:` did not help; `b.start()`/`b.end()` are ignored in
 * batch mode).
 *
 * @module
 */

import {
  AF_UNIX,
  close,
  Epoll,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  getDescriptorLimit,
  pipe,
  read,
  setDescriptorLimit,
  SOCK_STREAM,
  socketpair,
  write,
} from "../mod.ts";

/** Every fd the fixtures opened, closed at unload. */
const opened: number[] = [];

function track(fd: number): number {
  if (fd < 0) throw new Error(`bench fixture: -errno ${fd}`);
  opened.push(fd);
  return fd;
}

/** Throws unless no descriptor at all is open. */
function assertTableEmpty(): void {
  const limit = getDescriptorLimit();
  // A limit of 1 is refused while any fd >= 1 is open; fd 0 must then be free.
  const ok = setDescriptorLimit(1) === 0;
  const probe = ok ? eventfd(0, 0) : -1;
  if (probe >= 0) close(probe);
  setDescriptorLimit(limit);
  if (!ok || probe !== 0) throw new Error("bench fixtures leaked descriptors");
}

globalThis.addEventListener("unload", () => {
  for (const fd of opened.splice(0)) {
    if (close(fd) !== 0) throw new Error(`bench fixture fd ${fd} was not open`);
  }
  assertTableEmpty();
});

// (a) ---------------------------------------------------------------------

const ctl = {
  epfd: track(epollCreate1(0)),
  efd: track(eventfd(0, 0)),
  event: { events: EPOLLIN, data: null } as EpollEvent,
};

Deno.bench({
  name: "EPOLL_CTL_ADD + EPOLL_CTL_DEL",
  group: "epoll_ctl",
  fn() {
    const added = epollCtl(ctl.epfd, EPOLL_CTL_ADD, ctl.efd, ctl.event);
    const removed = epollCtl(ctl.epfd, EPOLL_CTL_DEL, ctl.efd);
    if (added !== 0 || removed !== 0) throw new Error(`epollCtl failed: ${added}, ${removed}`);
  },
});

// (b) ---------------------------------------------------------------------

/** An epoll over `n` eventfds, exactly one of them (the last added) readable. */
function waitSet(n: number): { epfd: number; events: EpollEvent[] } {
  const epfd = track(epollCreate1(0));
  for (let i = 0; i < n; i++) {
    const efd = track(eventfd(i === n - 1 ? 1 : 0, 0));
    const r = epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLIN, data: i });
    if (r !== 0) throw new Error(`epollCtl: ${r}`);
  }
  return { epfd, events: [] };
}

for (const n of [10, 1_000, 10_000]) {
  const set = waitSet(n);
  Deno.bench({
    name: `epollWait: 1 ready of ${n.toLocaleString("en-US")} interests`,
    group: "epoll_wait",
    baseline: n === 10,
    async fn() {
      const got = await epollWait(set.epfd, set.events, 64, 0);
      if (got !== 1 || set.events[0].data !== n - 1) {
        throw new Error(`expected the one ready fd, got ${got}`);
      }
    },
  });
}

// (c) ---------------------------------------------------------------------

const PAIRS = 64;

const loop = {
  epfd: track(epollCreate1(0)),
  clients: [] as number[],
  events: [] as EpollEvent[],
  payload: new Uint8Array(64).fill(0x5a),
  buf: new Uint8Array(256),
};
for (let i = 0; i < PAIRS; i++) {
  const sv: number[] = [];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) !== 0) throw new Error("socketpair");
  loop.clients.push(track(sv[0]));
  track(sv[1]);
  epollCtl(loop.epfd, EPOLL_CTL_ADD, sv[1], { events: EPOLLIN, data: sv[1] });
}

Deno.bench({
  name: `${PAIRS} socketpairs: write all, wait, read each (events/s = ${PAIRS} / time)`,
  group: "event loop",
  async fn() {
    for (const c of loop.clients) write(c, loop.payload);
    const n = await epollWait(loop.epfd, loop.events, PAIRS, 0);
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += read(loop.events[i].data as number, loop.buf);
    if (n !== PAIRS || bytes !== PAIRS * loop.payload.length) {
      throw new Error(`expected ${PAIRS} events and ${PAIRS * 64} bytes, got ${n}, ${bytes}`);
    }
  },
});

// (d) ---------------------------------------------------------------------

const rw = { fds: [] as number[], payload: new Uint8Array(64).fill(7), buf: new Uint8Array(64) };
if (pipe(rw.fds) !== 0) throw new Error("pipe");
rw.fds.forEach(track);

Deno.bench({
  name: "pipe: write 64 B, read 64 B",
  group: "read/write",
  fn() {
    const w = write(rw.fds[1], rw.payload);
    const r = read(rw.fds[0], rw.buf);
    if (w !== 64 || r !== 64) throw new Error(`expected 64 and 64, got ${w}, ${r}`);
  },
});

// (e) ---------------------------------------------------------------------

const ep = new Epoll();
track(ep.fd); // closed at unload with the rest
for (let i = 0; i < 10; i++) ep.add(track(eventfd(i === 9 ? 1 : 0, 0)), EPOLLIN, i);

Deno.bench({
  name: "Epoll.wait: 1 ready of 10 interests",
  group: "object layer",
  async fn() {
    const events = await ep.wait(64, 0);
    if (events.length !== 1 || events[0].data !== 9) throw new Error("expected the one ready fd");
  },
});

// (f) ---------------------------------------------------------------------

const storage = new Uint8Array(4096);
let viewBytes = 0;

Deno.bench({
  name: "subarray(off, off + 1024)",
  group: "a view of a byte queue's storage",
  baseline: true,
  fn() {
    const off = viewBytes++ & 1023;
    if (storage.subarray(off, off + 1024).length !== 1024) throw new Error("length");
  },
});

Deno.bench({
  name: "new Uint8Array(buffer, off, 1024)",
  group: "a view of a byte queue's storage",
  fn() {
    const off = viewBytes++ & 1023;
    if (new Uint8Array(storage.buffer, off, 1024).length !== 1024) throw new Error("length");
  },
});

// The fixtures left garbage behind; collect it now, when run with
// `--v8-flags=--expose-gc`, rather than in the middle of the first bench.
(globalThis as { gc?: () => void }).gc?.();
