/**
 * UDP benchmark (`deno task bench:udp`): the library's UDP echo example on
 * both backends beside a C recvmmsg/sendmmsg server (the practical limit),
 * the idiomatic `Deno.listenDatagram` loop and Node `dgram`, under the C load
 * generator bench/udp/udpload.c (which checks every byte of every reply and
 * counts losses); then the DNS example beside NSD under dnsperf, on the same
 * zone (bench/udp/example.test.zone).
 *
 *   deno run -A bench/udp/run.ts [--rounds 3] [--seconds 5] [--warmup 1] [--quick]
 *                                [--only latency,rate512,rate64,dns]
 *                                [--servers native,deno,c,raw,node,dns-native,dns-deno,nsd]
 *
 * Servers are interleaved round by round, and every ratio is the median of
 * per-round ratios (each between two runs a few seconds apart), so drift on
 * a shared machine hits both sides alike. Progress goes to stderr, the
 * Markdown report to stdout, the raw records to bench/udp/results.json.
 * Servers and tools that are missing are skipped and named.
 *
 * @module
 */

import { parseArgs } from "../echo/_options.ts";
import {
  buildC,
  buildLoadgen,
  exists,
  exitWith,
  installExitHandlers,
  onPath,
  ROOT,
  sleep,
} from "../echo/_procs.ts";
import { median } from "../echo/_report.ts";
import { runDns, runEcho, type UdpRecord } from "./_measure.ts";
import {
  C_SERVER,
  DENO_DATAGRAM,
  DNS_SERVERS,
  ECHO_SERVERS,
  NATIVE_EXAMPLE,
  NODE_DGRAM,
  SCENARIOS,
} from "./_servers.ts";

const HERE = new URL(".", import.meta.url).pathname;
const USAGE = "usage: deno run -A bench/udp/run.ts [--rounds 3] [--seconds 5] [--warmup 1] " +
  "[--quick] [--only latency,rate512,rate64,dns] " +
  "[--servers native,deno,c,raw,node,dns-native,dns-deno,nsd]";

/** Whether a server was asked for and can run here; otherwise why not. */
function available(
  s: { key: string; name: string; file: string; needs?: string },
  wanted: string[] | null,
): string | null {
  if (wanted && !wanted.includes(s.key)) return "not selected";
  if (!exists(`${ROOT}${s.file}`)) return `${s.file} is missing`;
  if (s.needs && !onPath(s.needs)) return `${s.needs} is not installed`;
  return null;
}

const fmt = (x: number | undefined | null, digits = 0) =>
  x === undefined || x === null || !Number.isFinite(x) ? "–" : x.toFixed(digits);

/** The server's CPU per reply in microseconds. */
const cpuPer = (r: UdpRecord) =>
  r.server_cpu !== undefined && r.rate ? (r.server_cpu / r.rate) * 1e6 : NaN;

/** Median over rounds of `f(a) / f(b)` where both runs of a round succeeded. */
function ratio(
  records: UdpRecord[],
  a: string,
  b: string,
  f: (r: UdpRecord) => number | undefined,
): number | null {
  const per: number[] = [];
  for (const ra of records.filter((r) => r.server === a && !r.error)) {
    const rb = records.find((r) => r.server === b && r.round === ra.round && !r.error);
    const x = f(ra), y = rb ? f(rb) : undefined;
    if (x !== undefined && y !== undefined && y > 0) per.push(x / y);
  }
  return median(per);
}

function table(
  title: string,
  servers: string[],
  records: UdpRecord[],
  baseline: string,
  dns: boolean,
): string {
  const rows = [
    `### ${title}`,
    "",
    dns
      ? `| server | answers/s | × ${baseline} | lost | mean latency µs | server CPU µs/answer | CPU/answer × ${baseline} | runs |`
      : `| server | replies/s | × ${baseline} | lost | p50 µs | p99 µs | server CPU µs/reply | CPU/reply × ${baseline} | runs |`,
    dns ? "|---|--:|--:|--:|--:|--:|--:|--:|" : "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const name of servers) {
    const ok = records.filter((r) => r.server === name && !r.error);
    const all = records.filter((r) => r.server === name);
    const med = (f: (r: UdpRecord) => number | undefined) =>
      median(ok.map(f).filter((x): x is number => x !== undefined));
    const x = ratio(records, name, baseline, (r) => r.rate);
    const c = ratio(records, name, baseline, cpuPer);
    const lost = ok.reduce((n, r) => n + (r.lost ?? 0), 0);
    const cells = dns
      ? [
        fmt(med((r) => r.rate)),
        fmt(x, 2),
        `${lost}`,
        fmt(med((r) => r.mean_us)),
        fmt(med(cpuPer), 1),
        fmt(c, 2),
      ]
      : [
        fmt(med((r) => r.rate)),
        fmt(x, 2),
        `${lost}`,
        fmt(med((r) => r.p50_us)),
        fmt(med((r) => r.p99_us)),
        fmt(med(cpuPer), 1),
        fmt(c, 2),
      ];
    rows.push(`| ${name} | ${cells.join(" | ")} | ${ok.length}/${all.length} |`);
  }
  const errors = records.filter((r) => r.error).map((r) =>
    `- ${r.server} round ${r.round}: ${r.error}`
  );
  return [...rows, ...(errors.length ? ["", "Failed runs:", ...errors] : []), ""].join("\n");
}

/** The issue's targets for the native example, each met or not, with the measurement. */
function targets(records: UdpRecord[]): string[] {
  const lines: string[] = [];
  const check = (what: string, value: number | null, goal: number, atLeast: boolean) => {
    if (value === null) return lines.push(`- ${what}: not measured`);
    const met = atLeast ? value >= goal : value <= goal;
    lines.push(
      `- ${what}: ${value.toFixed(2)} (target ${atLeast ? ">=" : "<="} ${goal}) ${
        met ? "met" : "NOT met"
      }`,
    );
  };
  for (const sc of SCENARIOS) {
    const rs = records.filter((r) => r.scenario === sc.id);
    if (!rs.some((r) => r.server === NATIVE_EXAMPLE)) continue;
    if (sc.rate) {
      check(
        `${sc.id}: replies/s × ${C_SERVER}`,
        ratio(rs, NATIVE_EXAMPLE, C_SERVER, (r) => r.rate),
        0.8,
        true,
      );
      check(
        `${sc.id}: replies/s × ${DENO_DATAGRAM}`,
        ratio(rs, NATIVE_EXAMPLE, DENO_DATAGRAM, (r) => r.rate),
        2,
        true,
      );
      check(
        `${sc.id}: replies/s × ${NODE_DGRAM}`,
        ratio(rs, NATIVE_EXAMPLE, NODE_DGRAM, (r) => r.rate),
        2,
        true,
      );
    } else {
      check(
        `${sc.id}: p99 × ${NODE_DGRAM}'s`,
        ratio(rs, NATIVE_EXAMPLE, NODE_DGRAM, (r) => r.p99_us),
        1,
        false,
      );
    }
    const lost = rs.filter((r) => r.server === NATIVE_EXAMPLE && !r.error)
      .reduce((n, r) => n + (r.lost ?? 0), 0);
    lines.push(`- ${sc.id}: datagrams lost by ${NATIVE_EXAMPLE}: ${lost} (target 0)`);
  }
  return lines;
}

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args, USAGE);
  await buildLoadgen(); // bench/echo/loadgen: its --exec starts every server
  await buildC("udpload", HERE);
  await buildC("c_udp_server", HERE);
  const only = opts.only;
  const skipped: string[] = [];
  const pick = <T extends { key: string; name: string; file: string; needs?: string }>(list: T[]) =>
    list.filter((s) => {
      const why = available(s, opts.servers);
      if (why && why !== "not selected") skipped.push(`${s.name}: ${why}`);
      return why === null;
    });
  const echo = pick(ECHO_SERVERS);
  const dnsServers = onPath("dnsperf") ? pick(DNS_SERVERS) : [];
  if (!onPath("dnsperf")) skipped.push("the dnsperf rows: dnsperf is not installed");
  const records: UdpRecord[] = [];
  const out: string[] = [
    `## bench:udp (${
      new Date().toISOString()
    }; ${opts.rounds} rounds × ${opts.seconds} s after ${opts.warmup} s warmup, interleaved; ${navigator.hardwareConcurrency} cores, shared with other work)`,
    "",
  ];
  for (const sc of SCENARIOS.filter((s) => !only || only.includes(s.id))) {
    console.error(`== ${sc.id}: ${sc.title}`);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const server of echo) {
        const rec = await runEcho(sc, server, round, opts);
        records.push(rec);
        console.error(
          `  ${server.name.padEnd(22)} round ${round}: ${fmt(rec.rate)} replies/s, lost ${
            rec.lost ?? "–"
          }, p99 ${fmt(rec.p99_us)} µs, cpu ${fmt(rec.server_cpu, 2)}${
            rec.error ? `  ERROR ${rec.error}` : ""
          }`,
        );
        await sleep(200);
      }
    }
    out.push(
      table(
        `${sc.title}: ${sc.id}`,
        echo.map((s) => s.name),
        records.filter((r) => r.scenario === sc.id),
        C_SERVER,
        false,
      ),
    );
  }
  if (dnsServers.length && (!only || only.includes("dns"))) {
    console.error("== dns: dnsperf, 4 clients, 200 queries in flight");
    for (let round = 1; round <= opts.rounds; round++) {
      for (const server of dnsServers) {
        const rec = await runDns(server, round, opts);
        records.push(rec);
        console.error(
          `  ${server.name.padEnd(22)} round ${round}: ${fmt(rec.rate)} answers/s, lost ${
            rec.lost ?? "–"
          }, cpu ${fmt(rec.server_cpu, 2)}${rec.error ? `  ERROR ${rec.error}` : ""}`,
        );
        await sleep(200);
      }
    }
    out.push(
      table(
        "DNS under dnsperf (4 clients, 200 in flight, bench/udp/queries.txt): dns",
        dnsServers.map((s) => s.name),
        records.filter((r) => r.scenario === "dns"),
        "NSD",
        true,
      ),
    );
  }
  out.push("### Targets (example on the native backend)", "", ...targets(records), "");
  if (skipped.length) out.push("Skipped:", ...skipped.map((s) => `- ${s}`), "");
  console.log(out.join("\n"));
  await Deno.writeTextFile(
    `${HERE}results.json`,
    JSON.stringify({ opts, skipped, records }, null, 1),
  );
  console.error(`wrote ${HERE}results.json`);
}

installExitHandlers();
try {
  await main();
} catch (err) {
  await exitWith(1, `error: ${err instanceof Error ? err.message : err}`);
}
await exitWith(0, "done");
