/**
 * A program exits like a C program (issue 20): returning with a listener, connected
 * sockets and an epoll set open ends the process at once on both backends,
 * while a wait in progress keeps it alive (net/deno/_keep_alive.ts). Each
 * case runs tests/_open_sockets_child.ts in its own process.
 */

import assert from "node:assert/strict";
import { openLibc } from "../net/native/libc.ts";

const CHILD = new URL("./_open_sockets_child.ts", import.meta.url).pathname;
/** A child still running after this long never exits (it is killed and the test fails). */
const GIVE_UP_MS = 30_000;
const native = typeof openLibc() !== "string";

/** Runs the child; `onPort` is called with its listening port once it printed it. */
async function runChild(
  backend: string,
  mode: string,
  onPort?: (port: number) => Promise<void>,
  where = "default",
): Promise<{ code: number; killed: boolean; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, backend, mode, where],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, GIVE_UP_MS);
  let out = "";
  const reading = (async () => {
    const d = new TextDecoder();
    let told = false;
    for await (const chunk of child.stdout) {
      out += d.decode(chunk, { stream: true });
      const m = out.match(/^port (\d+)$/m);
      if (m && !told && onPort) {
        told = true;
        await onPort(Number(m[1]));
      }
    }
  })();
  const err = new Response(child.stderr).text();
  const status = await child.status;
  clearTimeout(timer);
  await reading;
  return { code: status.code, killed, out, err: await err };
}

for (const backend of ["deno", "native"]) {
  Deno.test({
    name: `${backend}: a program that returns with sockets open exits`,
    ignore: backend === "native" && !native,
    async fn() {
      const r = await runChild(backend, "return");
      assert.equal(r.killed, false, `still running after ${GIVE_UP_MS} ms`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^port \d+$/m);
    },
  });

  Deno.test({
    name: `${backend}: a wait in progress keeps the program alive until its event`,
    ignore: backend === "native" && !native,
    async fn() {
      let conn: Deno.Conn | undefined;
      const r = await runChild(backend, "wait", async (port) => {
        // Give the child time to be asleep in its wait, then connect.
        await new Promise((res) => setTimeout(res, 300));
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      });
      conn?.close();
      assert.equal(r.killed, false, `still running after ${GIVE_UP_MS} ms`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^accepted$/m, `the child ended before its wait did: ${r.out}`);
    },
  });
}

Deno.test("deno: a wait in a kernel of its own keeps the program alive until its event", async () => {
  let conn: Deno.Conn | undefined;
  const r = await runChild("deno", "wait", async (port) => {
    await new Promise((res) => setTimeout(res, 300));
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  }, "kernel");
  conn?.close();
  assert.equal(r.killed, false, `still running after ${GIVE_UP_MS} ms`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^accepted$/m, `the child ended before its wait did: ${r.out}`);
});
