/**
 * examples/udp_echo_server.ts as a subprocess, on the backend the suite runs
 * on (`DENO_EPOLL_BACKEND`): Deno clients, a flood, and the real clients
 * `nc -u`, `socat` and `sockperf ping-pong`, each test skipped (with a note)
 * where its tool is missing.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  allSettled,
  forgeUdp,
  hasTool,
  runExample,
  RunningExample,
  UdpClient,
} from "./_examples.ts";
import { pattern } from "./_helpers.ts";

const SCRIPT = "udp_echo_server.ts";
/** The suite's backend passes on to the example (native needs --allow-ffi). */
const PERMISSIONS = ["--allow-net", "--allow-ffi", "--allow-env=DENO_EPOLL_BACKEND"];

function start(args: string[] = []): Promise<RunningExample> {
  return RunningExample.start(SCRIPT, ["--port", "0", ...args], PERMISSIONS);
}

/** Runs `program args` with `input` on stdin, killed after `ms`; its stdout as text. */
async function run(program: string, args: string[], input: string, ms = 15_000): Promise<string> {
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(ms),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("udp_echo_server echoes datagrams of 0 to 65,507 bytes to each of three clients", async () => {
  await using server = await start();
  const sizes = [0, 1, 64, 1472, 9000, 65507];
  await allSettled([1, 2, 3].map(async (client) => {
    await using udp = new UdpClient();
    for (const size of sizes) {
      const data = pattern(size, client * 100 + size);
      const reply = await udp.exchange(server.port, data, (r) => r.length === size);
      assert.deepEqual(reply, data, `client ${client}, ${size} bytes`);
    }
  }));
});

Deno.test("udp_echo_server keeps answering a client while another floods it without reading", async () => {
  await using server = await start();
  const before = server.memory().rss;
  await using flooder = new UdpClient();
  const junk = pattern(1400, 9);
  for (let i = 0; i < 20_000; i++) await flooder.send(server.port, junk);
  await using polite = new UdpClient();
  const hello = new TextEncoder().encode("still there?");
  assert.deepEqual(
    await polite.exchange(server.port, hello, (r) => r.length === hello.length),
    hello,
  );
  // 28 MB were sent; the server holds at most its batch of 64 KiB slots and the kernel's buffers.
  const grown = server.memory().hwm - before;
  assert.ok(grown < 64 * 2 ** 20, `resident set grew by ${grown} bytes`);
});

Deno.test("nc -u gets its line back", async () => {
  if (!(await hasTool("nc", "-h"))) return;
  await using server = await start();
  const out = await run("nc", ["-u", "-w1", "127.0.0.1", String(server.port)], "hello over nc\n");
  assert.equal(out, "hello over nc\n");
});

Deno.test("socat gets its datagram back", async () => {
  if (!(await hasTool("socat", "-V"))) return;
  await using server = await start();
  const out = await run("socat", ["-t1", "-", `UDP:127.0.0.1:${server.port}`], "socat datagram");
  assert.equal(out, "socat datagram");
});

Deno.test("sockperf ping-pong measures round trips against --sockperf", async () => {
  if (!(await hasTool("sockperf", "--version"))) return;
  await using server = await start(["--sockperf"]);
  const args = ["ping-pong", "-i", "127.0.0.1", "-p", String(server.port), "-t", "1"];
  const out = await run("sockperf", [...args, "--msg-size", "64"], "", 30_000);
  const seen = out.match(/Total (\d+) observations/);
  assert.ok(seen && Number(seen[1]) > 0, out);
  assert.match(out, /Summary: Latency is [\d.]+ usec/);
});

Deno.test("--sockperf answers pong requests with the client bit cleared, and nothing else", async () => {
  await using server = await start(["--sockperf"]);
  await using udp = new UdpClient();
  const message = (seq: number, flags: number) => {
    const m = new Uint8Array(64);
    m[7] = seq;
    m[9] = flags;
    m[13] = 64;
    return m;
  };
  // A warmup message, a message without PONG, and a runt: no answer; then a pong request.
  for (const m of [message(1, 1 | 2 | 4), message(2, 1), new Uint8Array(13)]) {
    await udp.send(server.port, m);
  }
  const reply = await udp.exchange(server.port, message(3, 1 | 2));
  assert.equal(reply[7], 3, "the first answer is the pong request's");
  assert.equal(reply[9], 2, "client bit cleared, pong kept");
});

Deno.test("udp_echo_server: --help, a UDP port in use, and the echo:udp tasks", async () => {
  const help = await runExample(SCRIPT, ["--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["backend", "host", "port", "batch", "sockperf", "stats", "interval"]) {
    assert.match(help.stdout, new RegExp(`--${flag}\\b`));
  }
  assert.match(help.stdout, /UDP port to listen on/);
  const held = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = String((held.addr as Deno.NetAddr).port);
    const { code, stderr } = await runExample(SCRIPT, ["--port", port], PERMISSIONS);
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(`^udp_echo_server: cannot bind 127\\.0\\.0\\.1:${port}: .*\\(EADDRINUSE\\)`),
    );
  } finally {
    held.close();
  }
  for (const [task, backend] of [["echo:udp", "deno"], ["echo:udp:native", "native"]]) {
    await using server = await RunningExample.task(task, ["--port", "0"]);
    assert.equal(server.backend, backend, task);
    await using udp = new UdpClient();
    const data = new TextEncoder().encode(task);
    assert.deepEqual(await udp.exchange(server.port, data), data);
  }
});

/** The `N in` and `N dropped` counts of the last `--stats` line printed so far. */
function counts(server: RunningExample): { in: number; dropped: number } {
  const lines = [...server.stdout.text.matchAll(/ (\d+) in, \d+ out, (\d+) dropped/g)];
  const last = lines[lines.length - 1];
  return last ? { in: Number(last[1]), dropped: Number(last[2]) } : { in: 0, dropped: 0 };
}

Deno.test("a datagram forged to come from the server itself is not answered (no endless self-echo)", async () => {
  for (const host of ["127.0.0.1", "0.0.0.0"]) { // a wildcard address is the server's own too
    await using server = await start(["--host", host, "--stats", "--interval", "0.1"]);
    if (!forgeUdp(server.port, server.port, new TextEncoder().encode("loop"))) {
      console.log("  (raw sockets need root: skipped)");
      return;
    }
    await server.waitFor(/ [1-9]\d* dropped/);
    const first = counts(server);
    const printed = server.stdout.text.length;
    for (let i = 0; i < 50 && server.stdout.text.length === printed; i++) {
      await new Promise((r) => setTimeout(r, 100)); // a later --stats line
    }
    assert.deepEqual(counts(server), first, `${host}: the server kept receiving its own datagrams`);
    assert.equal(first.in, 1);
    await using udp = new UdpClient();
    const hello = new TextEncoder().encode("still serving");
    assert.deepEqual(await udp.exchange(server.port, hello), hello);
  }
});

Deno.test("datagrams from ports below 1024 (echo, chargen) are not answered; others are", async () => {
  await using server = await start(["--stats", "--interval", "0.1"]);
  for (const port of [7, 19]) {
    if (!forgeUdp(port, server.port, new TextEncoder().encode(`from ${port}`))) {
      console.log("  (raw sockets need root: skipped)");
      return;
    }
  }
  await server.waitFor(/ 2 in, 0 out, 2 dropped/);
  await using udp = new UdpClient();
  const hello = new TextEncoder().encode("an ephemeral port");
  assert.deepEqual(await udp.exchange(server.port, hello), hello);
});
