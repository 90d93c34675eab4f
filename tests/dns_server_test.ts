/**
 * examples/dns_server.ts as a subprocess, on the suite's backend: Deno
 * clients with hand-made queries, a flood of malformed packets, and the real
 * clients `dig` (every record type) and `dnsperf`, each skipped (with a
 * note) where missing. The codec itself: dns_codec_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { forgeUdp, hasTool, runExample, RunningExample, UdpClient } from "./_examples.ts";
import { pattern } from "./_helpers.ts";

const SCRIPT = "dns_server.ts";
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-ffi",
  "--allow-env=DENO_EPOLL_BACKEND",
];

const ZONE = `$ORIGIN zone.test.
$TTL 120
@      SOA   ns hostmaster ( 42 3600 900 604800 30 )
@      NS    ns
ns     A     192.0.2.53
www    A     192.0.2.1
       AAAA  2001:db8::1
alias  CNAME www
info   TXT   "hello from deno-epoll" "second string"
big    TXT   "${"x".repeat(250)}" "${"y".repeat(250)}" "${"z".repeat(250)}"
`;

/** Starts the server on a temporary zone file (removed when it stops). */
async function start(extra: string[] = []): Promise<RunningExample & { zoneFile: string }> {
  const zoneFile = await Deno.makeTempFile({ suffix: ".zone" });
  await Deno.writeTextFile(zoneFile, ZONE);
  const args = ["--port", "0", "--zone", zoneFile, ...extra];
  const server = await RunningExample.start(SCRIPT, args, PERMISSIONS);
  const stop = server.stop.bind(server);
  server.stop = async (signal) => {
    try {
      return await stop(signal);
    } finally {
      await Deno.remove(zoneFile).catch(() => {});
    }
  };
  return Object.assign(server, { zoneFile });
}

/** A query: ID, RD, one question; the name's labels as ASCII. */
function query(id: number, name: string, type: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  return new Uint8Array([
    id >> 8,
    id & 0xff,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...labels,
    0,
    0,
    type,
    0,
    1,
  ]);
}

const idOf = (reply: Uint8Array) => (reply[0] << 8) | reply[1];
const rcodeOf = (reply: Uint8Array) => reply[3] & 0xf;

async function output(program: string, args: string[], ms = 30_000): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(ms),
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

Deno.test("dns_server answers queries from its zone file, FORMERR for garbage, nothing for runts", async () => {
  await using server = await start();
  await using udp = new UdpClient();
  const a = await udp.exchange(server.port, query(7, "www.zone.test", 1), (r) => idOf(r) === 7);
  assert.equal(rcodeOf(a), 0);
  assert.deepEqual([...a.subarray(-4)], [192, 0, 2, 1]);
  const nx = await udp.exchange(server.port, query(8, "nope.zone.test", 1), (r) => idOf(r) === 8);
  assert.equal(rcodeOf(nx), 3);
  const refused = await udp.exchange(server.port, query(9, "example.com", 1), (r) => idOf(r) === 9);
  assert.equal(rcodeOf(refused), 5);
  // Garbage after a header: FORMERR; shorter than a header: no reply at all, so the
  // first reply after it is the next query's.
  const garbage = new Uint8Array([0, 10, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  const formerr = await udp.exchange(server.port, garbage, (r) => idOf(r) === 10);
  assert.equal(rcodeOf(formerr), 1);
  await udp.send(server.port, new Uint8Array(5));
  await udp.send(server.port, new Uint8Array(0));
  const next = await udp.exchange(server.port, query(11, "www.zone.test", 28));
  assert.equal(idOf(next), 11);
});

Deno.test("dns_server keeps answering after 3,000 malformed packets, up to 64 KiB each", async () => {
  await using server = await start();
  await using udp = new UdpClient();
  const loops = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 12, 0, 1, 0, 1]; // a->a->...
  const counts = [0, 2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
  const bigLabel = [
    0,
    3,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    64,
    ...new Array(64).fill(0x61),
    0,
    0,
    1,
    0,
    1,
  ];
  for (let i = 0; i < 3000; i++) {
    const kind = i % 4;
    const data = kind === 0
      ? new Uint8Array(loops)
      : kind === 1
      ? new Uint8Array(counts)
      : kind === 2
      ? new Uint8Array(bigLabel)
      : pattern(i % 20 === 3 ? 65507 : 200 + (i % 500), i);
    await udp.send(server.port, data);
  }
  const reply = await udp.exchange(
    server.port,
    query(0xabc, "info.zone.test", 16),
    (r) => idOf(r) === 0xabc,
    5,
  );
  assert.equal(rcodeOf(reply), 0);
  assert.ok(new TextDecoder().decode(reply).includes("hello from deno-epoll"));
  assert.ok(server.memory().hwm < 512 * 2 ** 20);
});

Deno.test("dig gets every record type right, NXDOMAIN, REFUSED and the TC bit", async () => {
  if (!(await hasTool("dig", "-v"))) return;
  await using server = await start();
  const dig = (...args: string[]) =>
    output("dig", [`@127.0.0.1`, "-p", String(server.port), "+time=2", "+tries=3", ...args]);
  const short = async (name: string, type: string) => (await dig("+short", name, type)).trim();
  assert.equal(await short("www.zone.test", "A"), "192.0.2.1");
  assert.equal(await short("WWW.Zone.Test", "AAAA"), "2001:db8::1");
  assert.equal(await short("info.zone.test", "TXT"), '"hello from deno-epoll" "second string"');
  assert.equal(await short("alias.zone.test", "A"), "www.zone.test.\n192.0.2.1");
  assert.equal(await short("alias.zone.test", "CNAME"), "www.zone.test.");
  assert.equal(await short("zone.test", "NS"), "ns.zone.test.");
  assert.equal(
    await short("zone.test", "SOA"),
    "ns.zone.test. hostmaster.zone.test. 42 3600 900 604800 30",
  );
  const www = await dig("+norec", "www.zone.test", "A"); // an authoritative server does not recurse
  assert.match(www, /status: NOERROR/);
  assert.match(www, /flags: qr aa;/);
  assert.match(www, /www\.zone\.test\.\s+120\s+IN\s+A\s+192\.0\.2\.1/);
  assert.doesNotMatch(www, /WARNING|malformed|mismatch/i);
  const nx = await dig("nope.zone.test", "A");
  assert.match(nx, /status: NXDOMAIN/);
  assert.match(nx, /AUTHORITY: 1/);
  assert.match(nx, /zone\.test\.\s+30\s+IN\s+SOA/);
  assert.match(await dig("www.zone.test", "MX"), /status: NOERROR.*\n.*ANSWER: 0, AUTHORITY: 1/);
  assert.match(await dig("example.com", "A"), /status: REFUSED/);
  // 750 bytes of TXT: truncated without EDNS, whole with a 1232-byte EDNS size.
  assert.match(
    await dig("+noedns", "+ignore", "big.zone.test", "TXT"),
    /flags: qr aa tc rd;.*ANSWER: 0/,
  );
  const whole = await dig("+bufsize=1232", "+ignore", "big.zone.test", "TXT");
  assert.match(whole, /flags: qr aa rd;.*ANSWER: 1/);
  assert.match(whole, /; EDNS: version: 0, flags:; udp: 1232/);
});

Deno.test("dnsperf gets every query answered", async () => {
  if (!(await hasTool("dnsperf", "-h"))) return;
  await using server = await start();
  const queries = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      queries,
      "www.zone.test A\nwww.zone.test AAAA\nalias.zone.test A\ninfo.zone.test TXT\nnope.zone.test A\n",
    );
    const args = [
      "-s",
      "127.0.0.1",
      "-p",
      String(server.port),
      "-d",
      queries,
      "-l",
      "1",
      "-q",
      "10",
    ];
    const out = await output("dnsperf", args);
    const completed = Number(out.match(/Queries completed:\s+(\d+)/)?.[1]);
    assert.ok(completed > 0, out);
    assert.match(out, /Queries lost:\s+0 /);
    assert.match(out, /NOERROR \d+ \(\d+\.\d+%\)/);
    assert.match(out, /NXDOMAIN \d+ \(\d+\.\d+%\)/);
  } finally {
    await Deno.remove(queries);
  }
});

Deno.test("dns_server: --help, a bad zone, a missing file and a missing --allow-read are one line", async () => {
  const help = await runExample(SCRIPT, ["--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["zone", "records", "origin", "batch", "port", "backend", "stats"]) {
    assert.match(help.stdout, new RegExp(`--${flag}\\b`));
  }
  const bad = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(bad, "$ORIGIN z.\nw MX 10 mail\n");
    const cases: [string[], string[], RegExp][] = [
      [["--zone", bad], PERMISSIONS, /zone line 2: unsupported record type "MX"/],
      [["--zone", `${bad}.missing`], PERMISSIONS, /no such file/],
      [["--zone", bad], ["--allow-net"], /permission denied; run with --allow-read/],
      [["--records", "www A 1.2.3"], PERMISSIONS, /bad IPv4 address/],
    ];
    for (const [args, permissions, re] of cases) {
      const { code, stdout, stderr } = await runExample(
        SCRIPT,
        ["--port", "0", ...args],
        permissions,
      );
      assert.equal(code, 1, stderr);
      assert.equal(stdout, "");
      assert.match(stderr, /^dns_server: [^\n]+\n$/);
      assert.match(stderr, re);
    }
  } finally {
    await Deno.remove(bad);
  }
});

Deno.test("dns_server serves --records under --origin, and its built-in zone by default", async () => {
  await using server = await RunningExample.start(SCRIPT, [
    "--port",
    "0",
    "--origin",
    "cli.test",
    "--records",
    'a A 10.0.0.1, t TXT "x, y"',
  ], PERMISSIONS);
  await using udp = new UdpClient();
  const a = await udp.exchange(server.port, query(1, "a.cli.test", 1), (r) => idOf(r) === 1);
  assert.deepEqual([...a.subarray(-4)], [10, 0, 0, 1]);
  await using builtIn = await RunningExample.start(SCRIPT, ["--port", "0"], PERMISSIONS);
  const www = await udp.exchange(
    builtIn.port,
    query(2, "www.example.test", 1),
    (r) => idOf(r) === 2,
  );
  assert.deepEqual([...www.subarray(-4)], [192, 0, 2, 1]);
});

Deno.test("dns_server answers a query from port 53 but none from chargen's port 19 (no loop)", async () => {
  await using server = await start(["--stats", "--interval", "0.1"]);
  for (const port of [19, 53]) {
    if (!forgeUdp(port, server.port, query(port, "www.zone.test", 1))) {
      console.log("  (raw sockets need root: skipped)");
      return;
    }
  }
  await server.waitFor(/ 2 in, 1 out, 1 dropped/);
});
