/**
 * examples/resp_server.ts over loopback: the Redis protocol (multibulk,
 * inline, pipelining), each command's replies and errors, expiry (lazy and
 * swept by the timerfd), and hostile clients (oversized lengths, garbage,
 * replies nobody reads) against the bounds.
 */

import assert from "node:assert/strict";
import { allSettled, RunningExample } from "./_examples.ts";
import { sleep } from "./_helpers.ts";

/** `+text` replies. */
class Simple {
  constructor(readonly text: string) {}
}
/** `-message` replies. */
class Err {
  constructor(readonly message: string) {}
}
/** A reply: simple, error, integer, bulk (latin1 text), null, or an array of replies. */
type Reply = Simple | Err | number | string | null | Reply[];

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** Bytes as a string of chars 0..255. */
function text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** A RESP client with its own reply parser (not the server's). */
class Client implements Disposable {
  #buf = new Uint8Array(0);
  #at = 0;

  private constructor(readonly conn: Deno.TcpConn) {}

  static async connect(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends raw bytes (a string is sent as latin1). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1(data) : data;
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /** Sends one command as a multibulk request and returns its reply. */
  async call(...args: string[]): Promise<Reply> {
    await this.send(encode(args));
    return await this.reply();
  }

  async #more(): Promise<void> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("EOF");
    const joined = new Uint8Array(this.#buf.length - this.#at + n);
    joined.set(this.#buf.subarray(this.#at));
    joined.set(chunk.subarray(0, n), this.#buf.length - this.#at);
    this.#buf = joined;
    this.#at = 0;
  }

  async #line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(10, this.#at);
      if (i > this.#at && this.#buf[i - 1] === 13) {
        const line = text(this.#buf.subarray(this.#at, i - 1));
        this.#at = i + 1;
        return line;
      }
      await this.#more();
    }
  }

  /** Reads one reply. */
  async reply(): Promise<Reply> {
    const line = await this.#line();
    const rest = line.slice(1);
    switch (line[0]) {
      case "+":
        return new Simple(rest);
      case "-":
        return new Err(rest);
      case ":":
        return Number(rest);
      case "$": {
        const n = Number(rest);
        if (n < 0) return null;
        while (this.#buf.length - this.#at < n + 2) await this.#more();
        const s = text(this.#buf.subarray(this.#at, this.#at + n));
        assert.equal(
          String.fromCharCode(...this.#buf.subarray(this.#at + n, this.#at + n + 2)),
          "\r\n",
        );
        this.#at += n + 2;
        return s;
      }
      case "*": {
        const n = Number(rest);
        if (n < 0) return null;
        const out: Reply[] = [];
        for (let i = 0; i < n; i++) out.push(await this.reply());
        return out;
      }
    }
    throw new Error(`bad reply line ${JSON.stringify(line)}`);
  }

  /** Resolves when the server closes the connection (after any unread replies). */
  async closed(): Promise<void> {
    const buf = new Uint8Array(65536);
    while ((await this.conn.read(buf)) !== null) { /* drain */ }
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** A multibulk request. */
function encode(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

const OK = new Simple("OK");

/** Starts the server with `args`, runs `body` with one client, stops it. */
async function withServer(
  args: string[],
  body: (client: Client, server: RunningExample) => Promise<void>,
): Promise<void> {
  await using server = await RunningExample.start("resp_server.ts", ["--port", "0", ...args]);
  using client = await Client.connect(server.port);
  await body(client, server);
}

Deno.test("resp_server answers each command as Redis does", async () => {
  await withServer([], async (c) => {
    assert.deepEqual(await c.call("PING"), new Simple("PONG"));
    assert.deepEqual(await c.call("ping", "hi"), "hi");
    assert.deepEqual(await c.call("ECHO", "a\r\nb"), "a\r\nb");
    assert.deepEqual(await c.call("GET", "k"), null);
    assert.deepEqual(await c.call("SET", "k", "v"), OK);
    assert.deepEqual(await c.call("GET", "k"), "v");
    assert.deepEqual(await c.call("SET", "k", ""), OK);
    assert.deepEqual(await c.call("GET", "k"), "");
    assert.deepEqual(await c.call("EXISTS", "k", "k", "nope"), 2);
    assert.deepEqual(await c.call("DEL", "k", "nope"), 1);
    assert.deepEqual(await c.call("EXISTS", "k"), 0);
    assert.deepEqual(await c.call("INCR", "n"), 1);
    assert.deepEqual(await c.call("INCRBY", "n", "41"), 42);
    assert.deepEqual(await c.call("DECR", "n"), 41);
    assert.deepEqual(await c.call("DECRBY", "n", "-9"), 50);
    assert.deepEqual(await c.call("GET", "n"), "50");
    assert.deepEqual(await c.call("MSET", "a", "1", "b", "2"), OK);
    assert.deepEqual(await c.call("MGET", "a", "missing", "b"), ["1", null, "2"]);
    assert.deepEqual(await c.call("DBSIZE"), 3);
    assert.deepEqual(((await c.call("KEYS", "*")) as string[]).sort(), ["a", "b", "n"]);
    assert.deepEqual(
      await c.call("MSET", "h?llo", "x", "hallo", "x", "hxllo", "x", "hbllo", "x"),
      OK,
    );
    assert.deepEqual(((await c.call("KEYS", "h[ae]llo")) as string[]).sort(), ["hallo"]);
    assert.deepEqual(((await c.call("KEYS", "h[^e]llo")) as string[]).sort(), [
      "h?llo",
      "hallo",
      "hbllo",
      "hxllo",
    ]);
    assert.deepEqual(((await c.call("KEYS", "h[a-b]l*")) as string[]).sort(), ["hallo", "hbllo"]);
    assert.deepEqual(await c.call("KEYS", "h\\?llo"), ["h?llo"]);
    assert.deepEqual(await c.call("SELECT", "0"), OK);
    assert.deepEqual(await c.call("SELECT", "1"), new Err("ERR DB index is out of range"));
    assert.deepEqual(await c.call("FLUSHALL"), OK);
    assert.deepEqual(await c.call("DBSIZE"), 0);
    assert.deepEqual(await c.call("COMMAND", "DOCS"), []);
    const count = await c.call("COMMAND", "COUNT");
    assert.equal(typeof count, "number");
    const all = (await c.call("COMMAND")) as Reply[][];
    assert.equal(all.length, count);
    assert.deepEqual(await c.call("COMMAND", "INFO", "get"), [[
      "get",
      2,
      [
        new Simple("readonly"),
        new Simple("fast"),
      ],
      1,
      1,
      1,
    ]]);
    assert.deepEqual(await c.call("CONFIG", "GET", "save"), ["save", ""]);
    assert.match((await c.call("INFO")) as string, /^# Server\r\nredis_version:/);
    assert.deepEqual(await c.call("QUIT"), OK);
    await c.closed();
  });
});

Deno.test("resp_server: SET options, INCR's int64 rules, and errors as RESP errors", async () => {
  await withServer([], async (c) => {
    assert.deepEqual(await c.call("SET", "k", "1", "NX"), OK);
    assert.deepEqual(await c.call("SET", "k", "2", "NX"), null);
    assert.deepEqual(await c.call("SET", "other", "2", "XX"), null);
    assert.deepEqual(await c.call("SET", "k", "3", "XX"), OK);
    assert.deepEqual(await c.call("GET", "k"), "3");
    assert.deepEqual(await c.call("SET", "k", "1", "NX", "XX"), new Err("ERR syntax error"));
    assert.deepEqual(
      await c.call("SET", "k", "1", "EX", "1", "PX", "5"),
      new Err("ERR syntax error"),
    );
    assert.deepEqual(await c.call("SET", "k", "1", "BOGUS"), new Err("ERR syntax error"));
    assert.deepEqual(
      await c.call("SET", "k", "1", "EX", "0"),
      new Err("ERR invalid expire time in 'set' command"),
    );
    assert.deepEqual(
      await c.call("SET", "k", "1", "EX", "x"),
      new Err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(await c.call("SET", "k", "abc"), OK);
    assert.deepEqual(
      await c.call("INCR", "k"),
      new Err("ERR value is not an integer or out of range"),
    );
    for (const bad of ["01", "+1", " 1", "1.5", "-0", "9223372036854775808"]) {
      assert.deepEqual(await c.call("SET", "n", bad), OK);
      assert.deepEqual(
        await c.call("INCR", "n"),
        new Err("ERR value is not an integer or out of range"),
        bad,
      );
    }
    assert.deepEqual(await c.call("SET", "n", "9223372036854775806"), OK);
    assert.equal(await c.call("INCR", "n"), 9223372036854775807);
    assert.deepEqual(await c.call("GET", "n"), "9223372036854775807");
    assert.deepEqual(
      await c.call("INCR", "n"),
      new Err("ERR increment or decrement would overflow"),
    );
    assert.deepEqual(await c.call("SET", "n", "-9223372036854775808"), OK);
    assert.deepEqual(
      await c.call("DECR", "n"),
      new Err("ERR increment or decrement would overflow"),
    );
    assert.deepEqual(
      await c.call("GET"),
      new Err("ERR wrong number of arguments for 'get' command"),
    );
    assert.deepEqual(
      await c.call("MSET", "a", "1", "b"),
      new Err("ERR wrong number of arguments for 'mset' command"),
    );
    assert.deepEqual(
      await c.call("NOSUCH", "x", "y"),
      new Err("ERR unknown command 'NOSUCH', with args beginning with: 'x' 'y'"),
    );
    assert.deepEqual(await c.call("PING"), new Simple("PONG"), "the connection stays usable");
  });
});

Deno.test("resp_server: keys expire when touched, and the timerfd sweep deletes untouched ones", async () => {
  await withServer([], async (c) => {
    assert.deepEqual(await c.call("SET", "k", "v", "EX", "100"), OK);
    const ttl = await c.call("TTL", "k");
    assert.ok(typeof ttl === "number" && ttl > 95 && ttl <= 100, String(ttl));
    const pttl = await c.call("PTTL", "k");
    assert.ok(typeof pttl === "number" && pttl > 95_000 && pttl <= 100_000, String(pttl));
    assert.equal(await c.call("TTL", "none"), -2);
    assert.deepEqual(await c.call("SET", "p", "v"), OK);
    assert.equal(await c.call("TTL", "p"), -1);
    assert.equal(await c.call("EXPIRE", "p", "100", "NX"), 1);
    assert.equal(await c.call("EXPIRE", "p", "50", "GT"), 0);
    assert.equal(await c.call("EXPIRE", "p", "50", "LT"), 1);
    assert.equal(await c.call("PERSIST", "p"), 1);
    assert.equal(await c.call("TTL", "p"), -1);
    assert.equal(await c.call("EXPIRE", "none", "10"), 0);
    assert.equal(await c.call("EXPIRE", "p", "-1"), 1, "a past time deletes the key");
    assert.equal(await c.call("EXISTS", "p"), 0);
    // SET without KEEPTTL clears the time to live; INCR keeps it.
    assert.deepEqual(await c.call("SET", "k", "1"), OK);
    assert.equal(await c.call("TTL", "k"), -1);
    assert.deepEqual(await c.call("SET", "k", "1", "EX", "100"), OK);
    assert.equal(await c.call("INCR", "k"), 2);
    assert.ok(((await c.call("TTL", "k")) as number) > 0);
    assert.deepEqual(await c.call("SET", "k", "3", "KEEPTTL"), OK);
    assert.ok(((await c.call("TTL", "k")) as number) > 0);

    // Lazy: the key is gone as soon as its time has passed, when touched.
    assert.deepEqual(await c.call("SET", "short", "v", "PX", "30"), OK);
    await sleep(60);
    assert.equal(await c.call("GET", "short"), null);

    // Active: 500 keys nobody touches again leave DBSIZE by the sweep alone.
    assert.deepEqual(await c.call("FLUSHALL"), OK);
    let batch = "";
    // 1 s to live: a loaded machine may stall for a while between the SETs and the DBSIZE.
    for (let i = 0; i < 500; i++) batch += encode(["SET", `t${i}`, "v", "PX", "1000"]);
    await c.send(batch);
    for (let i = 0; i < 500; i++) assert.deepEqual(await c.reply(), OK);
    assert.equal(await c.call("DBSIZE"), 500);
    for (let i = 0; i < 200 && (await c.call("DBSIZE")) !== 0; i++) await sleep(50);
    assert.equal(await c.call("DBSIZE"), 0, "the sweep did not delete the expired keys");
  });
});

Deno.test("resp_server: pipelined and inline requests are answered in order", async () => {
  await withServer([], async (c) => {
    // 2,000 requests in one write, arriving in whatever pieces TCP makes.
    let batch = "";
    for (let i = 0; i < 1000; i++) {
      batch += encode(["SET", `k${i}`, String(i)]) + encode(["INCR", `k${i}`]);
    }
    await c.send(batch);
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(await c.reply(), OK);
      assert.equal(await c.reply(), i + 1);
    }
    // A request split at every byte.
    const one = latin1(encode(["SET", "split", "value"]));
    for (let i = 0; i < one.length; i++) await c.send(one.subarray(i, i + 1));
    assert.deepEqual(await c.reply(), OK);
    // Inline, as telnet sends it; quotes and escapes as in Redis; blank lines ignored.
    await c.send('PING\r\n\r\nSET "a key" "x\\x41\\n"\r\nGET \'a key\'\nEXISTS split "a key"\r\n');
    assert.deepEqual(await c.reply(), new Simple("PONG"));
    assert.deepEqual(await c.reply(), OK);
    assert.deepEqual(await c.reply(), "xA\n");
    assert.equal(await c.reply(), 2);
    // Inline and multibulk mixed in one write; *0 is ignored.
    await c.send(`*0\r\nECHO one\r\n${encode(["ECHO", "two"])}ECHO three\r\n`);
    assert.deepEqual([await c.reply(), await c.reply(), await c.reply()], ["one", "two", "three"]);
  });
});

Deno.test("resp_server: keys and values are binary safe", async () => {
  await withServer([], async (c) => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(await c.call("SET", all, all + all), OK);
    assert.equal(await c.call("GET", all), all + all);
    assert.deepEqual(await c.call("KEYS", "*"), [all]);
    const big = "x".repeat(3 * 2 ** 20);
    assert.deepEqual(await c.call("SET", "big", big), OK);
    assert.equal(await c.call("GET", "big"), big);
  });
});

Deno.test("resp_server: malformed requests get a protocol error and a close; others keep being served", async () => {
  await withServer(["--max-bulk", "1000", "--max-args", "100"], async (good, server) => {
    const cases: [string, string][] = [
      ["*1\r\n$1001\r\n", "ERR Protocol error: invalid bulk length"],
      ["*101\r\n", "ERR Protocol error: invalid multibulk length"],
      ["*x\r\n", "ERR Protocol error: invalid multibulk length"],
      ["*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length"],
      ["*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"],
      ["*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"],
      ["*1\r\n$" + "1".repeat(40), "ERR Protocol error: invalid bulk length"],
      ["*" + "1".repeat(40), "ERR Protocol error: invalid multibulk length"],
      ['SET "unbalanced\r\n', "ERR Protocol error: unbalanced quotes in request"],
      ["x".repeat(70_000), "ERR Protocol error: too big inline request"],
    ];
    await allSettled(cases.map(async ([bytes, error]) => {
      using bad = await Client.connect(server.port);
      await bad.send(bytes);
      assert.deepEqual(await bad.reply(), new Err(error), JSON.stringify(bytes.slice(0, 40)));
      await bad.closed();
    }));
    // A request of 100 arguments of 1000 bytes is within the bounds.
    const args = ["MSET"];
    for (let i = 0; i < 49; i++) args.push(`k${i}`, "v".repeat(1000));
    assert.deepEqual(await good.call(...args.slice(0, 99)), OK);
    assert.deepEqual(await good.call("PING"), new Simple("PONG"));
  });
});

Deno.test("resp_server: memory stays bounded against clients that send much and read nothing", async () => {
  await withServer(
    ["--max-output", String(2 * 2 ** 20), "--max-memory", String(4.5 * 2 ** 20)],
    async (c, server) => {
      // Data past --max-memory is refused.
      assert.deepEqual(await c.call("SET", "v", "x".repeat(2 ** 20)), OK);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(
          await c.call("SET", `w${i}`, "x".repeat(2 ** 20)),
          OK,
        );
      }
      assert.deepEqual(
        await c.call("SET", "w3", "x".repeat(2 ** 20)),
        new Err("OOM command not allowed when used memory > 'maxmemory'."),
      );
      assert.deepEqual(await c.call("DEL", "w0", "w1", "w2"), 3);

      // One reply past --max-output closes that connection.
      using greedy = await Client.connect(server.port);
      await greedy.send(encode(["MGET", "v", "v", "v"]));
      await greedy.closed();

      // A client that pipelines replies worth far more than --max-output, and
      // reads them, gets them all: parsing pauses while replies wait.
      using reader = await Client.connect(server.port);
      await reader.send(encode(["GET", "v"]).repeat(64));
      for (let i = 0; i < 64; i++) assert.equal(((await reader.reply()) as string).length, 2 ** 20);

      // A client that pipelines GETs of 1 MiB and never reads: the server stops
      // reading it (TCP pushes back), its memory stays put, others are served.
      const before = server.memory();
      using stalled = await Client.connect(server.port);
      const request = latin1(encode(["GET", "v"]).repeat(1000));
      const sending = (async () => {
        try {
          for (let i = 0; i < 200; i++) await stalled.send(request); // 200,000 GETs: 200 GB of replies
        } catch {
          // closed by the test
        }
      })();
      await sleep(1000);
      assert.deepEqual(await c.call("PING"), new Simple("PONG"));
      const after = server.memory();
      assert.ok(
        after.rss - before.rss < 64 * 2 ** 20,
        `server RSS grew ${((after.rss - before.rss) / 2 ** 20).toFixed(0)} MiB`,
      );
      stalled.conn.close();
      await sending;
    },
  );
});
