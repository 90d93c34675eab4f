/**
 * Shared command-line handling for the example servers: `--host`,
 * `--port`, `--stats`, `--max-fds` (the descriptor limit, to try the
 * servers when descriptors run out), and a once-every-few-seconds one-line
 * summary.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What every example server takes on its command line. */
export interface ServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  host: string;
  /** Port to listen on (default 8080; 0 picks a free port). */
  port: number;
  /** Print a summary line every `interval` seconds. */
  stats: boolean;
  /** Seconds between summary lines (default 5). */
  interval: number;
  /** The descriptor limit (`setDescriptorLimit`), like `ulimit -n`; 0 keeps the default. */
  maxFds: number;
  /** Values of the server's own options (`extra` of {@linkcode parseServerArgs}). */
  extra: Record<string, string>;
}

/**
 * Parses `--host`, `--port`, `--stats`, `--interval`, `--max-fds`, and the
 * server's own string options `extra` (name to default), from `args`.
 */
export function parseServerArgs(
  args: string[] = Deno.args,
  extra: Record<string, string> = {},
): ServerOptions {
  const own: Record<string, { type: "string"; default: string }> = {};
  for (const [name, value] of Object.entries(extra)) own[name] = { type: "string", default: value };
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
      stats: { type: "boolean", default: false },
      interval: { type: "string", default: "5" },
      "max-fds": { type: "string", default: "0" },
      ...own,
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Cannot use port "${values.port}": expected 0..65535`);
  }
  const maxFds = Number(values["max-fds"]);
  if (!Number.isInteger(maxFds) || maxFds < 0) {
    throw new TypeError(`Cannot use --max-fds "${values["max-fds"]}": expected an integer >= 0`);
  }
  const v = values as Record<string, string | boolean>;
  return {
    host: values.host!,
    port,
    stats: values.stats!,
    interval: Number(values.interval),
    maxFds,
    extra: Object.fromEntries(Object.keys(extra).map((k) => [k, v[k] as string])),
  };
}

/** Counters a server updates and {@linkcode startStats} prints. */
export class Stats {
  /** Connections open now. */
  open = 0;
  /** Connections accepted since start. */
  accepted = 0;
  /** Bytes read from clients. */
  bytesIn = 0;
  /** Bytes written to clients. */
  bytesOut = 0;
  /** Events returned by epoll_wait. */
  events = 0;
}

/**
 * Prints one summary line of `stats` every `seconds`, until the returned
 * function is called.
 */
export function startStats(name: string, stats: Stats, seconds: number): () => void {
  let last = performance.now();
  let lastEvents = 0;
  let lastIn = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const dt = (now - last) / 1000;
    const mem = Deno.memoryUsage();
    const rss = mem.rss / 2 ** 20;
    const heap = (mem.heapUsed + mem.external) / 2 ** 20;
    console.log(
      `${name}: ${stats.open} open, ${stats.accepted} accepted, ` +
        `${((stats.bytesIn - lastIn) / dt / 2 ** 20).toFixed(1)} MiB/s in, ` +
        `${Math.round((stats.events - lastEvents) / dt)} events/s, rss ${
          rss.toFixed(0)
        } MiB (heap+external ${heap.toFixed(0)} MiB)`,
    );
    last = now;
    lastEvents = stats.events;
    lastIn = stats.bytesIn;
  }, seconds * 1000);
  return () => clearInterval(timer);
}

import {
  AF_INET,
  AF_INET6,
  bind,
  check,
  getsockname,
  IPPROTO_TCP,
  listen,
  setDescriptorLimit,
  setsockopt,
  SO_REUSEADDR,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type SockAddr,
  socket,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../mod.ts";

/**
 * Opens a listening TCP socket on `host:port` with `TCP_NODELAY` (inherited
 * by accepted sockets) and a 4096 backlog, and prints where it listens.
 */
export function openListener(name: string, opts: ServerOptions): number {
  if (opts.maxFds > 0) check(setDescriptorLimit(opts.maxFds), "setDescriptorLimit");
  const family = opts.host.includes(":") ? AF_INET6 : AF_INET;
  const fd = check(socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), "socket");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  check(bind(fd, { family, address: opts.host, port: opts.port }), "bind");
  check(listen(fd, 4096), "listen");
  const addr = {} as SockAddr;
  getsockname(fd, addr);
  if (addr.family !== AF_INET && addr.family !== AF_INET6) throw new Error("unexpected address");
  const host = addr.family === AF_INET6 ? `[${addr.address}]` : addr.address;
  console.log(`${name} listening on ${host}:${addr.port}`);
  // Exit cleanly on Ctrl-C / kill, so that `--cpu-prof` profiles get written.
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
  return fd;
}
