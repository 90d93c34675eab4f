/**
 * The README's quick start is real: it is examples/quick_start.ts, it runs
 * outside the repository (its package import pointed at this checkout's
 * mod.ts as a file URL, from a folder with no deno.json, so no import map
 * can help) and from the checkout as the README's command says, it echoes,
 * and its failures are one clear line and exit status 1.
 */

import assert from "node:assert/strict";
import { freePort, readExactly } from "./_helpers.ts";
import { runExample, RunningExample } from "./_examples.ts";

const README = new URL("../README.md", import.meta.url);
const QUICK_START = new URL("../examples/quick_start.ts", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url);
const PACKAGE = "@deno-epoll/epoll";

function quickStart(text: string, heading = "## Quick start"): string {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `no ${heading} heading`);
  const m = /```ts ignore\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(m, `no code block under ${heading}`);
  return m[1];
}

async function echoes(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const msg = new TextEncoder().encode("hello from the README\n");
    await conn.write(msg);
    assert.deepEqual(await readExactly(conn, msg.length), msg);
  } finally {
    conn.close();
  }
}

Deno.test("README quick start is examples/quick_start.ts and imports the published package", async () => {
  const code = quickStart(await Deno.readTextFile(README));
  assert.equal(code, await Deno.readTextFile(QUICK_START));
  assert.ok(code.includes(`from "${PACKAGE}";`), `quick start must import ${PACKAGE}`);
  assert.ok(code.trim().split("\n").length < 45, "quick start must stay under 45 lines");
});

Deno.test("README quick start echoes, run as a file outside the repository", async () => {
  const code = quickStart(await Deno.readTextFile(README)).replace(PACKAGE, MOD.href);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/echo.ts`, code);
    await using server = await RunningExample.start(`${dir}/echo.ts`, ["0"], [
      "--allow-net",
      "--allow-read",
    ]);
    await echoes(server.port);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README quick start echoes, run from the checkout as the README says", async () => {
  await using server = await RunningExample.start("quick_start.ts", ["0"]);
  assert.match(
    server.stdout.text,
    /^echo: listening on 127\.0\.0\.1:\d+ \((deno|native) backend\); try nc /,
  );
  await echoes(server.port);
});

Deno.test("README quick start answers --help, and reports a bad port, a port in use and a missing --allow-net", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (held.addr as Deno.NetAddr).port;
    const inUse = await runExample("quick_start.ts", [String(port)]);
    assert.equal(inUse.code, 1);
    assert.equal(
      inUse.stderr,
      `echo: listen on 127.0.0.1:${port}: Address already in use (EADDRINUSE)\n`,
    );
  } finally {
    held.close();
  }
  const help = await runExample("quick_start.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: echo\.ts \[--port N \| N\]/);
  const badPort = await runExample("quick_start.ts", ["99999"]);
  assert.equal(badPort.code, 2);
  const denied = await runExample("quick_start.ts", ["0"], []);
  assert.equal(denied.code, 1);
  assert.equal(denied.stderr, "echo: listen on 127.0.0.1:0: Permission denied (EACCES)\n");
});

Deno.test("README kqueue quick start imports the published package and echoes in under 45 lines", async () => {
  const code = quickStart(await Deno.readTextFile(README), "### The kqueue quick start");
  assert.ok(code.trim().split("\n").length < 45, "kqueue quick start must stay under 45 lines");
  assert.ok(code.includes(`from "${PACKAGE}";`), `kqueue quick start must import ${PACKAGE}`);
  const port = freePort();
  const local = code.replace(PACKAGE, MOD.href).replace("port: 8080", `port: ${port}`);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/echo.ts`, local);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", `${dir}/echo.ts`],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0;; i++) {
      try {
        await echoes(port);
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.ConnectionRefused) || i >= 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    child.kill();
    await child.output(); // waits for the exit and drains stderr
    await Deno.remove(dir, { recursive: true });
  }
});
