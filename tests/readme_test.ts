/**
 * The README's quick start is real: extract it, point its URL import at this
 * checkout's mod.ts (as a file URL, from a folder with no deno.json, so no
 * import map can help), run it, and echo through it.
 */

import assert from "node:assert/strict";
import { closedPort, readExactly } from "./_helpers.ts";

const README = new URL("../README.md", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url);

function quickStart(text: string, heading = "## Quick start"): string {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `no ${heading} heading`);
  const m = /```ts ignore\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(m, `no code block under ${heading}`);
  return m[1];
}

Deno.test("README quick start imports mod.ts by URL and echoes in under 30 lines", async () => {
  const code = quickStart(await Deno.readTextFile(README));
  assert.ok(code.trim().split("\n").length < 30, "quick start must stay under 30 lines");
  await runEcho(code);
});

Deno.test("README kqueue quick start imports mod.ts by URL and echoes in under 45 lines", async () => {
  const code = quickStart(await Deno.readTextFile(README), "### The kqueue quick start");
  assert.ok(code.trim().split("\n").length < 45, "kqueue quick start must stay under 45 lines");
  await runEcho(code);
});

/** Runs a quick-start echo server against the local mod.ts and echoes through it. */
async function runEcho(code: string): Promise<void> {
  const url = /from "(https:[^"]+\/mod\.ts)"/.exec(code)?.[1];
  assert.ok(url, "quick start must import mod.ts by URL");
  const port = closedPort();
  const local = code.replace(url, MOD.href).replace("port: 8080", `port: ${port}`);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/echo.ts`, local);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", `${dir}/echo.ts`],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    let conn: Deno.TcpConn | undefined;
    for (let i = 0; i < 100 && conn === undefined; i++) {
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(conn, "the quick start server did not come up");
    try {
      const msg = new TextEncoder().encode("hello from the README\n");
      await conn.write(msg);
      assert.deepEqual(await readExactly(conn, msg.length), msg);
    } finally {
      conn.close();
    }
  } finally {
    child.kill();
    await child.output(); // waits for the exit and drains stderr
    await Deno.remove(dir, { recursive: true });
  }
}
