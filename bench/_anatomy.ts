/**
 * Where an echo server's CPU per message goes (`bench/regress.ts --parts
 * anatomy`): one closed-loop run of an LT echo example under bench/echo's
 * loadgen, with a V8 CPU profile of the server and, where `perf` is
 * installed, the server's system calls counted by the kernel's tracepoints,
 * both cut to loadgen's measured window.
 *
 * Why: the server's total CPU per message moves ±10-30 % between runs of
 * the same code here (the kernel's loopback work, most of it, moves with the
 * cache and the neighbours), far more than a version's own JavaScript can
 * change it. Split into parts, each version's figure has the parts that are
 * the same code in both (Deno's ops, the kernel's `sendto` and `recvfrom`)
 * and the parts that are not (the library's and the example's JavaScript,
 * the garbage collector), and a count of system calls per message, which is
 * not a time and does not move with the machine.
 *
 * - The profile (`--cpu-prof`, sampled every {@linkcode PROFILE_INTERVAL_US}
 *   µs) is cut to the window by its timestamps (V8 takes them on
 *   CLOCK_MONOTONIC, in µs; loadgen prints the window's bounds on the same
 *   clock), and its samples are counted by what was running: the library
 *   (`runtime/`, `net/`), the example (`examples/`), Deno's JavaScript
 *   (`ext:`, `node:`), Deno's ops (`op_*`: the Rust side, the system call
 *   inside), the garbage collector, V8's own (`(program)`), and idle (the
 *   thread blocked in its event loop's poll). Each sample counts for one
 *   interval (see {@linkcode profileSums}), and the parts share out the
 *   main thread's CPU time in the window (loadgen reads it from
 *   `/proc/PID/task/PID/stat`): the profiler loses samples when the
 *   machine is busy (at 100 connections about two in five here), so its
 *   counts give the proportions, the CPU clock the amount.
 * - `perf stat --delay=-1 --control fifo:...` counts the server's
 *   `recvfrom`, `sendto`, `epoll_wait`, `write`, `read` and all system calls
 *   (every thread), enabled and disabled by loadgen itself at the window's
 *   bounds (`--perf-ctl`).
 *
 * @module
 */

import { freePort, onPath, runLoadgen, ServerProcess, waitForAccept } from "./echo/_procs.ts";

/** The profiler's sampling interval (µs): ~4 samples per ms of the server's time. */
export const PROFILE_INTERVAL_US = 250;

/** The parts of a profile, in report order. */
export const PARTS = [
  "library",
  "example",
  "deno js",
  "ops",
  "gc",
  "v8",
  "idle",
] as const;
/** One part of a profile. */
export type Part = (typeof PARTS)[number];

/** The system calls counted, by tracepoint; `all` is every system call. */
export const SYSCALLS: Record<string, string> = {
  recvfrom: "syscalls:sys_enter_recvfrom",
  sendto: "syscalls:sys_enter_sendto",
  epoll_wait: "syscalls:sys_enter_epoll_wait",
  write: "syscalls:sys_enter_write",
  read: "syscalls:sys_enter_read",
  all: "raw_syscalls:sys_enter",
};

/** One run's anatomy: everything per echoed message. */
export interface Anatomy {
  /** Messages echoed in the window. */
  msgs: number;
  /** The server's CPU time (every thread, `/proc/PID/stat`) per message, µs. */
  cpuUs: number;
  /** Its main thread's CPU time per message, µs (`/proc/PID/task/PID/stat`). */
  mainUs: number;
  /**
   * The main thread's CPU time per message divided by part, in the
   * proportions of the profile's samples, µs; `idle` is the window's wall
   * time the main thread did not run, per message.
   */
  parts: Record<Part, number>;
  /**
   * The same time by function (self time, `part: name file:line`, see
   * {@linkcode profileSums}), µs per message.
   */
  functions: Map<string, number>;
  /** System calls per message by name ({@linkcode SYSCALLS}); null without perf. */
  syscalls: Record<string, number> | null;
}

/**
 * The server measured: the checkout's LT echo example, or `loop`, the same
 * minimal LT echo loop (bench/echo/lt_echo_loop.ts, 4b58260's) over each
 * checkout's `mod.ts`, so that only the library differs.
 */
export type AnatomyServer = "example" | "loop";

/** bench/echo/lt_echo_loop.ts in this checkout. */
const LOOP = new URL("./echo/lt_echo_loop.ts", import.meta.url).pathname;

/** What a closed-loop run puts on the server. */
export interface AnatomyLoad {
  conns: number;
  size: number;
  depth: number;
}

/** Whether `perf` can count the kernel's system-call tracepoints here. */
export async function perfUsable(): Promise<boolean> {
  if (!onPath("perf")) return false;
  const out = await new Deno.Command("perf", {
    args: ["stat", "-x,", "-e", SYSCALLS.all, "true"],
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => null);
  return out !== null && out.success &&
    !/not supported|<not counted>/.test(new TextDecoder().decode(out.stderr));
}

/**
 * Runs `root`'s LT echo example under `load` for `seconds` after `warmup`
 * (both in s), with its CPU profile and (with `perf`) its system calls;
 * null when the run failed.
 */
export async function anatomyRun(
  root: string,
  load: AnatomyLoad,
  seconds: number,
  warmup: number,
  perf: boolean,
  server: AnatomyServer = "example",
): Promise<Anatomy | null> {
  const dir = await Deno.makeTempDir({ prefix: "deno-epoll-anatomy-" });
  const port = freePort();
  const program = server === "example"
    ? [`${root}/examples/echo_server.ts`, "--port", String(port)]
    : [LOOP, "--root", root, "--port", String(port)];
  const proc = new ServerProcess([
    Deno.execPath(),
    "run",
    "-A",
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-interval=${PROFILE_INTERVAL_US}`,
    ...program,
  ]);
  let counter: Deno.ChildProcess | undefined;
  try {
    await waitForAccept(port, proc.child.status, 30_000);
    const args = [
      "127.0.0.1",
      String(port),
      String(load.conns),
      String(load.size),
      String(load.depth),
      String(seconds),
      String(warmup),
      "--server-pid",
      String(proc.pid),
    ];
    if (perf) {
      const [ctl, ack] = [`${dir}/ctl`, `${dir}/ack`];
      for (const f of [ctl, ack]) {
        const mk = await new Deno.Command("mkfifo", { args: [f] }).output();
        if (!mk.success) throw new Error("mkfifo failed");
      }
      counter = new Deno.Command("perf", {
        args: [
          "stat",
          "-x,",
          "-o",
          `${dir}/perf.csv`,
          ...Object.values(SYSCALLS).flatMap((e) => ["-e", e]),
          "-p",
          String(proc.pid),
          "--delay=-1",
          "--control",
          `fifo:${ctl},${ack}`,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      args.push("--perf-ctl", `${ctl},${ack}`);
    }
    const out = await runLoadgen(args, (seconds + warmup + 60) * 1000);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    if (!out.success || r.errors > 0 || !(r.msgs > 0) || !(r.server_cpu_s >= 0)) return null;
    let syscalls: Record<string, number> | null = null;
    if (counter !== undefined) {
      counter.kill("SIGINT");
      await counter.status;
      counter = undefined;
      syscalls = perCount(await Deno.readTextFile(`${dir}/perf.csv`), r.msgs);
    }
    // SIGINT: the example exits (every version's does), and Deno writes the profile at exit.
    proc.child.kill("SIGINT");
    let limit: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([proc.child.status, new Promise((ok) => limit = setTimeout(ok, 10_000))]);
    clearTimeout(limit);
    const profile = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
    if (profile === undefined) return null;
    const { parts, functions } = profileSums(
      JSON.parse(await Deno.readTextFile(`${dir}/${profile.name}`)),
      root,
      r.window_start_ns / 1000,
      r.window_end_ns / 1000,
      PROFILE_INTERVAL_US,
      server === "loop" ? `file://${LOOP}` : undefined,
    );
    // The samples say how the main thread's time divides; its CPU clock says how much it was.
    const mainUs = r.server_main_cpu_s * 1e6;
    const busy = PARTS.reduce((t, p) => p === "idle" ? t : t + parts[p], 0);
    if (!(mainUs > 0) || !(busy > 0)) return null;
    const scale = mainUs / busy / r.msgs;
    for (const p of PARTS) parts[p] *= scale;
    for (const [f, us] of functions) functions.set(f, us * scale);
    parts.idle = ((r.window_end_ns - r.window_start_ns) / 1000 - mainUs) / r.msgs;
    return {
      msgs: r.msgs,
      cpuUs: r.server_cpu_s / r.msgs * 1e6,
      mainUs: mainUs / r.msgs,
      parts,
      functions,
      syscalls,
    };
  } catch (e) {
    console.error(`  anatomy ${root}: ${e instanceof Error ? e.message : e}`);
    return null;
  } finally {
    if (counter !== undefined) {
      try {
        counter.kill("SIGKILL");
      } catch { /* gone */ }
      await counter.status;
    }
    await proc.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `perf stat -x,` output: each counted system call per message. */
function perCount(csv: string, msgs: number): Record<string, number> {
  const byEvent = new Map<string, number>();
  for (const line of csv.split("\n")) {
    const f = line.split(",");
    if (f.length > 3 && /^\d+$/.test(f[0])) byEvent.set(f[2], Number(f[0]));
  }
  return Object.fromEntries(
    Object.entries(SYSCALLS).map(([name, ev]) => [name, (byEvent.get(ev) ?? NaN) / msgs]),
  );
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber?: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** What a profile node is: its part, and the function's name and place (`name file:line`). */
interface NodeKind {
  part: Part | null;
  fn: string;
}

/** Each node's part and function; `root` and `exampleUrl` as in {@linkcode profileSums}. */
function nodeKinds(profile: Profile, root: string, exampleUrl?: string): Map<number, NodeKind> {
  const base = `file://${root.replace(/\/$/, "")}/`;
  const kinds = new Map<number, NodeKind>();
  for (const { id, callFrame: { functionName, url, lineNumber } } of profile.nodes) {
    let part: Part | null = null;
    if (url.startsWith(`${base}runtime/`) || url.startsWith(`${base}net/`)) part = "library";
    else if (url.startsWith(`${base}examples/`) || url === exampleUrl) part = "example";
    else if (url.startsWith("ext:") || url.startsWith("node:")) part = "deno js";
    else if (functionName.startsWith("op_")) part = "ops";
    else if (functionName === "(garbage collector)") part = "gc";
    else if (functionName === "(program)") part = "v8";
    else if (functionName === "(idle)") part = "idle";
    // The library's and the example's files by their path in the checkout
    // (the loop, outside the pinned one, by its name on both sides).
    const file = url.startsWith(base) && url !== exampleUrl
      ? url.slice(base.length)
      : url.split("/").pop() ?? url;
    const line = lineNumber !== undefined && lineNumber >= 0 ? `:${lineNumber + 1}` : "";
    kinds.set(id, { part, fn: `${functionName || "(anonymous)"}${file ? ` ${file}${line}` : ""}` });
  }
  return kinds;
}

/** Calls `each` with the node of every sample taken in [`from`, `to`] (µs, CLOCK_MONOTONIC). */
function samplesIn(profile: Profile, from: number, to: number, each: (id: number) => void): void {
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t >= from && t <= to) each(id);
  });
}

/**
 * Sums a V8 CPU profile's samples taken in [`from`, `to`] (µs,
 * CLOCK_MONOTONIC) by part, and by function (self time, keys
 * `part: name file:line`, the file relative to `root` for the library and
 * the example, idle left out: two versions' keys differ where a function
 * moved, so compare them by part first). `root` is the checkout the server
 * ran from, and `exampleUrl` a file outside it that counts as the example
 * (the loop). Each sample is charged the profiler's interval, `interval`
 * µs, not the time since the previous sample: the samples are signals sent
 * to the thread every interval, and those sent while it waited for a CPU
 * (the machine's other work) arrive as one when it runs again, so a count
 * follows the time the thread ran, where the gaps between timestamps would
 * charge the wait to whatever it was running.
 */
export function profileSums(
  profile: Profile,
  root: string,
  from: number,
  to: number,
  interval: number = PROFILE_INTERVAL_US,
  exampleUrl?: string,
): { parts: Record<Part, number>; functions: Map<string, number> } {
  const kinds = nodeKinds(profile, root, exampleUrl);
  const parts = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  const functions = new Map<string, number>();
  samplesIn(profile, from, to, (id) => {
    const kind = kinds.get(id);
    if (!kind?.part) return;
    parts[kind.part] += interval;
    if (kind.part === "idle") return;
    const key = `${kind.part}: ${kind.fn}`;
    functions.set(key, (functions.get(key) ?? 0) + interval);
  });
  return { parts, functions };
}
