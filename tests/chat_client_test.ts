/**
 * examples/chat_client.ts against examples/chat_server.ts: two clients whose
 * standard input is a pipe from the test; lines typed on one reach the
 * other; the end of input leaves; the server going away ends a client.
 */

import assert from "node:assert/strict";
import { RunningExample } from "./_examples.ts";
import { closedPort } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const enc = new TextEncoder();

/** A chat client subprocess: stdin a pipe the test writes, stdout collected. */
class Client {
  readonly child: Deno.ChildProcess;
  readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  out = "";
  err = "";
  readonly #done: Promise<unknown>;

  constructor(port: number) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "examples/chat_client.ts", "--port", String(port)],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.stdin = child.stdin.getWriter();
    const d = new TextDecoder();
    this.#done = Promise.all([
      (async () => {
        for await (const c of child.stdout) this.out += d.decode(c, { stream: true });
      })(),
      (async () => {
        for await (const c of child.stderr) this.err += d.decode(c, { stream: true });
      })(),
    ]);
  }

  /** Waits until its output contains `text` (the test's own timeout bounds it). */
  async sees(text: string): Promise<void> {
    while (!this.out.includes(text)) {
      if (
        (await Promise.race([this.#done.then(() => true), sleep(20)])) && !this.out.includes(text)
      ) {
        throw new Error(
          `client ended without printing ${JSON.stringify(text)}: ${this.out}${this.err}`,
        );
      }
    }
  }

  async type(text: string): Promise<void> {
    await this.stdin.write(enc.encode(text));
  }

  /** Closes its input and waits for it to exit. */
  async finish(): Promise<Deno.CommandStatus> {
    try {
      await this.stdin.close();
    } catch {
      // already closed
    }
    const status = await this.child.status;
    await this.#done;
    return status;
  }

  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // exited
    }
    await this.finish();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every client is in the room: the chat server announces no
 * joins, and a line sent before a client joined never reaches it, so each
 * client greets again every 100 ms until every greeting has reached every
 * other client.
 */
async function connected(clients: Client[]): Promise<void> {
  const inRoom = () =>
    clients.every((c, i) => clients.every((_, j) => j === i || c.out.includes(`hi from ${j}\n`)));
  while (!inRoom()) {
    for (const [i, c] of clients.entries()) await c.type(`hi from ${i}\n`);
    await sleep(100);
  }
}

Deno.test("chat_client: lines typed into one client's stdin reach the other; the end of input leaves with status 0", async () => {
  await using server = await RunningExample.start("chat_server.ts");
  const a = new Client(server.port);
  const b = new Client(server.port);
  try {
    await connected([a, b]);
    await a.type("hello from a\n");
    await b.sees("] hello from a\n");
    await b.type("and back\n");
    await a.sees("] and back\n");
    // A burst larger than one read, in pieces: every line arrives whole and in order.
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${"x".repeat(40)}`);
    await a.type(lines.join("\n") + "\n");
    await b.sees(`] line 1999 `);
    const got = b.out.split("\n").filter((l) => / line \d+ /.test(l)).map((l) =>
      l.replace(/^\[\d+\] /, "")
    );
    assert.deepEqual(got, lines);
    assert.equal((await a.finish()).code, 0, a.err);
    assert.equal((await b.finish()).code, 0, b.err);
  } finally {
    await a.kill();
    await b.kill();
  }
});

Deno.test("chat_client: the server going away ends the client with status 0; no server prints one line and exits 1", async () => {
  const server = await RunningExample.start("chat_server.ts");
  const a = new Client(server.port);
  const b = new Client(server.port);
  try {
    await connected([a, b]);
    await server.stop();
    assert.equal((await a.child.status).code, 0, a.err);
    assert.equal((await b.child.status).code, 0, b.err);
  } finally {
    await a.kill();
    await b.kill();
    await server.stop();
  }
  const none = new Client(closedPort());
  const status = await none.finish();
  assert.equal(status.code, 1);
  assert.match(none.err, /^chat_client: cannot connect to 127\.0\.0\.1:\d+: Connection refused\n$/);
});
