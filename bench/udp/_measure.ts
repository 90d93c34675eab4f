/**
 * One UDP measurement: a fresh server, one load run against it (udpload for
 * the echo scenarios, dnsperf for the DNS rows) with the server's CPU sampled
 * from /proc meanwhile, recorded as a {@linkcode UdpRecord}. The child
 * processes, their exit handlers and the /proc sampling are bench/echo's
 * (`_procs.ts`).
 *
 * @module
 */

import type { Options } from "../echo/_options.ts";
import { freePort, HOST, ProcSampler, runLoadgen, ServerProcess, sleep } from "../echo/_procs.ts";
import { type DnsServer, nsdConfig, type UdpScenario, type UdpServer } from "./_servers.ts";

const HERE = new URL(".", import.meta.url).pathname;
/** The zone every DNS server serves. */
export const ZONE_FILE = `${HERE}example.test.zone`;
const QUERIES = `${HERE}queries.txt`;

/** What one run gave. */
export interface UdpRecord {
  scenario: string;
  server: string;
  round: number;
  /** Replies (or DNS answers) per second over the measured window. */
  rate?: number;
  /** Datagrams sent in the window and not answered (udpload: within 200 ms; dnsperf: its timeout). */
  lost?: number;
  /** Replies that came after being counted lost. */
  late?: number;
  p50_us?: number;
  p99_us?: number;
  /** dnsperf's mean latency (it gives no percentiles). */
  mean_us?: number;
  /** The server's CPU use in cores over the measured window. */
  server_cpu?: number;
  /** The load generator's CPU use in cores. */
  loadgen_cpu?: number;
  error?: string;
}

/**
 * Sends `probe` to `port` every 100 ms until something answers; throws if
 * the server exits first or `ms` pass.
 */
async function waitForReply(
  port: number,
  probe: Uint8Array,
  srv: ServerProcess,
  ms = 30_000,
): Promise<void> {
  const sock = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  try {
    const deadline = Date.now() + ms;
    let answered = false;
    const reader = (async () => {
      try {
        await sock.receive();
        answered = true;
      } catch { /* closed */ }
    })();
    while (!answered) {
      if (srv.exit) throw new Error(`server exited during startup (code ${srv.exit.code})`);
      if (Date.now() > deadline) throw new Error(`no reply on ${HOST}:${port} within ${ms} ms`);
      await sock.send(probe, { hostname: HOST, port, transport: "udp" });
      await sleep(100);
    }
    await reader;
  } finally {
    sock.close();
  }
}

/** The descendants of `pid` (NSD serves from a grandchild), from one scan of /proc. */
function descendantsOf(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      parent.set(Number(e.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const within = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, pp] of parent) {
      if (within.has(pp) && !within.has(p)) {
        within.add(p);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

/** A DNS query for `www.example.test A`, as the readiness probe of DNS servers. */
const DNS_PROBE = new Uint8Array([
  0x12,
  0x34,
  1,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  0,
  0, // header: RD, one question
  3,
  0x77,
  0x77,
  0x77,
  7,
  0x65,
  0x78,
  0x61,
  0x6d,
  0x70,
  0x6c,
  0x65,
  4,
  0x74,
  0x65,
  0x73,
  0x74,
  0,
  0,
  1,
  0,
  1,
]);

/**
 * Starts a server with `cmd`, waits until it answers `probe`, runs `load`
 * with the server's CPU sampled, and stops the server. Never throws: a
 * failure is the record's `error`.
 */
async function measure(
  rec: UdpRecord,
  cmd: string[],
  port: number,
  probe: Uint8Array,
  windowSeconds: number,
  load: () => Promise<void>,
): Promise<UdpRecord> {
  const srv = new ServerProcess(cmd);
  let samplers: ProcSampler[] = [];
  try {
    await waitForReply(port, probe, srv);
    await sleep(100);
    // The server and its descendants (NSD serves from a forked process).
    samplers = [srv.pid, ...descendantsOf(srv.pid)].map((pid) => new ProcSampler(pid));
    for (const s of samplers) s.start(50);
    await load();
    let cores = 0;
    for (const s of samplers) {
      s.sample();
      cores += s.cpuOver(windowSeconds)?.process ?? 0;
    }
    rec.server_cpu = cores;
    if (srv.exit) rec.error = `server exited during the run (code ${srv.exit.code})`;
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
  } finally {
    for (const s of samplers) s.stop();
    await srv.stop();
    if (rec.error) rec.error += ` ${srv.stderr.text.trim().split("\n").slice(-3).join(" | ")}`;
  }
  return rec;
}

/** Runs udpload against a fresh `server` for scenario `sc`. */
export function runEcho(
  sc: UdpScenario,
  server: UdpServer,
  round: number,
  opts: Options,
): Promise<UdpRecord> {
  const port = freePort();
  const rec: UdpRecord = { scenario: sc.id, server: server.name, round };
  const args = [HOST, port, sc.flows, sc.size, sc.window, opts.seconds, opts.warmup].map(String);
  return measure(rec, server.cmd(port), port, new Uint8Array(16), opts.seconds, async () => {
    const out = await runLoadgen(args, (opts.seconds + opts.warmup + 30) * 1000, UDPLOAD);
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !line.startsWith("{")) {
      throw new Error(`udpload failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    }
    const r = JSON.parse(line);
    Object.assign(rec, {
      rate: r.replies_per_s,
      lost: r.lost,
      late: r.late,
      p50_us: r.p50_us,
      p99_us: r.p99_us,
      loadgen_cpu: r.loadgen_cpu,
    });
  });
}

/** The UDP load generator's binary (built by run.ts). */
export const UDPLOAD = `${HERE}udpload`;

/** Runs dnsperf (`clients` sockets, 200 queries in flight) against a fresh DNS `server`. */
export async function runDns(
  server: DnsServer,
  round: number,
  opts: Options,
): Promise<UdpRecord> {
  const port = freePort();
  const rec: UdpRecord = { scenario: "dns", server: server.name, round };
  const dir = await Deno.makeTempDir({ prefix: "bench-udp-dns-" });
  try {
    await Deno.writeTextFile(`${dir}/nsd.conf`, nsdConfig(port, ZONE_FILE, dir));
    const seconds = opts.seconds + opts.warmup;
    return await measure(
      rec,
      server.cmd(port, ZONE_FILE, dir),
      port,
      DNS_PROBE,
      seconds,
      async () => {
        const args = ["-s", HOST, "-p", String(port), "-d", QUERIES, "-l", String(seconds)];
        args.push("-c", "4", "-q", "200", "-t", "1");
        const out = await runLoadgen(args, (seconds + 30) * 1000, "dnsperf");
        const text = new TextDecoder().decode(out.stdout);
        const qps = text.match(/Queries per second:\s+([\d.]+)/);
        if (!out.success || !qps) {
          throw new Error(`dnsperf failed (${out.code}): ${text.slice(-300)}`);
        }
        rec.rate = Number(qps[1]);
        rec.lost = Number(text.match(/Queries lost:\s+(\d+)/)?.[1] ?? NaN);
        const avg = text.match(/Average Latency \(s\):\s+([\d.]+)/);
        if (avg) rec.mean_us = Number(avg[1]) * 1e6;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
