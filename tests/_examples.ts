/**
 * The one harness for tests that run the examples as subprocesses: run one
 * to its exit with a deadline (`deno run` or `deno task`), or start a server
 * and read the address and backend its first line prints, then watch its
 * output, memory and descriptors, and stop it. And, for the examples-in-the-sim
 * tests, run an example server unchanged inside a simulated host
 * ({@linkcode exampleInTheSim}).
 *
 * @module
 */

import assert from "node:assert/strict";
import { AF_INET, currentKernel, IPPROTO_UDP, type Kernel } from "../mod.ts";
import { createSimNetwork, type SimNetwork } from "../sim.ts";
import { openLibc } from "../net/native/libc.ts";
import { encodeSockaddr } from "../net/native/sockaddr_codec.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** `socket(AF_INET, SOCK_RAW, IPPROTO_UDP)`: the caller writes the UDP header. */
const SOCK_RAW = 3;
/** A test's example server is killed past this, so a hung test fails instead of hanging. */
const WATCHDOG_MS = 120_000;

/** What a finished example printed and how it exited. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `examples/<script>` with `deno run <permissions> ... <args>` and waits
 * for it to exit; kills it (and so fails the caller's expectations) after
 * `ms`. Stdin is closed, so Deno cannot prompt for a permission.
 */
export function runExample(
  script: string,
  args: string[],
  permissions: string[] = ["--allow-net"],
  ms = 30_000,
  env: Record<string, string> = {},
): Promise<Finished> {
  return runDeno(["run", ...permissions, `examples/${script}`, ...args], ms, env);
}

/**
 * The example tasks read `DENO_EPOLL_BACKEND`: a task starts from it unset,
 * whichever backend the suite itself runs on.
 */
const TASK_ENV = { DENO_EPOLL_BACKEND: "" };

/** Runs `deno task -q <task> <args>` to its exit, like {@linkcode runExample}. */
export function runTask(
  task: string,
  args: string[],
  env: Record<string, string> = {},
  ms = 30_000,
): Promise<Finished> {
  return runDeno(["task", "-q", task, ...args], ms, { ...TASK_ENV, ...env });
}

async function runDeno(argv: string[], ms: number, env: Record<string, string>): Promise<Finished> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: argv,
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Collects a stream as text until it ends. */
class Collected {
  text = "";
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this.text += decoder.decode(chunk, { stream: true });
    })();
  }

  /** Waits up to `ms` until `re` matches the text; a timeout's error shows the text and `more`. */
  async waitFor(re: RegExp, ms = 10_000, more = ""): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.text.match(re);
      if (m) return m;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${re} in: ${this.text}${more}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** An example server running as a subprocess. */
export class RunningExample implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stdout: Collected;
  readonly stderr: Collected;
  /** The address from its `NAME listening on HOST:PORT` line. */
  host = "";
  /** The port from that line. */
  port = 0;
  /** The socket backend that line names (`deno`, `native`). */
  backend = "";
  /** Kills the process if a test forgets it or hangs: clients' reads then end. */
  readonly #watchdog: ReturnType<typeof setTimeout>;

  /** `SIGTERM` for a `deno task`, which passes it on: a SIGKILL would orphan its child. */
  readonly #killSignal: Deno.Signal;

  /** What it runs, for messages (`echo_server.ts`, `task echo`). */
  readonly label: string;

  private constructor(
    label: string,
    argv: string[],
    env: Record<string, string> = {},
    killSignal: Deno.Signal = "SIGKILL",
  ) {
    this.label = label;
    this.#killSignal = killSignal;
    this.child = new Deno.Command(Deno.execPath(), {
      args: argv,
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stdout = new Collected(this.child.stdout);
    this.stderr = new Collected(this.child.stderr);
    this.#watchdog = setTimeout(() => {
      console.error(`${label} still running after ${WATCHDOG_MS} ms: killed`);
      this.child.kill(killSignal);
    }, WATCHDOG_MS);
  }

  /**
   * Starts `examples/<script>` (or the file at the absolute path `script`)
   * and waits up to `ms` for its `listening on HOST:PORT` line.
   */
  static start(
    script: string,
    args: string[] = ["--port", "0"],
    permissions: string[] = ["--allow-net"],
    ms = 20_000,
    env: Record<string, string> = {},
  ): Promise<RunningExample> {
    const path = script.startsWith("/") ? script : `examples/${script}`;
    return RunningExample.#listening(
      new RunningExample(script, ["run", ...permissions, path, ...args], env),
      ms,
    );
  }

  /** Starts `deno task <task> <args>` and waits for its `listening on` line. */
  static task(
    task: string,
    args: string[] = ["--port", "0"],
    ms = 20_000,
  ): Promise<RunningExample> {
    return RunningExample.#listening(
      new RunningExample(`task ${task}`, ["task", "-q", task, ...args], TASK_ENV, "SIGTERM"),
      ms,
    );
  }

  static async #listening(server: RunningExample, ms: number): Promise<RunningExample> {
    try {
      const m = await server.waitFor(
        / listening on (\[[^\]]+\]|[^\s:]+):(\d+)\b(?: \((\w+) backend\))?/,
        ms,
      );
      server.host = m[1].replace(/^\[(.*)\]$/, "$1");
      server.port = Number(m[2]);
      server.backend = m[3] ?? "";
    } catch (err) {
      await server.stop();
      throw new Error(`${server.label} did not start: ${server.stderr.text}`, { cause: err });
    }
    return server;
  }

  /** Waits up to `ms` until `re` matches its stdout. */
  waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    return this.stdout.waitFor(re, ms, this.stderr.text);
  }

  /** Resident and peak resident set of the process, in bytes (Linux `/proc`). */
  memory(): { rss: number; hwm: number } {
    const status = Deno.readTextFileSync(`/proc/${this.child.pid}/status`);
    const kb = (field: string) =>
      Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))![1]);
    return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
  }

  /** Its open OS descriptors (Linux `/proc`). */
  fds(): number {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${this.child.pid}/fd`)) n++;
    return n;
  }

  /** Kills it (SIGTERM, which the examples turn into exit 0) and waits for its streams. */
  async stop(signal: Deno.Signal = this.#killSignal): Promise<Deno.CommandStatus> {
    clearTimeout(this.#watchdog);
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.child.status;
    await Promise.allSettled([this.stdout.done, this.stderr.done]);
    return status;
  }

  /** Stops it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** The examples that are network servers, by file name. */
export const SERVERS = [
  "echo_server.ts",
  "echo_server_et.ts",
  "chat_server.ts",
  "http_server.ts",
  "kqueue_echo_server.ts",
  "resp_server.ts",
];

/**
 * Like `Promise.all`, but waits for every promise to settle before throwing
 * the first failure, so no subprocess outlives the test that started it.
 */
export async function allSettled<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns its last result. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A UDP client for the datagram examples, over `Deno.listenDatagram` (the
 * suite runs with `"unstable": ["net"]`): send to a port on 127.0.0.1, wait
 * a bounded time for the next datagram. `await using` closes it.
 */
export class UdpClient implements AsyncDisposable {
  readonly #socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  #pending: Promise<Uint8Array | null> | null = null;

  /** Sends `data` to 127.0.0.1:`port`. */
  async send(port: number, data: Uint8Array): Promise<void> {
    await this.#socket.send(data, { hostname: "127.0.0.1", port, transport: "udp" });
  }

  /** The next datagram received, or `null` when none comes within `ms`. */
  async receive(ms = 5000): Promise<Uint8Array | null> {
    this.#pending ??= this.#socket.receive().then(([d]) => d, () => null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
    const got = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (got === "timeout") return null;
    this.#pending = null;
    return got;
  }

  /**
   * Sends `data` and returns the first reply for which `match` holds,
   * sending again (up to `tries` times) when none comes within `ms`: UDP may
   * drop a datagram even on loopback when the machine is busy.
   */
  async exchange(
    port: number,
    data: Uint8Array,
    match: (reply: Uint8Array) => boolean = () => true,
    tries = 3,
    ms = 3000,
  ): Promise<Uint8Array> {
    for (let i = 0; i < tries; i++) {
      await this.send(port, data);
      for (let reply; (reply = await this.receive(ms)) !== null;) if (match(reply)) return reply;
    }
    throw new Error(`no matching reply from 127.0.0.1:${port} after ${tries} tries`);
  }

  /** Closes the socket and waits for a pending receive to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#pending;
  }
}

/**
 * Whether `program` runs here (it answered `probe` at all); when not, prints
 * that the calling test is skipped, so a missing tool is seen, not hidden.
 */
export async function hasTool(program: string, probe = "--version"): Promise<boolean> {
  try {
    await new Deno.Command(program, { args: [probe], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    console.log(`  (${program} is not installed: skipped)`);
    return false;
  }
}

/**
 * Sends one UDP datagram to 127.0.0.1:`toPort` that claims to come from
 * 127.0.0.1:`fromPort`, through a raw socket (as an attacker forging a
 * source would). Returns false where raw sockets are not allowed (not root,
 * or no native library), so the caller can skip.
 */
export function forgeUdp(fromPort: number, toPort: number, payload: Uint8Array): boolean {
  const libc = openLibc();
  if (typeof libc === "string") return false;
  const fd = libc.socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (fd < 0) return false;
  try {
    const header = [fromPort >> 8, fromPort & 0xff, toPort >> 8, toPort & 0xff];
    const length = 8 + payload.length;
    const packet = new Uint8Array([...header, length >> 8, length & 0xff, 0, 0, ...payload]);
    const addr = new DataView(new ArrayBuffer(128));
    const addrLen = encodeSockaddr({ family: AF_INET, address: "127.0.0.1", port: 0 }, addr);
    return libc.sendto(fd, packet, 0, new Uint8Array(addr.buffer), addrLen) === packet.length;
  } finally {
    libc.close(fd);
  }
}

/** Per-host `Deno.args`, so that an example imported into a host reads its own. */
function hostArgs(): { set(k: Kernel, args: string[]): void; [Symbol.dispose](): void } {
  const byKernel = new Map<Kernel, string[]>();
  const saved = Object.getOwnPropertyDescriptor(Deno, "args")!;
  const real = Deno.args;
  Object.defineProperty(Deno, "args", {
    get: () => byKernel.get(currentKernel()) ?? real,
    configurable: true,
  });
  return {
    set: (k, args) => byKernel.set(k, args),
    [Symbol.dispose]: () => Object.defineProperty(Deno, "args", saved),
  };
}

let imports = 0;

/**
 * Runs the example `script` unchanged in a simulated host (a fresh module
 * instance, imported inside the host's kernel, listening on port 8080) on a
 * network with 5 ms links and 5 % loss, with the clients `addClients` adds
 * (they find the server at `address`), until the clients are done; asserts
 * that some segment was lost. Wrap the test in `Kernel.default.run`: once a
 * module imported inside a host settles its top-level await, Deno runs later
 * tests in that host's async context (a Deno bug; the import's context sticks).
 */
export async function exampleInTheSim(
  script: string,
  seed: number,
  addClients: (sim: SimNetwork, address: string) => void,
): Promise<void> {
  using args = hostArgs();
  using sim = createSimNetwork({ seed, link: { latency: 5, loss: 0.05 } });
  sim.installGlobals();
  const server = sim.addHost("server");
  args.set(server.kernel, ["--host", "0.0.0.0", "--port", "8080"]);
  const url = new URL(`../examples/${script}?sim=${imports++}`, import.meta.url).href;
  sim.spawn(server, () => import(url).then(() => {}));
  addClients(sim, server.addresses[0]);
  const quiet = console.log;
  console.log = () => {}; // the server's "listening on" line
  try {
    await sim.run({ maxSteps: 2_000_000 });
  } finally {
    console.log = quiet;
  }
  assert.ok(sim.trace.some((e) => e.kind === "drop" && e.text.startsWith("loss")), "loss happened");
}
