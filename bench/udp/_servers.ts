/**
 * What the UDP benchmark measures: the echo servers under test, the load
 * scenarios, and the DNS servers for the dnsperf rows.
 *
 * @module
 */

import { ROOT } from "../echo/_procs.ts";

const DENO = Deno.execPath();

/** A UDP server under test. */
export interface UdpServer {
  /** Short key for `--servers`. */
  key: string;
  /** Display name. */
  name: string;
  /** Path relative to the project root; the server is skipped if it is missing. */
  file: string;
  /** The program that must be on PATH (besides Deno), if any. */
  needs?: string;
  /** The command line that starts it on `port`. */
  cmd: (port: number) => string[];
}

/** The library's UDP echo example on one backend. */
function example(backend: "native" | "deno"): UdpServer {
  return {
    key: backend === "native" ? "native" : "deno",
    name: `example (${backend})`,
    file: "examples/udp_echo_server.ts",
    cmd: (p) => [
      DENO,
      "run",
      "-A",
      "examples/udp_echo_server.ts",
      "--backend",
      backend,
      "--port",
      String(p),
    ],
  };
}

/** The C echo server, the practical limit: the baseline of every ratio. */
export const C_SERVER = "C recvmmsg";
/** The idiomatic Deno loop. */
export const DENO_DATAGRAM = "Deno.listenDatagram";
/** Node's dgram. */
export const NODE_DGRAM = "Node dgram";
/** The example on the backend the targets are for. */
export const NATIVE_EXAMPLE = "example (native)";

/** Every echo server, in report order. */
export const ECHO_SERVERS: UdpServer[] = [
  example("native"),
  example("deno"),
  {
    key: "c",
    name: C_SERVER,
    file: "bench/udp/c_udp_server.c",
    cmd: (p) => [`${ROOT}bench/udp/c_udp_server`, "--port", String(p)],
  },
  {
    key: "raw",
    name: DENO_DATAGRAM,
    file: "bench/udp/deno_datagram_server.ts",
    cmd: (p) => [
      DENO,
      "run",
      "--allow-net",
      "--unstable-net",
      "bench/udp/deno_datagram_server.ts",
      "--port",
      String(p),
    ],
  },
  {
    key: "node",
    name: NODE_DGRAM,
    file: "bench/udp/node_dgram_server.mjs",
    needs: "node",
    cmd: (p) => ["node", "bench/udp/node_dgram_server.mjs", "--port", String(p)],
  },
];

/** One load: `flows` sockets, each keeping `window` datagrams of `size` bytes in flight. */
export interface UdpScenario {
  /** Short id for `--only`. */
  id: string;
  /** One line for the report. */
  title: string;
  flows: number;
  size: number;
  window: number;
  /** Whether the replies/s targets apply (the rate scenarios), else the latency one. */
  rate: boolean;
}

/** The scenarios, in report order. */
export const SCENARIOS: UdpScenario[] = [
  {
    id: "latency",
    title: "1 flow, 64 B, 1 in flight (latency)",
    flows: 1,
    size: 64,
    window: 1,
    rate: false,
  },
  {
    id: "rate512",
    title: "64 flows, 512 B, 2 in flight each",
    flows: 64,
    size: 512,
    window: 2,
    rate: true,
  },
  {
    id: "rate64",
    title: "256 flows, 64 B, 2 in flight each (small-packet rate)",
    flows: 256,
    size: 64,
    window: 2,
    rate: true,
  },
];

/** A DNS server for the dnsperf rows. */
export interface DnsServer {
  key: string;
  name: string;
  file: string;
  needs?: string;
  /** The command line serving `zoneFile` on `port`; `dir` is a scratch folder of the run. */
  cmd: (port: number, zoneFile: string, dir: string) => string[];
}

/**
 * NSD's configuration: loopback, one server process (as the example has one
 * thread), no rate limiting, every file in `dir`; run with `-d`, no daemon.
 */
export function nsdConfig(port: number, zoneFile: string, dir: string): string {
  return [
    "server:",
    "  ip-address: 127.0.0.1",
    `  port: ${port}`,
    "  do-ip6: no",
    "  server-count: 1",
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    `  zonelistfile: "${dir}/zone.list"`,
    '  database: ""',
    `  pidfile: "${dir}/nsd.pid"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  xfrdir: "${dir}"`,
    `  logfile: "${dir}/nsd.log"`,
    "  verbosity: 0",
    "  rrl-ratelimit: 0", // response rate limiting would cap one client at ~200 answers/s per kind
    "  rrl-whitelist-ratelimit: 0",
    "remote-control:",
    "  control-enable: no",
    "zone:",
    "  name: example.test",
    `  zonefile: "${zoneFile}"`,
    "",
  ].join("\n");
}

/** The DNS servers, in report order; NSD is the baseline. */
export const DNS_SERVERS: DnsServer[] = [
  ...(["native", "deno"] as const).map((backend) => ({
    key: `dns-${backend}`,
    name: `dns_server (${backend})`,
    file: "examples/dns_server.ts",
    cmd: (port: number, zoneFile: string) => [
      DENO,
      "run",
      "-A",
      "examples/dns_server.ts",
      "--backend",
      backend,
      "--port",
      String(port),
      "--zone",
      zoneFile,
    ],
  })),
  {
    key: "nsd",
    name: "NSD",
    file: "bench/udp/example.test.zone",
    needs: "nsd",
    cmd: (_port: number, _zone: string, dir: string) => ["nsd", "-d", "-c", `${dir}/nsd.conf`],
  },
];
