/**
 * The one helper module of the test suite: readiness probes, epoll waits
 * with a deadline, byte patterns, and the loopback TCP fixtures (a listening
 * socket, a connected pair, Deno peers that read everything).
 *
 * Library sockets are obtained only through the public calls (`socket`,
 * `bind`, `listen`, `connect`, `accept`), so a suite can run the same tests
 * over another socket backend by changing how these helpers are called.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  accept,
  AF_INET,
  bind,
  close,
  connect,
  Description,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  type EpollEvent,
  EPOLLHUP,
  EPOLLIN,
  EPOLLMSG,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDHUP,
  EPOLLRDNORM,
  epollWait,
  EPOLLWRBAND,
  EPOLLWRNORM,
  ErrnoError,
  getSocketBackend,
  getsockname,
  getsockopt,
  type InetSockAddr,
  listen,
  pipe,
  read,
  recvfrom,
  SO_ERROR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import type { SimNetwork, SimOs } from "../sim.ts";
import { type KEvent, kevent, kqueue } from "../mod.ts";
import { openLibc } from "../net/native/libc.ts";

/**
 * Whether `socket()` makes kernel sockets. The suite runs once per backend
 * (`task test`, then `DENO_EPOLL_BACKEND=native task test`); where the Deno
 * backend can only approximate Linux, a test states both answers, the
 * native one being Linux's.
 */
export const NATIVE: boolean = getSocketBackend() === "native";

/** The loopback address every network test uses. */
export const LOOPBACK = "127.0.0.1";

/** Every event bit a program can ask for (EPOLLERR and EPOLLHUP come regardless). */
export const ALL_EVENTS = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND |
  EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;

/** What `tcp_poll` reports for readable data: EPOLLIN | EPOLLRDNORM. */
export const TCP_IN = EPOLLIN | EPOLLRDNORM;
/** What `tcp_poll` reports for room to write: EPOLLOUT | EPOLLWRNORM. */
export const TCP_OUT = EPOLLOUT | EPOLLWRNORM;
/** What `tcp_poll` reports for a reset or refused TCP socket whose error is pending. */
export const TCP_DEAD = TCP_IN | TCP_OUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP;

/** An `assert.throws` / `assert.rejects` matcher: an {@linkcode ErrnoError} with `errno` `code`. */
export function errno(code: number): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ErrnoError && e.errno === code;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The 8 bytes of `v` in host (little-endian) order, as eventfd takes them;
 * with `size`/`offset`, inside a larger buffer that starts `offset` bytes
 * into its backing store.
 */
export function u64(v: bigint, size = 8, offset = 0): Uint8Array {
  const buf = new Uint8Array(size + offset).subarray(offset);
  new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, v, true);
  return buf;
}

/**
 * The fd's readiness now, as a private epoll reports it for `events`
 * (every bit by default), or 0 when it reports nothing.
 */
export async function readiness(fd: number, events = ALL_EVENTS): Promise<number> {
  const epfd = epollCreate1(0);
  try {
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await epollWait(epfd, out, 4, 0);
    return n === 0 ? 0 : out[0].events;
  } finally {
    close(epfd);
  }
}

/**
 * Waits on a private epoll until `fd` reports something for `events`
 * (EPOLLERR and EPOLLHUP always count; `events` 0 waits for them alone) and
 * returns that first mask. Fails after `ms`.
 */
export async function waitFor(fd: number, events: number, ms = 5000): Promise<number> {
  const ep = epollCreate1(0);
  try {
    assert.equal(epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await epollWait(ep, out, 1, ms);
    assert.ok(n >= 0, `epollWait gave ${n}`);
    if (n === 0) {
      throw new Error(`fd ${fd} reported nothing for ${events.toString(16)} in ${ms} ms`);
    }
    return out[0].events;
  } finally {
    close(ep);
  }
}

/** A listening library socket on 127.0.0.1 (ephemeral port), its address and port. */
export function listenLoopback(
  backlog = 128,
): { fd: number; addr: InetSockAddr; port: number } {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  assert.ok(fd >= 0);
  assert.equal(bind(fd, { family: AF_INET, address: LOOPBACK, port: 0 }), 0);
  assert.equal(listen(fd, backlog), 0);
  const addr = {} as SockAddr;
  assert.equal(getsockname(fd, addr), 0);
  assert.ok(addr.family === AF_INET && addr.port > 0);
  return { fd, addr, port: addr.port };
}

let heldClosedPort = 0;

/**
 * A port on 127.0.0.1 that nothing listens on. Where FFI is available it is
 * held for the whole test process by a kernel socket bound but never
 * listening (close-on-exec), so no parallel test can take it and a connect
 * cannot self-connect to it (Linux may pick a free ephemeral port as the
 * connecting socket's own, and a connect to itself succeeds): connects to it
 * are always refused. Elsewhere it is found by listening and closing.
 */
export function closedPort(): number {
  if (heldClosedPort !== 0) return heldClosedPort;
  const libc = openLibc();
  if (typeof libc !== "string") {
    const fd = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const addr = { family: AF_INET, address: LOOPBACK, port: 0 } as SockAddr;
    if (fd >= 0 && libc.bind(fd, addr) === 0 && libc.getsockname(fd, addr) === 0) {
      // Never closed: the port stays reserved until the process exits.
      if (addr.family === AF_INET) return heldClosedPort = addr.port;
    }
    if (fd >= 0) libc.close(fd);
  }
  return freePort();
}

/**
 * A port on 127.0.0.1 that was free a moment ago (found by listening and
 * closing), for a child process to listen on.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Waits for a pending connection on the listening `lfd` and accepts it. */
export async function acceptOne(lfd: number): Promise<number> {
  assert.equal(await waitFor(lfd, EPOLLIN), EPOLLIN);
  const fd = accept(lfd);
  assert.ok(fd >= 0, `accept gave ${fd}`);
  return fd;
}

/** A library client connected to 127.0.0.1:`port` (connect, EPOLLOUT, SO_ERROR 0). */
export async function connectLoopback(port: number): Promise<number> {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  assert.ok(fd >= 0);
  try {
    assert.equal(connect(fd, { family: AF_INET, address: LOOPBACK, port }), -EINPROGRESS);
    assert.equal(await waitFor(fd, EPOLLOUT), EPOLLOUT);
    assert.equal(getsockopt(fd, SOL_SOCKET, SO_ERROR), 0);
    return fd;
  } catch (e) {
    close(fd);
    throw e;
  }
}

/** A library fd accepted over loopback and its Deno peer; `using` closes what is still open. */
export interface AcceptedPair extends Disposable {
  /** The listening library socket. */
  readonly listener: number;
  /** The accepted library socket. */
  readonly fd: number;
  /** The Deno client connected to it. */
  readonly peer: Deno.Conn;
  /** Closes `fd` now (as the test's own `close`); the result of `close`. */
  closeFd(): number;
}

/** A connected pair: a library fd accepted from a listening library socket, and its Deno peer. */
export async function acceptedPair(): Promise<AcceptedPair> {
  const { fd: listener, port } = listenLoopback();
  let peer: Deno.Conn | undefined;
  try {
    peer = await Deno.connect({ hostname: LOOPBACK, port });
    const fd = await acceptOne(listener);
    const conn = peer;
    let open = true;
    return {
      listener,
      fd,
      peer: conn,
      closeFd() {
        open = false;
        return close(fd);
      },
      [Symbol.dispose]() {
        closeQuietly(conn);
        if (open) close(fd);
        close(listener);
      },
    };
  } catch (e) {
    if (peer) closeQuietly(peer);
    close(listener);
    throw e;
  }
}

/**
 * Whether this machine has an IPv6 loopback (`::1`), found with Deno's own
 * listener, independently of the library under test.
 */
export const IPV6_LOOPBACK: boolean = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

/** Asserts `p` is still pending after a turn of the timer loop. */
export async function assertPending(p: Promise<unknown>): Promise<void> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await sleep(5);
  assert.equal(settled, false, "promise settled early");
}

/** A description that cannot be polled (a regular file's stand-in: `epoll_ctl` gives EPERM). */
export class Unpollable extends Description {
  readonly kind = "unpollable";
  override readonly pollable = false;
  poll(): number {
    return 0;
  }
}

/**
 * Reads an eventfd or timerfd counter: the 8-byte value, or what `read`
 * returned instead (`-errno`, or a short count).
 */
export function readU64(fd: number): bigint | number {
  const buf = new Uint8Array(8);
  const n = read(fd, buf);
  return n === 8 ? new DataView(buf.buffer).getBigUint64(0, true) : n;
}

/**
 * mulberry32: a small, fast, seedable PRNG, so a randomized test
 * reproduces from its seed. Returns numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Closes a Deno resource that the test may already have closed. */
export function closeQuietly(r: { close(): void }): void {
  try {
    r.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}

/** Reads from a Deno conn until EOF; returns everything. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads exactly `n` bytes from a Deno conn (fails at EOF). */
export async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Writes all of `data` to a Deno conn. */
export async function writeAllDeno(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/** Deterministic test bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads exactly `n` bytes from a library fd, waiting with epoll; fails at EOF. */
export async function libReadExactly(fd: number, n: number, ms = 5000): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = read(fd, out.subarray(off));
    if (r === -EAGAIN) {
      assert.ok((await waitFor(fd, EPOLLIN, ms)) & EPOLLIN, `fd ${fd}: no EPOLLIN`);
      continue;
    }
    if (r <= 0) throw new Error(`read gave ${r} after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Writes all of `data` to a library fd, waiting for EPOLLOUT when the buffer is full. */
export async function libWriteAll(fd: number, data: Uint8Array, ms = 5000): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const w = write(fd, data.subarray(off));
    if (w === -EAGAIN) {
      assert.ok((await waitFor(fd, EPOLLOUT, ms)) & EPOLLOUT, `fd ${fd}: no EPOLLOUT`);
      continue;
    }
    if (w < 0) throw new Error(`write gave ${w} after ${off} bytes`);
    off += w;
  }
}

/**
 * Asserts two byte arrays are equal. (`assert.deepEqual` walks typed arrays
 * element by element in Deno's node polyfill, far too slowly for megabytes.)
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.equal(i, actual.length, `${what}: first difference at byte ${i}`);
}

// kqueue.

/** A change (or expected event) with defaults for the fields a test does not care about. */
export function kev(
  ident: number,
  filter: number,
  flags: number,
  fflags = 0,
  data = 0,
  udata: unknown = undefined,
): KEvent {
  return { ident, filter, flags, fflags, data, udata };
}

/** Applies changes with no event list; returns kevent's result. */
export function change(kq: number, ...changes: KEvent[]): Promise<number> {
  return kevent(kq, changes, [], 0, null);
}

/** Polls (timeout 0) and returns the events. */
export async function poll(kq: number, nevents = 64): Promise<KEvent[]> {
  const out: KEvent[] = [];
  const n = await kevent(kq, [], out, nevents, { sec: 0, nsec: 0 });
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  return out.slice(0, n);
}

/** A test body run with a fresh kqueue, closed afterwards whatever happens. */
export function withKq(fn: (kq: number) => Promise<void>): () => Promise<void> {
  return async () => {
    const kq = kqueue();
    try {
      await fn(kq);
    } finally {
      close(kq);
    }
  };
}

/** Runs `fn` with a kqueue and a pipe (read end, write end), closing all three after. */
export function withPipe(
  fn: (kq: number, r: number, w: number) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const kq = kqueue();
    const fds: number[] = [];
    assert.equal(pipe(fds), 0);
    try {
      await fn(kq, fds[0], fds[1]);
    } finally {
      close(fds[0]);
      close(fds[1]);
      close(kq);
    }
  };
}

/** Waits (no timeout) for events and returns them. */
export async function next(kq: number, nevents = 64): Promise<KEvent[]> {
  const out: KEvent[] = [];
  const n = await kevent(kq, [], out, nevents, null);
  if (n < 0) throw new Error(`kevent failed: ${n}`);
  return out.slice(0, n);
}

/**
 * The resetting peer, in a child process: it connects, sends "ping", reads
 * 4 bytes, lets more arrive unread, and exits. The kernel closes its socket
 * with unread bytes and no FIN first: a RST in ESTABLISHED. (An in-process
 * `Deno.Conn.close()` shuts the write side first, so its RST follows a FIN.)
 */
const RESET_PEER = `
const c = await Deno.connect({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
await c.write(new TextEncoder().encode("ping"));
const b = new Uint8Array(4);
for (let got = 0; got < 4;) got += (await c.read(b.subarray(got)))!;
await new Promise((r) => setTimeout(r, 100));
Deno.exit(0);
`;

/**
 * Runs `body` with a library-side TCP connection whose peer resets it: the
 * peer's "ping" has been read and "never read" written to it, which its
 * kernel answers with a RST once the peer exits. Closes everything after.
 */
export async function withPeerReset(body: (fd: number) => Promise<void> | void): Promise<void> {
  const { fd: lfd, port } = listenLoopback();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", RESET_PEER, String(port)],
    stdin: "null",
    stdout: "null",
  }).spawn();
  let fd = -1;
  try {
    fd = await acceptOne(lfd);
    assert.equal(new TextDecoder().decode(await libReadExactly(fd, 4)), "ping");
    assert.equal(write(fd, new TextEncoder().encode("never read")), 10);
    await body(fd);
    assert.equal((await child.status).code, 0);
  } finally {
    await child.status;
    if (fd >= 0) close(fd);
    close(lfd);
  }
}

/** The library's entry module, for scripts run in a child process. */
export const MOD_URL: string = new URL("../mod.ts", import.meta.url).href;

/**
 * A TypeScript snippet run as a child process (`deno run -A` of a temporary
 * file, not `deno eval`, whose event loop stays alive on its own and would
 * hide a program that exits too early), `$MOD` in it replaced by the
 * library's URL; its stdout is read line by line, its stdin piped or closed.
 */
export class ScriptChild implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #lines: string[] = [];
  #partial = "";
  #ended = false;
  #waiting: (() => void) | null = null;
  #pumped: Promise<void>;
  readonly #file: string;
  stderr = "";

  constructor(source: string, opts: { stdin?: "piped" | "null"; args?: string[] } = {}) {
    this.#file = Deno.makeTempFileSync({ prefix: "script_child_", suffix: ".ts" });
    Deno.writeTextFileSync(this.#file, source.replaceAll("$MOD", MOD_URL));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", this.#file, ...(opts.args ?? [])],
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const d = new TextDecoder();
    const out = (async () => {
      for await (const chunk of child.stdout) {
        const parts = (this.#partial + d.decode(chunk, { stream: true })).split("\n");
        this.#partial = parts.pop()!;
        this.#lines.push(...parts);
        this.#waiting?.();
      }
      this.#ended = true;
      this.#waiting?.();
    })();
    const err = (async () => {
      for await (const chunk of child.stderr) this.stderr += d.decode(chunk, { stream: true });
    })();
    this.#pumped = Promise.all([out, err]).then(() => {});
  }

  /** The next line the child prints; throws if its output ends first. */
  async line(): Promise<string> {
    while (this.#lines.length === 0) {
      if (this.#ended) throw new Error(`child output ended; stderr: ${this.stderr}`);
      await new Promise<void>((r) => this.#waiting = r);
      this.#waiting = null;
    }
    return this.#lines.shift()!;
  }

  /** Waits for the child to exit and its output to be read. */
  async status(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#pumped;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    try {
      await this.child.stdin?.close();
    } catch {
      // not piped, or closed by the test
    }
    await this.status();
    Deno.removeSync(this.#file);
  }
}

/**
 * Sends `signo` (one the caller holds, so its default action cannot run)
 * to this process and returns once Deno has delivered it to its listeners;
 * a timer holds the event loop meanwhile, as signal listeners do not.
 *
 * A signal reaches every listener in the process, and `deno test
 * --parallel` runs test files side by side in one process: each file that
 * signals itself uses signals of its own (signalfd_test: SIGUSR1, SIGUSR2;
 * kqueue_signal_test: SIGWINCH, SIGQUIT; signalfd.ts's example: SIGHUP).
 */
export async function raiseSignal(signo: number): Promise<void> {
  const name = ({ 3: "SIGQUIT", 10: "SIGUSR1", 12: "SIGUSR2", 28: "SIGWINCH" } as Record<
    number,
    Deno.Signal
  >)[signo];
  const delivered = Promise.withResolvers<void>();
  Deno.addSignalListener(name, delivered.resolve);
  const hold = setTimeout(() => {}, 60_000);
  try {
    Deno.kill(Deno.pid, name);
    await delivered.promise;
  } finally {
    clearTimeout(hold);
    Deno.removeSignalListener(name, delivered.resolve);
  }
}

/**
 * Whether the current backend makes datagram sockets (the Deno backend needs
 * `Deno.listenDatagram`, which deno.json's `"unstable": ["net"]` provides).
 */
export const DATAGRAMS: boolean = (() => {
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  close(fd);
  return true;
})();

/** A bound datagram socket of the current backend on loopback, and its address. */
export function udpBound(family: 2 | 10 = AF_INET): { fd: number; addr: SockAddr } {
  const fd = socket(family, SOCK_DGRAM, 0);
  assert.ok(fd >= 0, `socket(SOCK_DGRAM) gave ${fd}`);
  const address = family === AF_INET ? LOOPBACK : "::1";
  assert.equal(bind(fd, { family, address, port: 0 } as SockAddr), 0);
  const addr = {} as SockAddr;
  assert.equal(getsockname(fd, addr), 0);
  return { fd, addr };
}

/**
 * `recvfrom`, waiting with epoll while it says `-EAGAIN` (a Deno-backend
 * datagram arrives a loop turn after it was sent). Fails after `ms`.
 */
export async function recvWithin(
  fd: number,
  buf: Uint8Array,
  flags = 0,
  from?: SockAddr,
  ms = 5000,
): Promise<number> {
  for (;;) {
    const n = recvfrom(fd, buf, flags, from);
    if (n !== -EAGAIN) return n;
    assert.ok((await waitFor(fd, EPOLLIN, ms)) & (EPOLLIN | EPOLLERR), `fd ${fd}: no EPOLLIN`);
  }
}

// ---- The simulated network (tests/sim_*_test.ts) ---------------------------

/** A listening simulated socket on `port` of the host that runs `os`. */
export function simListen(os: SimOs, port: number, backlog = 128): number {
  const fd = os.socket(AF_INET, SOCK_STREAM, 0);
  assert.equal(os.bind(fd, { family: AF_INET, address: "0.0.0.0", port }), 0);
  assert.equal(os.listen(fd, backlog), 0);
  return fd;
}

/** Listens on `port` of the host that runs `os`, waits for a connection and accepts it. */
export async function simAccept(os: SimOs, port: number): Promise<number> {
  const lfd = simListen(os, port);
  await simWait(os, lfd, EPOLLIN);
  return os.accept(lfd);
}

/** A simulated socket connecting to `address:port` (connect gave `-EINPROGRESS`). */
export function simConnect(os: SimOs, address: string, port: number): number {
  const fd = os.socket(AF_INET, SOCK_STREAM, 0);
  assert.equal(os.connect(fd, { family: AF_INET, address, port }), -EINPROGRESS);
  return fd;
}

/** A host fd's readiness now for `events` (every bit by default), or 0. */
export async function simReadiness(os: SimOs, fd: number, events = ALL_EVENTS): Promise<number> {
  return await simWait(os, fd, events, 0);
}

/** Waits (virtual `ms`, -1 forever) until `fd` reports something for `events`; the mask or 0. */
export async function simWait(os: SimOs, fd: number, events: number, ms = -1): Promise<number> {
  const ep = os.epollCreate1(0);
  try {
    assert.equal(os.epollCtl(ep, EPOLL_CTL_ADD, fd, { events, data: fd }), 0);
    const out: EpollEvent[] = [];
    const n = await os.epollWait(ep, out, 1, ms);
    assert.ok(n >= 0, `epollWait gave ${n}`);
    return n === 0 ? 0 : out[0].events;
  } finally {
    os.close(ep);
  }
}

/** Reads until EOF (or an error, returned with the bytes) from a host fd. */
export async function simReadAll(
  os: SimOs,
  fd: number,
): Promise<{ data: Uint8Array; end: number }> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = os.read(fd, buf);
    if (r === -EAGAIN) {
      await simWait(os, fd, EPOLLIN | EPOLLRDHUP);
      continue;
    }
    if (r <= 0) {
      const len = chunks.reduce((a, c) => a + c.length, 0);
      const data = new Uint8Array(len);
      let off = 0;
      for (const c of chunks) {
        data.set(c, off);
        off += c.length;
      }
      return { data, end: r };
    }
    chunks.push(buf.slice(0, r));
  }
}

/** Writes all of `data` to a host fd, waiting for `EPOLLOUT` when the buffer is full. */
export async function simWriteAll(os: SimOs, fd: number, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const w = os.write(fd, data.subarray(off));
    if (w === -EAGAIN) {
      await simWait(os, fd, EPOLLOUT);
      continue;
    }
    if (w < 0) throw new Error(`write gave ${w} after ${off} bytes`);
    off += w;
  }
}

// ---- UDP on the simulated network (tests/sim_udp*_test.ts) -----------------

/** A UDP socket on `port` (0: none, unbound) of the host that runs `os`. */
export function simUdp(os: SimOs, port = 0, address = "0.0.0.0"): number {
  const fd = os.socket(AF_INET, SOCK_DGRAM, 0);
  assert.ok(fd >= 0, `socket gave ${fd}`);
  if (port !== 0) assert.equal(os.bind(fd, { family: AF_INET, address, port }), 0);
  return fd;
}

/** Receives one datagram (waiting for it): its bytes, sender and the virtual time. */
export async function simRecvFrom(
  os: SimOs,
  fd: number,
  size = 2048,
): Promise<{ data: number[]; from: string; at: number }> {
  const buf = new Uint8Array(size);
  const from = {} as SockAddr;
  for (;;) {
    const n = os.recvfrom(fd, buf, 0, from);
    if (n === -EAGAIN) {
      await simWait(os, fd, EPOLLIN);
      continue;
    }
    assert.ok(n >= 0, `recvfrom gave ${n}`);
    const f = from as { address: string; port: number };
    return { data: [...buf.subarray(0, n)], from: `${f.address}:${f.port}`, at: os.now() };
  }
}

/** Every datagram queued now, as their first bytes. */
export function simDrain(os: SimOs, fd: number): number[] {
  const out: number[] = [];
  const buf = new Uint8Array(2048);
  for (let n = os.recv(fd, buf, 0); n >= 0; n = os.recv(fd, buf, 0)) {
    out.push(n === 0 ? -1 : buf[0]);
  }
  return out;
}

/** An IPv4 address as a `SockAddr`. */
export function inet4(address: string, port: number): SockAddr {
  return { family: AF_INET, address, port };
}

/** A server host "srv" whose main is `server`, and a client host "cli" whose main is `client`. */
export function simServerClient(
  sim: SimNetwork,
  server: (os: SimOs) => Promise<void>,
  client: (os: SimOs, srv: string) => Promise<void>,
): void {
  const s = sim.addHost("srv");
  sim.spawn(s, server);
  sim.client("cli", (os) => client(os, s.addresses[0]));
}
