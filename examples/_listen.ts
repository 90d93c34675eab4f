/**
 * The example servers' listener setup: the flags every server takes
 * ({@linkcode SERVER_FLAGS}: backend, host, port, descriptor limit, plus the
 * common ones), {@linkcode parseServerArgs} to read them and select the
 * socket backend, and {@linkcode openListener} to resolve `--host` and open
 * the listening socket, or exit with one line saying what to do.
 *
 * A server reads: `const opts = parseServerArgs({...})`, then
 * `const fd = await openListener(name, opts)`, then its own loop. To give
 * every server a flag, add it to {@linkcode SERVER_FLAGS}; a server that
 * opens another kind of socket adds a function beside
 * {@linkcode openListener} that shares {@linkcode resolveHost} and the
 * error wording of {@linkcode socketError}.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  bind,
  close,
  EACCES,
  EADDRINUSE,
  EADDRNOTAVAIL,
  errnoName,
  getSocketBackend,
  getsockname,
  IPPROTO_TCP,
  listen,
  setDescriptorLimit,
  setSocketBackend,
  setsockopt,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type SockAddr,
  socket,
  socketBackendError,
  SOL_SOCKET,
  strerror,
  TCP_NODELAY,
} from "../mod.ts";
import {
  COMMON_FLAGS,
  type Flag,
  type Flags,
  intFlag,
  parseCommand,
  stringFlag,
  UsageError,
  type Values,
} from "./_flags.ts";
import { fail, nativeCommand } from "./_trap.ts";

/**
 * `--backend deno|native`: which sockets the server uses. The default is
 * the library's: `DENO_EPOLL_BACKEND` when the program may read it (the
 * example tasks grant `--allow-env=DENO_EPOLL_BACKEND`; without that
 * permission Deno does not let a program see whether it is set), else
 * `deno`.
 */
export const backendFlag: Flag<"deno" | "native"> = {
  arg: "NAME",
  help: "socket backend: deno (Deno.listen) or native (kernel sockets via FFI; needs --allow-ffi)",
  default: getSocketBackend(),
  parse: (text) => {
    if (text !== "deno" && text !== "native") {
      throw new UsageError(`expected deno or native, got "${text}"`);
    }
    return text;
  },
};

/** Flags every network server takes: where to listen, plus {@linkcode COMMON_FLAGS}. */
export const SERVER_FLAGS = {
  backend: backendFlag,
  host: stringFlag(
    "HOST",
    "address or host name to listen on (::1, 0.0.0.0, localhost, ...)",
    "127.0.0.1",
  ),
  port: {
    ...intFlag(
      "N",
      "TCP port to listen on; 0 picks a free port (printed at start)",
      8080,
      0,
      65535,
    ),
    short: "p",
  },
  "max-fds": intFlag(
    "N",
    "descriptor limit, like ulimit -n (setDescriptorLimit), to try running out; 0 keeps the default",
    0,
    0,
    1_048_576,
  ),
  ...COMMON_FLAGS,
};

/** What every network server's options hold. */
export type ServerOptions = Values<typeof SERVER_FLAGS>;

/** A server's name and help, and the flags it adds to {@linkcode SERVER_FLAGS}. */
export interface ServerCommand<E extends Flags> {
  /** Program name (`echo_server`). */
  name: string;
  /** One line on what it does. */
  summary: string;
  /** Further `--help` lines. */
  details?: string[];
  /** Its `deno.json` task (`echo`); `TASK:native` runs it on the native backend. */
  task?: string;
  /** Flags of this server only. */
  flags?: E;
}

/**
 * Parses {@linkcode SERVER_FLAGS} and `cmd.flags` (see
 * {@linkcode parseCommand}) and selects the socket backend. When the native
 * backend cannot run, exits with one line that ends with the command that
 * works (the server's native task, and the `deno run` form).
 */
export function parseServerArgs<E extends Flags = Record<never, never>>(
  cmd: ServerCommand<E>,
  args: string[] = Deno.args,
): ServerOptions & Values<E> {
  const flags = { ...SERVER_FLAGS, ...(cmd.flags ?? {}) } as typeof SERVER_FLAGS & E;
  const opts = parseCommand({ ...cmd, flags }, args) as ServerOptions & Values<E>;
  if (setSocketBackend(opts.backend) !== 0) {
    const task = cmd.task ? `${nativeCommand(args, `${cmd.task}:native`)}, or ` : "";
    fail(
      cmd.name,
      `--backend ${opts.backend}: ${socketBackendError()}; run: ${task}${nativeCommand(args)}`,
    );
  }
  return opts;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Resolves `--host` to an address and family: IP literals as they are
 * (`[::1]` too), `localhost` (and `*.localhost`, RFC 6761) to 127.0.0.1
 * without asking anyone, other names by DNS (A, then AAAA) within 5 s.
 * Throws {@linkcode UsageError} for a name that does not resolve.
 */
export async function resolveHost(
  host: string,
): Promise<{ family: typeof AF_INET | typeof AF_INET6; address: string }> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (IPV4.test(bare)) return { family: AF_INET, address: bare };
  if (bare.includes(":")) return { family: AF_INET6, address: bare };
  const name = bare.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) {
    return { family: AF_INET, address: "127.0.0.1" };
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
    throw new UsageError(`--host: "${host}" is neither an IP address nor a host name`);
  }
  for (const type of ["A", "AAAA"] as const) {
    try {
      const found = await Deno.resolveDns(name, type, { signal: AbortSignal.timeout(5000) });
      if (found.length > 0) return { family: type === "A" ? AF_INET : AF_INET6, address: found[0] };
    } catch (err) {
      if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
        throw new Error(`cannot resolve "${host}": permission denied; run with --allow-net`);
      }
      // no such record, or no DNS: try the next type
    }
  }
  throw new UsageError(`--host: cannot resolve "${host}"`);
}

/** Why a server's socket could not be opened (`-errno` `e`), with what to do about it. */
export function socketError(e: number): string {
  const what = `${strerror(e)} (${errnoName(e)})`;
  if (-e === EACCES) return `${what}; run with --allow-net (ports below 1024 need privileges too)`;
  if (-e === EADDRINUSE) return `${what}; pick another --port, or --port 0 for a free one`;
  if (-e === EADDRNOTAVAIL) return `${what}; --host must be an address of this machine`;
  return what;
}

/** A listener shared by the Workers of `--workers N` (`_workers.ts`). */
export interface SharedListen {
  /** Told the address instead of printing the `listening on` line (the main thread prints it). */
  listening(host: string, port: number): void;
}

/**
 * Opens a listening TCP socket on `--host`:`--port` with `TCP_NODELAY`
 * (inherited by accepted sockets) and a 4096 backlog, and prints
 * `NAME listening on HOST:PORT (BACKEND backend)`. Exits with one line on stderr when it
 * cannot. Given `shared`, the socket takes `SO_REUSEPORT` first, and `shared` hears the address
 * instead. The servers catch SIGTERM and SIGINT before it (`_graceful.ts`): whoever reads
 * the line may signal at once.
 */
export async function openListener(
  name: string,
  opts: ServerOptions,
  shared?: SharedListen,
): Promise<number> {
  const { family, address } = await resolveHost(opts.host);
  if (opts["max-fds"] > 0) {
    const e = setDescriptorLimit(opts["max-fds"]);
    if (e < 0) fail(name, `cannot set --max-fds ${opts["max-fds"]}: ${strerror(e)}`, 2);
  }
  const where = `${family === AF_INET6 ? `[${address}]` : address}:${opts.port}`;
  const fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) fail(name, `cannot open a socket: ${strerror(fd)} (${errnoName(fd)})`);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (shared) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  let r = bind(fd, { family, address, port: opts.port });
  if (r === 0) r = listen(fd, 4096);
  if (r < 0) {
    close(fd);
    fail(name, `cannot listen on ${where}: ${socketError(r)}`);
  }
  const addr = {} as SockAddr;
  getsockname(fd, addr);
  if (addr.family !== AF_INET && addr.family !== AF_INET6) fail(name, "unexpected local address");
  const host = addr.family === AF_INET6 ? `[${addr.address}]` : addr.address;
  if (shared) shared.listening(host, addr.port);
  else console.log(`${name} listening on ${host}:${addr.port} (${getSocketBackend()} backend)`);
  return fd;
}
