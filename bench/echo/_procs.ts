/**
 * Child processes of the echo benchmark: building the C load generator,
 * spawning, stopping and reaping echo servers and loadgen runs, the exit path
 * that kills every child on errors and signals, and RSS/CPU sampling from
 * /proc.
 *
 * Every child is spawned through `loadgen --exec` (PR_SET_PDEATHSIG) or is
 * loadgen itself, and is tracked until reaped so that {@linkcode exitWith}
 * can kill it.
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;
/** The project root, with a trailing slash; the working directory of every child. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;
const LOADGEN = `${HERE}loadgen`;
/** The address every server listens on and loadgen connects to. */
export const HOST = "127.0.0.1";

// ---------------------------------------------------------------- child process bookkeeping

const children = new Set<Deno.ChildProcess>();

function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

let exiting = false;

/** Kills every child, waits (briefly) to reap them, and exits. */
export async function exitWith(code: number, why: string): Promise<never> {
  if (!exiting) {
    exiting = true;
    if (code !== 0 || children.size) {
      console.error(`\n${why}: killing ${children.size} child process(es) and exiting`);
    }
    const pending = [...children].map((c) => c.status.catch(() => {}));
    killAll();
    await Promise.race([Promise.all(pending), sleep(1000)]);
  }
  Deno.exit(code);
}

/**
 * Routes SIGINT, SIGTERM, SIGHUP, unhandled rejections and uncaught errors to
 * {@linkcode exitWith}, so that no child outlives the driver.
 */
export function installExitHandlers(): void {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => exitWith(sig === "SIGINT" ? 130 : 143, sig));
  }
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    exitWith(1, `unhandled rejection: ${e.reason}`);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    exitWith(1, `uncaught error: ${e.error}`);
  });
}

/** Collects a bounded tail of a child's output stream. */
export class Tail {
  /** The last `max` characters read. */
  text = "";
  /** Number of newlines read so far. */
  lines = 0;
  /** Settles when the stream ends or is cancelled. */
  done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>, private max = 8192) {
    this.done = this.#pump(stream);
  }
  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        const s = dec.decode(chunk, { stream: true });
        for (const ch of s) if (ch === "\n") this.lines++;
        this.text = (this.text + s).slice(-this.max);
      }
    } catch {
      // stream cancelled when the child was killed
    }
  }
  /** The first non-blank line of the tail, trimmed, or `""`. */
  firstLine(): string {
    return this.text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  }
}

// ---------------------------------------------------------------- helpers

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** Whether `path` exists. */
export function exists(path: string): boolean {
  return mtime(path) !== null;
}

/** Whether `program` is an executable file in a directory of PATH. */
export function onPath(program: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return true;
    } catch {
      // not there
    }
  }
  return false;
}

/**
 * Compiles `DIR/NAME.c` with gcc into `DIR/NAME` unless the binary is up to
 * date; `dir` is a folder path ending in `/` (default bench/echo/).
 */
export async function buildC(name: string, dir: string = HERE): Promise<void> {
  const src = mtime(`${dir}${name}.c`);
  const bin = mtime(`${dir}${name}`);
  if (src === null) throw new Error(`missing ${dir}${name}.c`);
  if (bin !== null && bin >= src) return;
  const shown = `${dir.startsWith(ROOT) ? dir.slice(ROOT.length) : dir}${name}`;
  console.error(`building ${name}: gcc -O2 -Wall -o ${shown} ${shown}.c`);
  const out = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-o", `${dir}${name}`, `${dir}${name}.c`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("gcc failed");
}

/**
 * Compiles bench/echo/loadgen.c and the C epoll echo server
 * (bench/echo/c_epoll_server.c) with gcc unless the binaries are up to date.
 */
export async function buildLoadgen(): Promise<void> {
  await buildC("loadgen");
  await buildC("c_epoll_server");
}

let nextPort = 20000 + Math.floor(Math.random() * 5000);

/** A free port outside the ephemeral range (32768-60999), so client ports never collide. */
export function freePort(): number {
  for (let tries = 0; tries < 1000; tries++) {
    const port = nextPort;
    nextPort = nextPort >= 29999 ? 20000 : nextPort + 1;
    try {
      const l = Deno.listen({ hostname: HOST, port });
      l.close();
      return port;
    } catch {
      // in use: try the next one
    }
  }
  throw new Error("no free port in 20000-29999");
}

/**
 * Waits until something accepts on `HOST:port`; throws if `exited` settles
 * first or `timeoutMs` passes.
 */
export async function waitForAccept(
  port: number,
  exited: Promise<Deno.CommandStatus>,
  timeoutMs: number,
): Promise<void> {
  const state: { gone: Deno.CommandStatus | null } = { gone: null };
  exited.then((s) => state.gone = s);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (state.gone) throw new Error(`server exited during startup (code ${state.gone.code})`);
    try {
      const c = await Deno.connect({ hostname: HOST, port });
      c.close();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`server did not accept on ${HOST}:${port} within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------- servers and loadgen

/** An echo server child, spawned through `loadgen --exec` and tracked until reaped. */
export class ServerProcess {
  /** The `loadgen --exec` child (it execs the server, so this is the server). */
  readonly child: Deno.ChildProcess;
  /** Tail of the server's stdout. */
  readonly stdout: Tail;
  /** Tail of the server's stderr. */
  readonly stderr: Tail;
  /** The exit status once the server has exited, else `null`. */
  exit: Deno.CommandStatus | null = null;
  #status: Promise<Deno.CommandStatus>;

  /** Spawns `cmd` (program and arguments) in the project root. */
  constructor(cmd: string[]) {
    const [prog, ...args] = cmd;
    this.child = new Deno.Command(LOADGEN, {
      args: ["--exec", prog, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.add(this.child);
    this.stdout = new Tail(this.child.stdout);
    this.stderr = new Tail(this.child.stderr);
    this.#status = this.child.status.then((s) => this.exit = s);
  }

  /** The server's pid. */
  get pid(): number {
    return this.child.pid;
  }

  /**
   * Stops the server unless it has exited (SIGTERM, then SIGKILL after 2 s),
   * reaps it, and waits for its output tails to end.
   */
  async stop(): Promise<void> {
    const srv = this.child;
    if (!this.exit) {
      try {
        srv.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          srv.kill("SIGKILL");
        } catch { /* gone */ }
      }, 2000);
      await this.#status;
      clearTimeout(timer);
    }
    children.delete(srv);
    await Promise.all([this.stdout.done, this.stderr.done]);
  }
}

/**
 * Runs loadgen (or another load generator, `program`) with `args` in the
 * project root and returns its output. It is SIGKILLed after `limitMs`, and
 * killed and untracked however this returns.
 */
export async function runLoadgen(
  args: string[],
  limitMs: number,
  program: string = LOADGEN,
): Promise<Deno.CommandOutput> {
  const lg = new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(lg);
  try {
    const killer = setTimeout(() => {
      try {
        lg.kill("SIGKILL");
      } catch { /* gone */ }
    }, limitMs);
    const out = await lg.output();
    clearTimeout(killer);
    children.delete(lg);
    return out;
  } finally {
    try {
      lg.kill("SIGKILL");
    } catch { /* gone */ }
    children.delete(lg);
  }
}

// ---------------------------------------------------------------- /proc sampling

function readProc(pid: number | string, file: string): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/${file}`);
  } catch {
    return null;
  }
}

function statusKb(status: string | null, field: string): number | null {
  const m = status?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : null;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number | null {
  const stat = readProc(pid, "stat");
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const CLK_TCK = 100;

/** CPU time (user + system) of a process so far, in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  return (cpuTicks(pid) ?? 0) / CLK_TCK;
}

/** System-wide busy CPU time (all cores), in clock ticks, from /proc/stat. */
function systemBusyTicks(): number | null {
  const stat = readProc("self", "../stat");
  const line = stat?.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] ?? 0);
}

/** Samples a process's RSS and CPU time, and the system's busy time, from /proc. */
export class ProcSampler {
  /** Peak VmRSS seen so far, in KiB (0 if none was read). */
  peak = 0;
  /** `[performance.now(), process ticks, system busy ticks]` per sample. */
  readonly cpuSamples: Array<[number, number, number]> = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly pid: number) {}

  /** Takes one sample. */
  sample(): void {
    const rss = statusKb(readProc(this.pid, "status"), "VmRSS");
    if (rss !== null && rss > this.peak) this.peak = rss;
    const t = cpuTicks(this.pid);
    const sys = systemBusyTicks();
    if (t !== null && sys !== null) this.cpuSamples.push([performance.now(), t, sys]);
  }

  /** Takes a sample now and then every `everyMs` until {@linkcode ProcSampler.stop}. */
  start(everyMs: number): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  /** Stops periodic sampling (idempotent). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The process's VmHWM (lifetime peak RSS) now, in KiB. */
  hwmKb(): number | null {
    return statusKb(readProc(this.pid, "status"), "VmHWM");
  }

  /**
   * CPU use in cores of the process and of the whole system over the last
   * `seconds` of the samples, or `null` with fewer than two samples or an
   * empty window.
   */
  cpuOver(seconds: number): { process: number; system: number } | null {
    const cpuSamples = this.cpuSamples;
    if (cpuSamples.length < 2) return null;
    const last = cpuSamples[cpuSamples.length - 1];
    const from = last[0] - seconds * 1000;
    const first = cpuSamples.find(([t]) => t >= from) ?? cpuSamples[0];
    const dt = (last[0] - first[0]) / 1000;
    if (!(dt > 0)) return null;
    return {
      process: (last[1] - first[1]) / CLK_TCK / dt,
      system: (last[2] - first[2]) / CLK_TCK / dt,
    };
  }
}
