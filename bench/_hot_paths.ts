/**
 * The hot paths, timed by CPU (`process.cpuUsage`, user + system) rather
 * than wall time, so that other processes on a shared machine do not count:
 * `read`/`write` (a pipe, a datagram socketpair), `epollWait`, `epollCtl`,
 * a 64-socketpair event loop, and the object layer's `Epoll.wait`, all on
 * in-memory descriptors; and, when the native backend loads (`--allow-ffi`
 * on Linux), a `read` that finds nothing and `write` + `read` of 64 bytes
 * each way over a loopback TCP connection of kernel sockets (the native
 * socket's per-message path, the system calls included). Each figure is the least CPU per operation over 7
 * repetitions of a fixed count, after a warm-up. Prints one JSON object
 * `{name: ns}`.
 *
 * `bench/core_ab.ts` runs it in a base revision's tree and in this one;
 * `DENO_EPOLL_BENCH_KERNEL=1` keeps a simulated network's host alive
 * meanwhile: a second kernel, so every call asks `AsyncLocalStorage` for the
 * current kernel, and one with a call tracer, so every call passes through
 * `traced()` (`runtime/core/_call_trace.ts`), untraced. Only calls that every
 * revision has are used.
 *
 * @module
 */

import process from "node:process";
import {
  accept4,
  AF_INET,
  AF_UNIX,
  bind,
  close,
  connect,
  EAGAIN,
  Epoll,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  eventfd,
  getSocketBackend,
  getsockname,
  listen,
  pipe,
  read,
  setSocketBackend,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  socket,
  socketpair,
  write,
} from "../mod.ts";

if (Deno.env.get("DENO_EPOLL_BENCH_KERNEL") === "1") {
  const { createSimNetwork } = await import("../sim.ts");
  (globalThis as { benchHost?: unknown }).benchHost = createSimNetwork({ seed: 1 }).addHost("h");
}

const opened: number[] = [];
const track = (fd: number) => {
  if (fd < 0) throw new Error(`fixture: ${fd}`);
  opened.push(fd);
  return fd;
};

/** CPU nanoseconds per call of `op` (awaited when it returns a promise): the least of 7 runs of `n`. */
async function cpuPerOp(n: number, op: () => unknown): Promise<number> {
  for (let i = 0; i < n; i++) await op(); // warm-up (and JIT)
  let best = Infinity;
  for (let rep = 0; rep < 7; rep++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await op();
    const t = process.cpuUsage(t0);
    best = Math.min(best, ((t.user + t.system) * 1000) / n);
  }
  return best;
}

const results: Record<string, number> = {};

// read + write: 64 bytes through a pipe.
const pfds: number[] = [];
pipe(pfds);
pfds.forEach(track);
const payload = new Uint8Array(64).fill(7);
const buf = new Uint8Array(256);
results["pipe: write 64 B + read 64 B"] = await cpuPerOp(200_000, () => {
  if (write(pfds[1], payload) !== 64 || read(pfds[0], buf) !== 64) throw new Error("pipe");
});

// A datagram through an in-memory datagram socketpair (write + read: one datagram each).
const dfds: number[] = [];
socketpair(AF_UNIX, SOCK_DGRAM, 0, dfds);
dfds.forEach(track);
results["dgram socketpair: write 64 B + read 64 B"] = await cpuPerOp(200_000, () => {
  if (write(dfds[0], payload) !== 64 || read(dfds[1], buf) !== 64) throw new Error("dgram");
});

// epollCtl: ADD + DEL.
const ctlEp = track(epollCreate1(0));
const ctlFd = track(eventfd(0, 0));
const ev: EpollEvent = { events: EPOLLIN, data: null };
results["epollCtl: ADD + DEL"] = await cpuPerOp(200_000, () => {
  if (epollCtl(ctlEp, EPOLL_CTL_ADD, ctlFd, ev) !== 0) throw new Error("add");
  if (epollCtl(ctlEp, EPOLL_CTL_DEL, ctlFd) !== 0) throw new Error("del");
});

// epollWait: the one ready fd of 10.
const waitEp = track(epollCreate1(0));
for (let i = 0; i < 10; i++) {
  epollCtl(waitEp, EPOLL_CTL_ADD, track(eventfd(i === 9 ? 1 : 0, 0)), { events: EPOLLIN, data: i });
}
const events: EpollEvent[] = [];
results["epollWait: 1 ready of 10"] = await cpuPerOp(200_000, async () => {
  if (await epollWait(waitEp, events, 64, 0) !== 1) throw new Error("wait");
});

// An event loop: write to 64 socketpairs, one wait, read each.
const loopEp = track(epollCreate1(0));
const clients: number[] = [];
for (let i = 0; i < 64; i++) {
  const sv: number[] = [];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  clients.push(track(sv[0]));
  epollCtl(loopEp, EPOLL_CTL_ADD, track(sv[1]), { events: EPOLLIN, data: sv[1] });
}
results["64 socketpairs: write, wait, read each"] = await cpuPerOp(5_000, async () => {
  for (const c of clients) write(c, payload);
  const n = await epollWait(loopEp, events, 64, 0);
  for (let i = 0; i < n; i++) read(events[i].data as number, buf);
  if (n !== 64) throw new Error("loop");
});

// The object layer.
const ep = new Epoll();
for (let i = 0; i < 10; i++) ep.add(track(eventfd(i === 9 ? 1 : 0, 0)), EPOLLIN, i);
results["Epoll.wait: 1 ready of 10"] = await cpuPerOp(100_000, async () => {
  if ((await ep.wait(64, 0)).length !== 1) throw new Error("Epoll.wait");
});
ep.close();

// The native backend's per-message path: 64 bytes each way over loopback TCP.
const backend = getSocketBackend();
if (setSocketBackend("native") === 0) {
  const lfd = track(socket(AF_INET, SOCK_STREAM, 0));
  bind(lfd, { family: AF_INET, address: "127.0.0.1", port: 0 });
  listen(lfd, 4);
  const addr = {} as SockAddr;
  getsockname(lfd, addr);
  const cfd = track(socket(AF_INET, SOCK_STREAM, 0));
  connect(cfd, addr);
  let sfd = accept4(lfd, 0);
  while (sfd < 0) {
    await new Promise((r) => setTimeout(r, 1));
    sfd = accept4(lfd, 0);
  }
  track(sfd);
  setSocketBackend(backend);
  /** Reads until all of `n` bytes came (loopback delivers within the send, almost always). */
  const readAll = (fd: number, n: number) => {
    for (let got = 0; got < n;) {
      const r = read(fd, buf.subarray(got, n));
      if (r > 0) got += r;
      else if (r !== -EAGAIN) throw new Error(`native read: ${r}`);
    }
  };
  results["native TCP: read of an empty socket (EAGAIN)"] = await cpuPerOp(200_000, () => {
    if (read(sfd, buf) !== -EAGAIN) throw new Error("native read");
  });
  results["native TCP: write 64 B + read 64 B, each way"] = await cpuPerOp(50_000, () => {
    if (write(cfd, payload) !== 64) throw new Error("native write");
    readAll(sfd, 64);
    if (write(sfd, payload) !== 64) throw new Error("native write");
    readAll(cfd, 64);
  });
}

for (const fd of opened) close(fd);
console.log(JSON.stringify(results));
