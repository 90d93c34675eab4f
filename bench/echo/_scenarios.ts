/**
 * What the echo benchmark measures: the echo servers under test and the
 * load scenarios, and their selection from the command line.
 *
 * @module
 */

import { exists, ROOT } from "./_procs.ts";

/** An echo server under test. */
export interface ServerDef {
  /** Short key for `--servers`. */
  key: string;
  /** Display name, also accepted by `--servers`. */
  name: string;
  /** Path relative to the project root (or absolute); the server is skipped if it is missing. */
  file: string;
  /** The command line that starts it listening on `port`. */
  cmd: (port: number) => string[];
  /** Run only when named in `--servers` (strategy experiments). */
  extra?: boolean;
}

/** The native echo servers with the driver's spin budget set to `us` (an experiment). */
function spinVariants(us: number): ServerDef[] {
  return (["lt", "et"] as const).map((kind) => ({
    key: `n${kind}-spin${us}`,
    name: `native ${kind.toUpperCase()} spin ${us} µs`,
    file: kind === "lt" ? "examples/echo_server.ts" : "examples/echo_server_et.ts",
    cmd: (p: number) => [
      "env",
      `DENO_EPOLL_NATIVE_SPIN_US=${us}`,
      DENO,
      "run",
      "-A",
      kind === "lt" ? "examples/echo_server.ts" : "examples/echo_server_et.ts",
      "--backend",
      "native",
      "--port",
      String(p),
    ],
    extra: true,
  }));
}

const DENO = Deno.execPath();

/**
 * The native echo servers of another checkout (`ECHO_BASE`: its root, e.g.
 * `git archive main | tar -x -C /tmp/base`), to compare a change with what
 * it changes, interleaved (`--servers nlt,nlt-base`).
 */
function baseVariants(): ServerDef[] {
  let base: string | undefined;
  try {
    base = Deno.env.get("ECHO_BASE");
  } catch {
    base = undefined;
  }
  if (base === undefined) return [];
  return (["lt", "et"] as const).map((kind) => {
    const file = `${base}/examples/${kind === "lt" ? "echo_server.ts" : "echo_server_et.ts"}`;
    return {
      key: `n${kind}-base`,
      name: `native ${kind.toUpperCase()} base`,
      file,
      cmd: (p: number) => [DENO, "run", "-A", file, "--backend", "native", "--port", String(p)],
      extra: true,
    };
  });
}

/** Every echo server, in report order. */
export const SERVERS: ServerDef[] = [
  {
    key: "lt",
    name: "epoll LT",
    file: "examples/echo_server.ts",
    cmd: (p) => [DENO, "run", "-A", "examples/echo_server.ts", "--port", String(p)],
  },
  {
    key: "et",
    name: "epoll ET",
    file: "examples/echo_server_et.ts",
    cmd: (p) => [DENO, "run", "-A", "examples/echo_server_et.ts", "--port", String(p)],
  },
  {
    key: "nlt",
    name: "native LT",
    file: "examples/echo_server.ts",
    cmd: (p) => [
      DENO,
      "run",
      "-A",
      "examples/echo_server.ts",
      "--backend",
      "native",
      "--port",
      String(p),
    ],
  },
  {
    key: "net",
    name: "native ET",
    file: "examples/echo_server_et.ts",
    cmd: (p) => [
      DENO,
      "run",
      "-A",
      "examples/echo_server_et.ts",
      "--backend",
      "native",
      "--port",
      String(p),
    ],
  },
  {
    key: "c",
    name: "C epoll ET",
    file: "bench/echo/c_epoll_server",
    cmd: (p) => ["bench/echo/c_epoll_server", "--port", String(p)],
  },
  {
    key: "kq",
    name: "kqueue",
    file: "examples/kqueue_echo_server.ts",
    cmd: (p) => [DENO, "run", "-A", "examples/kqueue_echo_server.ts", "--port", String(p)],
  },
  {
    key: "raw",
    name: "raw Deno",
    file: "bench/echo/raw_deno_server.ts",
    cmd: (p) => [DENO, "run", "-A", "bench/echo/raw_deno_server.ts", "--port", String(p)],
  },
  {
    key: "node",
    name: "Node net",
    file: "bench/echo/node_server.mjs",
    cmd: (p) => ["node", "bench/echo/node_server.mjs", "--port", String(p)],
  },
  ...[0, 20, 50, 200].flatMap(spinVariants),
  ...baseVariants(),
];

/** Name of the server that ratios are relative to. */
export const BASELINE = "raw Deno";

/** Name of the C reference server (the "× C" ratios). */
export const C_REFERENCE = "C epoll ET";

/** One load scenario. */
export interface Scenario {
  /** Short id for `--only` and the report headings. */
  id: string;
  /** Descriptive key, also accepted by `--only`. */
  key: string;
  /** Heading in the report. */
  title: string;
  /** `traffic`: echo load; `memory`: echo load next to idle conns; `connect`: connect burst. */
  kind: "traffic" | "memory" | "connect";
  /** Active (or, for `connect`, established) connections. */
  conns: number;
  /** Message size in bytes. */
  size: number;
  /** Messages in flight per connection. */
  depth: number;
  /** Extra idle connections held open during the run. */
  idle: number;
}

/** Every scenario, in run and report order. */
export const SCENARIOS: Scenario[] = [
  {
    id: "a",
    key: "latency",
    title: "1 conn, 64 B, depth 1",
    kind: "traffic",
    conns: 1,
    size: 64,
    depth: 1,
    idle: 0,
  },
  {
    id: "b",
    key: "100conns",
    title: "100 conns, 1 KiB, depth 1",
    kind: "traffic",
    conns: 100,
    size: 1024,
    depth: 1,
    idle: 0,
  },
  {
    id: "c",
    key: "1000conns",
    title: "1000 conns, 1 KiB, depth 1",
    kind: "traffic",
    conns: 1000,
    size: 1024,
    depth: 1,
    idle: 0,
  },
  {
    id: "d",
    key: "pipelined",
    title: "100 conns, 64 B, depth 16 (pipelined)",
    kind: "traffic",
    conns: 100,
    size: 64,
    depth: 16,
    idle: 0,
  },
  {
    id: "e",
    key: "large",
    title: "10 conns, 64 KiB, depth 4",
    kind: "traffic",
    conns: 10,
    size: 65536,
    depth: 4,
    idle: 0,
  },
  {
    id: "f",
    key: "memory",
    title: "memory: 10,000 idle + 100 active conns, 1 KiB, depth 1",
    kind: "memory",
    conns: 100,
    size: 1024,
    depth: 1,
    idle: 10000,
  },
  {
    id: "g",
    key: "connect",
    title: "connect burst: establish 10,000 conns",
    kind: "connect",
    conns: 10000,
    size: 0,
    depth: 0,
    idle: 0,
  },
];

/** The scenarios matching `--only` (ids or keys; `null` for all). Throws if none matches. */
export function selectScenarios(only: string[] | null): Scenario[] {
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id) || only.includes(s.key));
  if (scenarios.length === 0) throw new Error(`--only matched no scenario`);
  return scenarios;
}

/**
 * The servers matching `--servers` (keys or names; `null` for all) whose file
 * exists; those whose file is missing are reported on stderr and listed in
 * `skipped`. Throws if no server is left.
 */
export function selectServers(
  wanted: string[] | null,
): { servers: ServerDef[]; skipped: string[] } {
  const skipped: string[] = [];
  const servers = SERVERS.filter((s) => {
    const named = wanted !== null && (wanted.includes(s.key) || wanted.includes(s.name));
    if (wanted ? !named : s.extra) return false;
    if (!exists(s.file.startsWith("/") ? s.file : `${ROOT}${s.file}`)) {
      skipped.push(`${s.name} (${s.file} does not exist yet)`);
      console.error(`skipping ${s.name}: ${s.file} does not exist yet`);
      return false;
    }
    return true;
  });
  if (servers.length === 0) throw new Error("no servers to run");
  return { servers, skipped };
}
