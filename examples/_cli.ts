/**
 * Shared command-line handling for the examples.
 *
 * Every example describes its flags in one table ({@linkcode Flag} values
 * keyed by flag name) and calls {@linkcode parseCommand} (or
 * {@linkcode parseServerArgs}, which adds {@linkcode SERVER_FLAGS}). That
 * gives each example the same behaviour:
 *
 * - `--help` (or `-h`) prints the summary and every flag with its default,
 *   and exits 0;
 * - a bad flag or value prints one line on stderr and exits 2;
 * - any later failure (the port is in use, permission denied, an unexpected
 *   exception) prints one line on stderr and exits 1: never a stack trace.
 *
 * To add a flag to every server, add an entry to {@linkcode SERVER_FLAGS}
 * (or to {@linkcode COMMON_FLAGS} for every example); its parsed value
 * appears under the same name in the options object, typed by its
 * `default`. To add a flag to one example, pass it in that example's
 * `flags`.
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
  SOCK_NONBLOCK,
  SOCK_STREAM,
  type SockAddr,
  socket,
  socketBackendError,
  SOL_SOCKET,
  strerror,
  TCP_NODELAY,
} from "../mod.ts";

/** A wrong flag or value: reported as one line, exit status 2. */
export class UsageError extends Error {
  /** @param message What is wrong, without the program name. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One command-line flag: how its text becomes a value, and its help line. */
export interface Flag<T> {
  /** Placeholder shown after the flag (`--port N`); absent for a switch. */
  arg?: string;
  /** One line for `--help`. */
  help: string;
  /** The value when the flag is not given. */
  default: T;
  /** Turns the flag's text into a value; throws {@linkcode UsageError}. */
  parse?: (text: string) => T;
}

/** A table of flags, keyed by name without the leading `--`. */
// deno-lint-ignore no-explicit-any
export type Flags = Record<string, Flag<any>>;

/** The parsed values of a flag table. */
export type Values<F extends Flags> = { -readonly [K in keyof F]: F[K]["default"] };

/** An example's name, what it does, and its flags. */
export interface Command<F extends Flags> {
  /** Program name, used as the prefix of every message (`echo_server`). */
  name: string;
  /** One line on what the program does. */
  summary: string;
  /** Further `--help` lines: what it prints, how to stop it. */
  details?: string[];
  /** The `deno run` permission flags it needs (default `--allow-net`). */
  permissions?: string;
  /** The flags it takes (`--help` is always added). */
  flags: F;
}

/** A switch: present means `true`. */
export function switchFlag(help: string): Flag<boolean> {
  return { help, default: false };
}

/** A flag taking any text. */
export function stringFlag(arg: string, help: string, fallback: string): Flag<string> {
  return { arg, help, default: fallback, parse: (text) => text };
}

/** A flag taking an integer in `min..max`. */
export function intFlag(
  arg: string,
  help: string,
  fallback: number,
  min: number,
  max: number,
): Flag<number> {
  return {
    arg,
    help,
    default: fallback,
    parse: (text) => {
      const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new UsageError(`expected an integer ${min}..${max}, got "${text}"`);
      }
      return n;
    },
  };
}

/** A flag taking a number of seconds greater than 0. */
export function secondsFlag(arg: string, help: string, fallback: number): Flag<number> {
  return {
    arg,
    help,
    default: fallback,
    parse: (text) => {
      const n = /^\d*\.?\d+$/.test(text) ? Number(text) : NaN;
      if (!(n > 0) || n > 2 ** 31 / 1000) {
        throw new UsageError(`expected a number of seconds > 0, got "${text}"`);
      }
      return n;
    },
  };
}

/** `--idle-timeout S`: seconds without traffic before a connection is closed; 0 never. */
export function idleTimeoutFlag(fallback: number): Flag<number> {
  return {
    arg: "S",
    help: "close a connection after S seconds without traffic; 0 never",
    default: fallback,
    parse: (text) => {
      const n = /^\d*\.?\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= 0) || n > 2 ** 31 / 1000) {
        throw new UsageError(`expected a number of seconds >= 0, got "${text}"`);
      }
      return n;
    },
  };
}

/** Flags every example takes. */
export const COMMON_FLAGS = {
  stats: switchFlag("print a one-line summary (connections, MiB/s, events/s, memory) periodically"),
  interval: secondsFlag("S", "seconds between --stats lines", 5),
};

/**
 * `--backend deno|native`: which sockets the server uses (the default is
 * the library's, `DENO_EPOLL_BACKEND` or `deno`).
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
  port: intFlag(
    "N",
    "TCP port to listen on; 0 picks a free port (printed at start)",
    8080,
    0,
    65535,
  ),
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

/** Prints `name: message` as one line on stderr and exits with `code`. */
export function fail(name: string, message: string, code = 1): never {
  console.error(`${name}: ${message.replace(/\s*\n\s*/g, " ")}`);
  Deno.exit(code);
}

let handlersFor: string | null = null;

/** Turns any uncaught exception into one line on stderr and exit status 1. */
function reportUncaught(name: string): void {
  if (handlersFor !== null) return;
  handlersFor = name;
  const report = (err: unknown) => {
    if (err instanceof UsageError) fail(name, `${err.message} (see --help)`, 2);
    fail(name, err instanceof Error ? err.message : String(err));
  };
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    report(e.error);
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    report(e.reason);
  });
}

/** The `--help` text of `cmd`. */
export function helpText<F extends Flags>(cmd: Command<F>): string {
  const rows: [string, string][] = [["-h, --help", "print this help and exit"]];
  for (const [key, flag] of Object.entries(cmd.flags)) {
    const shown = flag.arg ? `--${key} ${flag.arg}` : `--${key}`;
    const dflt = flag.arg ? ` (default ${flag.default})` : "";
    rows.push([shown, flag.help + dflt]);
  }
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `${cmd.name}: ${cmd.summary}`,
    "",
    `Usage: deno run ${cmd.permissions ?? "--allow-net"} examples/${cmd.name}.ts [flags]`.replace(
      "  ",
      " ",
    ),
    "",
    "Flags:",
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    ...(cmd.details?.length ? ["", ...cmd.details] : []),
  ].join("\n");
}

/**
 * Parses `args` against `cmd.flags` (`--name value`, `--name=value`,
 * switches as `--name`). On `--help` prints the help and exits 0; on a
 * wrong flag or value prints one line and exits 2. From here on, uncaught
 * exceptions are reported as one line too.
 */
export function parseCommand<F extends Flags>(cmd: Command<F>, args = Deno.args): Values<F> {
  reportUncaught(cmd.name);
  try {
    return parseFlags(cmd, args);
  } catch (err) {
    if (err instanceof UsageError) fail(cmd.name, `${err.message} (see --help)`, 2);
    throw err;
  }
}

function parseFlags<F extends Flags>(cmd: Command<F>, args: string[]): Values<F> {
  const values: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(cmd.flags)) values[key] = flag.default;
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "-h" || word === "--help") {
      console.log(helpText(cmd));
      Deno.exit(0);
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(word);
    if (m === null) throw new UsageError(`unexpected argument "${word}"`);
    const [, key, inline] = m;
    const flag = Object.hasOwn(cmd.flags, key) ? cmd.flags[key] : undefined;
    if (flag === undefined) throw new UsageError(`unknown flag --${key}`);
    if (!flag.parse) {
      if (inline !== undefined) throw new UsageError(`--${key} takes no value`);
      values[key] = true;
      continue;
    }
    const text = inline ?? args[++i];
    if (text === undefined) throw new UsageError(`--${key} needs a value (${flag.arg})`);
    try {
      values[key] = flag.parse(text);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`--${key}: ${err.message}`);
      throw err;
    }
  }
  return values as Values<F>;
}

/** A server's name and help, and the flags it adds to {@linkcode SERVER_FLAGS}. */
export interface ServerCommand<E extends Flags> {
  /** Program name (`echo_server`). */
  name: string;
  /** One line on what it does. */
  summary: string;
  /** Further `--help` lines. */
  details?: string[];
  /** Flags of this server only. */
  flags?: E;
}

/** Parses {@linkcode SERVER_FLAGS} and `cmd.flags` (see {@linkcode parseCommand}). */
export function parseServerArgs<E extends Flags = Record<never, never>>(
  cmd: ServerCommand<E>,
  args: string[] = Deno.args,
): ServerOptions & Values<E> {
  const flags = { ...SERVER_FLAGS, ...(cmd.flags ?? {}) } as typeof SERVER_FLAGS & E;
  const opts = parseCommand({ ...cmd, flags }, args) as ServerOptions & Values<E>;
  if (setSocketBackend(opts.backend) !== 0) {
    fail(cmd.name, `--backend ${opts.backend}: ${socketBackendError()}`);
  }
  return opts;
}

/** Counters a program updates and {@linkcode startStats} prints. */
export class Stats {
  /** Connections open now. */
  open = 0;
  /** Connections accepted since start. */
  accepted = 0;
  /** Bytes read from clients. */
  bytesIn = 0;
  /** Bytes written to clients. */
  bytesOut = 0;
  /** Events returned by epoll_wait (or kevent). */
  events = 0;
  /** Connections closed by an idle timeout. */
  timedOut = 0;
}

/**
 * Prints one summary line of `stats` every `seconds`, until the returned
 * function is called. The timer does not keep the program alive.
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
      `${name}: ${stats.open} open, ${stats.accepted} accepted, ${stats.timedOut} timed out, ` +
        `${((stats.bytesIn - lastIn) / dt / 2 ** 20).toFixed(1)} MiB/s in, ` +
        `${Math.round((stats.events - lastEvents) / dt)} events/s, rss ${
          rss.toFixed(0)
        } MiB (heap+external ${heap.toFixed(0)} MiB)`,
    );
    last = now;
    lastEvents = stats.events;
    lastIn = stats.bytesIn;
  }, seconds * 1000);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
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

/** Why a listening socket could not be opened, with what to do about it. */
function listenError(e: number): string {
  const what = `${strerror(e)} (${errnoName(e)})`;
  if (-e === EACCES) return `${what}; run with --allow-net (ports below 1024 need privileges too)`;
  if (-e === EADDRINUSE) return `${what}; pick another --port, or --port 0 for a free one`;
  if (-e === EADDRNOTAVAIL) return `${what}; --host must be an address of this machine`;
  return what;
}

/**
 * Opens a listening TCP socket on `--host`:`--port` with `TCP_NODELAY`
 * (inherited by accepted sockets) and a 4096 backlog, and prints
 * `NAME listening on HOST:PORT`. Exits with one line on stderr when it
 * cannot. Ctrl-C and SIGTERM exit 0 (so `--cpu-prof` profiles get written).
 */
export async function openListener(name: string, opts: ServerOptions): Promise<number> {
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
  let r = bind(fd, { family, address, port: opts.port });
  if (r === 0) r = listen(fd, 4096);
  if (r < 0) {
    close(fd);
    fail(name, `cannot listen on ${where}: ${listenError(r)}`);
  }
  const addr = {} as SockAddr;
  getsockname(fd, addr);
  if (addr.family !== AF_INET && addr.family !== AF_INET6) fail(name, "unexpected local address");
  const host = addr.family === AF_INET6 ? `[${addr.address}]` : addr.address;
  // Before the line below: whoever reads it may signal at once.
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
  console.log(`${name} listening on ${host}:${addr.port}`);
  return fd;
}
