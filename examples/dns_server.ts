/**
 * An authoritative DNS server for one small zone, on deno-epoll's UDP.
 *
 * ```sh
 * deno run --allow-net --unstable-net examples/dns_server.ts [--port 8053] [--stats]
 * deno run --allow-net --allow-read examples/dns_server.ts --zone bench/udp/example.test.zone
 * deno run --allow-net examples/dns_server.ts --origin my.test --records "www A 192.0.2.1, www AAAA 2001:db8::1"
 * dig @127.0.0.1 -p 8053 www.example.test AAAA
 * ```
 *
 * The zone comes from a master file (`--zone FILE`, the same format NSD and
 * BIND read), from `--records` (master-file lines separated by commas, under
 * `--origin`), or is a small built-in one (`example.test.`). It serves A,
 * AAAA, TXT, CNAME, NS and SOA records: NXDOMAIN for names that do not exist
 * and NOERROR without answers for types a name lacks, both with the SOA;
 * REFUSED for names outside the zone; FORMERR for garbage, NOTIMP for other
 * opcodes, and silence for responses and packets shorter than a header.
 * Replies fit 512 bytes, or the size in the query's EDNS(0) OPT record (up
 * to 1232); a longer one is sent with the TC bit and no records. There is no
 * TCP, no zone transfer, no DNSSEC, no wildcards, no delegation. Queries
 * from ports below 1024 other than 53 get no reply (`_datagram_server.ts`:
 * a forged source must not start a loop with chargen or an echo service).
 *
 * The codec is in `_dns_wire.ts` (parsing, every bound checked), `_dns_reply.ts`
 * (answers), `_dns_cache.ts` (each distinct reply built once) and
 * `_dns_zone.ts` (the zone); the socket loop in
 * `_datagram_server.ts` (`recvmmsg`/`sendmmsg`, one system call per batch on
 * the native backend). `deno task bench:udp` runs it under `dnsperf` beside
 * NSD serving the same zone.
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import { batchFlag, openDatagram, serveDatagrams, udpPortFlag } from "./_datagram_server.ts";
import { stringFlag } from "./_flags.ts";
import { parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";
import { fail } from "./_trap.ts";
import { isMalformed, parseQuery } from "./_dns_wire.ts";
import { buildError, REPLY_BUFFER } from "./_dns_reply.ts";
import { ReplyCache } from "./_dns_cache.ts";
import { parseZone, recordsText, type Zone, ZoneError } from "./_dns_zone.ts";

const NAME = "dns_server";

/** The zone served when neither --zone nor --records is given. */
const BUILT_IN = `
$ORIGIN example.test.
$TTL 300
@     SOA   ns hostmaster 1 3600 900 604800 60
@     NS    ns
ns    A     192.0.2.53
www   A     192.0.2.1
      AAAA  2001:db8::1
alias CNAME www
info  TXT   "deno-epoll dns_server example"
`;

const opts = parseServerArgs({
  name: NAME,
  task: "dns",
  summary: "an authoritative DNS server (UDP) for one small zone: A, AAAA, TXT, CNAME, NS, SOA",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Without --zone or --records it serves a built-in example.test zone.",
    "Try: dig @127.0.0.1 -p 8053 www.example.test AAAA",
  ],
  flags: {
    port: udpPortFlag(8053),
    zone: stringFlag(
      "FILE",
      "master file of the zone ($ORIGIN, $TTL, records); needs --allow-read",
      "",
    ),
    records: stringFlag(
      "LIST",
      'records, comma-separated: "www A 192.0.2.1, info TXT \\"hi\\""',
      "",
    ),
    origin: stringFlag("NAME", "the zone's name, for --records and relative names in --zone", ""),
    batch: batchFlag,
  },
});

function loadZone(): Zone {
  const origin = opts.origin === "" ? undefined : opts.origin;
  try {
    if (opts.zone !== "" && opts.records !== "") {
      throw new ZoneError(0, "give --zone or --records, not both");
    }
    if (opts.records !== "") return parseZone(recordsText(opts.records), origin ?? "example.test");
    if (opts.zone === "") return parseZone(BUILT_IN);
    return parseZone(Deno.readTextFileSync(opts.zone), origin);
  } catch (err) {
    if (err instanceof ZoneError) fail(NAME, `${opts.zone || "--records"}: ${err.message}`);
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      fail(NAME, `cannot read ${opts.zone}: permission denied; run with --allow-read`);
    }
    if (err instanceof Deno.errors.NotFound) fail(NAME, `cannot read ${opts.zone}: no such file`);
    throw err;
  }
}

const zone = loadZone();
const cache = new ReplyCache(zone);
const stats = new Stats();
stats.datagrams = true;
const replies = Array.from({ length: opts.batch }, () => new Uint8Array(REPLY_BUFFER));
let failures = 0;

/** One query's reply in `replies[slot]`, or null for silence. */
function answer(datagram: Uint8Array, slot: number): Uint8Array | null {
  const out = replies[slot];
  try {
    const q = parseQuery(datagram);
    if (!isMalformed(q)) return out.subarray(0, cache.reply(q, out));
    return q.kind === "silent" ? null : out.subarray(0, buildError(q, out));
  } catch (err) {
    // A bug, not the client's doing: drop this query, keep serving the others.
    if (failures++ === 0) console.error(`${NAME}: dropped a query: ${err}`);
    return null;
  }
}

const fd = await openDatagram(NAME, opts);
let records = 0;
for (const types of zone.nodes.values()) for (const rrs of types.values()) records += rrs.length;
console.log(`${NAME}: serving ${zone.origin.key}. (${records} records)`);
if (opts.stats) startStats(NAME, stats, opts.interval, opts.backend);
await serveDatagrams(NAME, fd, opts.batch, answer, stats, [53]);
