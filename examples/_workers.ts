/**
 * `--workers N` for the echo, HTTP and RESP examples: N Deno Workers, each
 * a whole copy of the server with its own descriptor table, epoll set and
 * event loop (a Worker has its own module instances, so the library's
 * table is per Worker), all listening on one port with `SO_REUSEPORT`: the
 * kernel spreads new connections over the listeners by a hash of their
 * addresses. Nothing is shared between Workers and no descriptor crosses.
 *
 * The main thread serves nothing. It starts Worker 1 on `--port` (0 picks
 * one), then the others on the port Worker 1 got, prints the one
 * `NAME listening on HOST:PORT (BACKEND backend) with N workers` line, and
 * exits when every Worker has: with the first non-zero status, or with 0
 * and `NAME: all N workers stopped` after a graceful stop. Each Worker
 * catches SIGTERM and SIGINT itself (Deno delivers a signal to every
 * listener in the process) and drains its own connections; the main
 * thread holds the signals with a signalfd of its own so that their
 * default action cannot end the process meanwhile.
 *
 * Each Worker prints its own `--stats` lines, named `NAME[i]`: the
 * connections per Worker.
 *
 * Backends: `native` uses the kernel's own `SO_REUSEPORT`. `deno` uses
 * `Deno.listen`'s `reusePort`, which Deno honours only with
 * `--unstable-net` (this repository's deno.json enables it); without it
 * `--workers` stops with a message saying so.
 *
 * @module
 */

import {
  EPOLL_CTL_ADD,
  epollCtl,
  EPOLLIN,
  getSocketBackend,
  SIGINT,
  signalfd,
  SIGTERM,
} from "../mod.ts";
import { intFlag } from "./_flags.ts";
import { GracefulStop } from "./_graceful.ts";
import { openListener, type ServerOptions, type SharedListen } from "./_listen.ts";
import { exit, fail, IN_WORKER, MAIN_MODULE } from "./_trap.ts";

/** `--workers N`. */
export const workersFlag = intFlag(
  "N",
  "serve with N Deno Workers, each with its own descriptors and epoll, sharing the port (SO_REUSEPORT)",
  1,
  1,
  64,
);

/** Which Worker this is, of how many, and the port they share. */
export interface WorkerRole {
  /** 1..count. */
  index: number;
  count: number;
  port: number;
}

/** What a Worker tells the main thread. */
type Report = { listening: { host: string; port: number; backend: string } } | { exit: number };

/**
 * Where a server starts. In the main thread with `--workers` above 1: runs
 * the Workers and never returns. In a Worker: returns its role (with the
 * port to listen on and the {@linkcode SharedListen} for `openListener`).
 * Otherwise: `null` (one thread, as without the flag).
 */
export async function workerRole(
  name: string,
  opts: { workers: number; port: number },
): Promise<(WorkerRole & SharedListen) | null> {
  if (IN_WORKER) {
    const role = await new Promise<WorkerRole>((resolve) => {
      globalThis.addEventListener("message", (e) => resolve((e as MessageEvent).data.role), {
        once: true,
      });
    });
    const post = (r: Report) => (globalThis as unknown as Worker).postMessage(r);
    return {
      ...role,
      listening: (host, port) => post({ listening: { host, port, backend: getSocketBackend() } }),
    };
  }
  if (opts.workers <= 1) return null;
  return await supervise(name, opts.workers, opts.port);
}

/** What {@linkcode startServer} gives a server. */
export interface Started {
  /** `NAME`, or `NAME[i]` in Worker i: the prefix of its lines. */
  name: string;
  /** SIGTERM and SIGINT, watched in the server's epoll set with `data` this object. */
  stop: GracefulStop;
  /** The listening socket (`SO_REUSEPORT` in a Worker). */
  listenFd: number;
}

/**
 * The start the `--workers` servers share: with `--workers N` in the main
 * thread, runs the Workers and never returns; otherwise (one thread, or a
 * Worker) catches SIGTERM and SIGINT in `epfd` (before the `listening`
 * line: whoever reads it may signal at once) and opens the listener.
 */
export async function startServer(
  base: string,
  opts: ServerOptions & { workers: number; "drain-timeout": number },
  epfd: number,
): Promise<Started> {
  const role = await workerRole(base, opts);
  const name = role ? `${base}[${role.index}]` : base;
  const stop = new GracefulStop(name, opts["drain-timeout"]);
  epollCtl(epfd, EPOLL_CTL_ADD, stop.fd, { events: EPOLLIN, data: stop });
  const port = role?.port ?? opts.port;
  const listenFd = await openListener(name, { ...opts, port }, role ?? undefined);
  return { name, stop, listenFd };
}

/** The main thread of `--workers N`: start the Workers, wait for them, exit as they do. */
async function supervise(name: string, count: number, port: number): Promise<never> {
  if (getSocketBackend() === "deno" && !("listenDatagram" in Deno)) {
    fail(
      name,
      "--workers on the deno backend needs SO_REUSEPORT, which Deno honours only with " +
        "--unstable-net (this repository's deno.json enables it); or use --backend native",
      2,
    );
  }
  // Each Worker catches SIGTERM/SIGINT itself; this signalfd only keeps their default action off.
  signalfd(-1, [SIGINT, SIGTERM], 0);
  let exited = 0;
  const start = (index: number, port: number) =>
    new Promise<{ host: string; port: number; backend: string }>((resolve) => {
      const w = new Worker(MAIN_MODULE, { type: "module", name: `${name}[${index}]` });
      w.onmessage = (e: MessageEvent<Report>) => {
        if ("listening" in e.data) return resolve(e.data.listening);
        if (e.data.exit !== 0) exit(e.data.exit); // the Worker has said why on stderr
        if (++exited < count) return;
        console.log(`${name}: all ${count} workers stopped`);
        exit(0);
      };
      w.onerror = (e) => {
        e.preventDefault();
        fail(name, `worker ${index}: ${e.message}`);
      };
      w.postMessage({ role: { index, count, port } });
    });
  const first = await start(1, port);
  const others = [];
  for (let i = 2; i <= count; i++) others.push(start(i, first.port));
  await Promise.all(others);
  console.log(
    `${name} listening on ${first.host}:${first.port} (${first.backend} backend) with ${count} workers`,
  );
  // The Workers keep the process alive; their exits end it.
  return await new Promise<never>(() => {});
}
