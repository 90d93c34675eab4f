/**
 * `--workers N` on the echo, HTTP and RESP examples: N Workers share the
 * port through SO_REUSEPORT and each serves (its --stats line counts the
 * connections it accepted); SIGTERM stops every Worker and the process
 * exits 0. Runs on the suite's backend (deno: reusePort with the
 * repository's --unstable-net; native: the kernel's SO_REUSEPORT).
 */

import assert from "node:assert/strict";
import { RunningExample } from "./_examples.ts";

const enc = new TextEncoder();

/** One connection, one request, one whole reply (`done` says when it is whole), close. */
async function oneRequest(port: number, request: string, done: (text: string) => boolean) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(request));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!done(text)) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`closed after ${JSON.stringify(text)}`);
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** The latest `accepted` count of each Worker's --stats line. */
function acceptedPerWorker(stdout: string, name: string): Map<number, number> {
  const per = new Map<number, number>();
  const re = new RegExp(`^${name}\\[(\\d+)\\]: \\d+ open, (\\d+) accepted`, "gm");
  for (const m of stdout.matchAll(re)) per.set(Number(m[1]), Number(m[2]));
  return per;
}

const CASES = [
  {
    script: "echo_server.ts",
    name: "echo_server",
    request: "ping\n",
    done: (t: string) => t === "ping\n",
  },
  {
    script: "http_server.ts",
    name: "http_server",
    request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    done: (t: string) => t.endsWith("Hello, World!\n"),
  },
  {
    script: "resp_server.ts",
    name: "resp_server",
    request: "PING\r\n",
    done: (t: string) => t === "+PONG\r\n",
  },
];

for (const { script, name, request, done } of CASES) {
  Deno.test(`${name} --workers 2: both Workers accept connections on the one port, and SIGTERM stops both`, async () => {
    const server = await RunningExample.start(
      script,
      ["--port", "0", "--workers", "2", "--stats", "--interval", "0.2"],
      ["-A"],
    );
    try {
      assert.match(
        server.stdout.text,
        / listening on 127\.0\.0\.1:\d+ \(\w+ backend\) with 2 workers\n/,
      );
      const CONNECTIONS = 40; // the kernel hashes each: all 40 on one Worker has odds 2^-39
      for (let i = 0; i < CONNECTIONS; i++) await oneRequest(server.port, request, done);
      let per = new Map<number, number>();
      for (;;) {
        per = acceptedPerWorker(server.stdout.text, name);
        if ((per.get(1) ?? 0) + (per.get(2) ?? 0) === CONNECTIONS) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(per.get(1)! > 0 && per.get(2)! > 0, `both served: ${[...per]}`);
      server.child.kill("SIGTERM");
      const status = await server.child.status;
      await Promise.allSettled([server.stdout.done, server.stderr.done]);
      assert.equal(status.code, 0, server.stderr.text);
      for (const i of [1, 2]) {
        assert.match(server.stdout.text, new RegExp(`^${name}\\[${i}\\]: SIGTERM: stopped;`, "m"));
      }
      assert.match(server.stdout.text, new RegExp(`^${name}: all 2 workers stopped\\n`, "m"));
    } finally {
      await server.stop();
    }
  });
}

Deno.test("--workers: a Worker that cannot listen ends the process with its one line and status 1", async () => {
  await using busy = await RunningExample.start("echo_server.ts", ["--port", "0"], ["-A"]);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/echo_server.ts", "--port", String(busy.port), "--workers", "2"],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: "null",
  }).output();
  assert.equal(out.code, 1);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /^echo_server\[1\]: cannot listen on 127\.0\.0\.1:\d+: Address already in use/,
  );
});

Deno.test("--workers on the deno backend without --unstable-net stops with a clear message (SO_REUSEPORT needs it)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    // --no-config: without this repository's deno.json, whose "unstable": ["net"] enables it.
    args: [
      "run",
      "--no-config",
      "-A",
      "examples/echo_server.ts",
      "--backend",
      "deno",
      "--workers",
      "2",
    ],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: "null",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /^echo_server: --workers on the deno backend needs SO_REUSEPORT, which Deno honours only with --unstable-net/,
  );
});
