/**
 * Every example server stops gracefully on SIGTERM (SIGINT too): clients in
 * a request/reply loop load it, the test sends the signal, and then
 *
 * - the server exits 0 with its `stopped` line;
 * - no client saw a partial reply: each connection ends with whole replies
 *   then EOF (or a reset before any byte of a reply: a request never read);
 * - nothing the server accepted was lost: the requests it read (its bytes
 *   in, in whole requests) got their replies (its bytes out), and the
 *   clients received exactly the bytes it wrote, with 0 unsent.
 */

import assert from "node:assert/strict";
import { RunningExample, UdpClient } from "./_examples.ts";

const enc = new TextEncoder();

/** A protocol as the load sees it: one fixed-size request, and the size of a whole reply. */
interface Protocol {
  request: Uint8Array;
  /** Bytes of the first whole reply at the start of `buf`, or 0 while incomplete. */
  reply(buf: Uint8Array): number;
}

const echo = (text: string): Protocol => ({
  request: enc.encode(text),
  reply: (buf) => (buf.length >= text.length ? text.length : 0),
});

const http: Protocol = {
  request: enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
  reply(buf) {
    const text = new TextDecoder().decode(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) return 0;
    const length = Number(text.slice(0, end).match(/\r\ncontent-length: *(\d+)/i)![1]);
    return buf.length >= end + 4 + length ? end + 4 + length : 0;
  },
};

const resp: Protocol = {
  request: enc.encode("*1\r\n$4\r\nPING\r\n"),
  reply: (buf) => (buf.length >= 7 ? 7 : 0), // +PONG\r\n
};

/** What one client connection saw. */
interface Seen {
  replies: number;
  bytes: number;
  partial: boolean;
}

/**
 * Request, whole reply, repeat, until the server ends the connection. With
 * `relay` (the chat server) the request goes out on a second connection and
 * the reply is the line relayed to this one.
 */
async function client(
  port: number,
  p: Protocol,
  replies: { n: number },
  relay = false,
): Promise<Seen> {
  const seen: Seen = { replies: 0, bytes: 0, partial: false };
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const sender = relay ? await Deno.connect({ hostname: "127.0.0.1", port }) : conn;
  const buf = new Uint8Array(65536);
  let have = 0;
  try {
    for (;;) {
      await sender.write(p.request);
      let size = 0;
      while ((size = p.reply(buf.subarray(0, have))) === 0) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) {
          seen.partial = have > 0;
          return seen;
        }
        have += n;
        seen.bytes += n;
      }
      buf.copyWithin(0, size, have);
      have -= size;
      seen.replies++;
      replies.n++;
    }
  } catch {
    seen.partial = have > 0; // a reset: only a problem if a reply had begun
    return seen;
  } finally {
    conn.close();
    if (relay) sender.close();
  }
}

/** Runs the load against `script`, signals it mid-way, checks the accounting. */
async function stopUnderLoad(
  script: string,
  p: Protocol,
  replySize: number,
  signal: Deno.Signal = "SIGTERM",
  clients = 8,
  relay = false,
): Promise<void> {
  const server = await RunningExample.start(script, ["--port", "0", "--drain-timeout", "5"], [
    "-A",
  ]);
  try {
    const replies = { n: 0 };
    const load = Array.from({ length: clients }, () => client(server.port, p, replies, relay));
    while (replies.n < 200) await new Promise((r) => setTimeout(r, 10));
    server.child.kill(signal);
    const seen = await Promise.all(load);
    const status = await server.child.status;
    await Promise.allSettled([server.stdout.done, server.stderr.done]);
    assert.equal(status.code, 0, server.stderr.text);
    const m = server.stdout.text.match(
      new RegExp(
        `: ${signal}: stopped; (\\d+) connections finished, (\\d+) cut at the drain timeout; (\\d+) bytes in, (\\d+) bytes out \\((\\d+) unsent\\)\\n$`,
      ),
    );
    assert.ok(m, server.stdout.text);
    const [finished, cut, bytesIn, bytesOut, unsent] = m.slice(1).map(Number);
    assert.equal(cut, 0, "every client closes after the EOF: none waits for the timeout");
    assert.equal(finished, relay ? 2 * clients : clients);
    assert.equal(unsent, 0);
    assert.deepEqual(seen.filter((s) => s.partial), [], "no partial reply");
    assert.equal(bytesIn % p.request.length, 0, "requests are read whole");
    const read = bytesIn / p.request.length;
    assert.ok(read >= 200);
    assert.equal(bytesOut, read * replySize, "every request read got its whole reply");
    const received = seen.reduce((a, s) => a + s.bytes, 0);
    assert.equal(received, bytesOut, "the clients got every byte the server wrote");
    assert.equal(seen.reduce((a, s) => a + s.replies, 0), read);
  } finally {
    await server.stop();
  }
}

/** The size of the HTTP example's reply to the load's request (its Date has a fixed width). */
async function httpReplySize(): Promise<number> {
  await using server = await RunningExample.start("http_server.ts", ["--port", "0"], ["-A"]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(http.request);
  const buf = new Uint8Array(4096);
  let have = 0;
  while (http.reply(buf.subarray(0, have)) === 0) have += (await conn.read(buf.subarray(have)))!;
  conn.close();
  return have;
}

for (const script of ["echo_server.ts", "echo_server_et.ts", "kqueue_echo_server.ts"]) {
  Deno.test(`${script} stops on SIGTERM under load: every byte it read is echoed, then EOF, exit 0`, async () => {
    await stopUnderLoad(script, echo("0123456789abcdef\n"), 17);
  });
}

Deno.test("echo_server stops on SIGINT the same way", async () => {
  await stopUnderLoad("echo_server.ts", echo("ping\n"), 5, "SIGINT", 2);
});

Deno.test("http_server stops on SIGTERM under keep-alive load: every request it read is answered whole, exit 0", async () => {
  await stopUnderLoad("http_server.ts", http, await httpReplySize());
});

Deno.test("resp_server stops on SIGTERM under load: every command it read is answered, exit 0", async () => {
  await stopUnderLoad("resp_server.ts", resp, 7);
});

Deno.test("chat_server stops on SIGTERM while relaying: every line it read reaches the other client, exit 0", async () => {
  // One sender and one reader; each line comes back prefixed with the sender's id ("[1] " or "[2] ").
  const line = enc.encode("a line of chat\n");
  const chat: Protocol = {
    request: line,
    reply: (buf) => (buf.length >= line.length + 4 ? line.length + 4 : 0),
  };
  await stopUnderLoad("chat_server.ts", chat, line.length + 4, "SIGTERM", 1, true);
});

Deno.test("a client that neither reads nor closes is cut at --drain-timeout and the server still exits 0", async () => {
  const server = await RunningExample.start(
    "echo_server.ts",
    ["--port", "0", "--drain-timeout", "0.5"],
    ["-A"],
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // Several MiB that are never read back: the echo backs up into the kernel's buffers (and,
    // on the deno backend, the server's pending bytes, which the cut leaves unsent).
    const chunk = new Uint8Array(65536);
    for (let sent = 0; sent < 8 * 2 ** 20;) {
      const n = await Promise.race([
        conn.write(chunk),
        new Promise<number>((r) => setTimeout(() => r(-1), 500)),
      ]);
      if (n < 0) break; // the buffers are full both ways
      sent += n;
    }
    server.child.kill("SIGTERM");
    const status = await server.child.status;
    await Promise.allSettled([server.stdout.done, server.stderr.done]);
    assert.equal(status.code, 0);
    assert.match(
      server.stdout.text,
      /: SIGTERM: stopped; 0 connections finished, 1 cut at the drain timeout; \d+ bytes in, \d+ bytes out \(\d+ unsent\)\n$/,
    );
  } finally {
    conn.close();
    await server.stop();
  }
});

for (const script of ["udp_echo_server.ts", "dns_server.ts"]) {
  Deno.test(`${script} stops on SIGTERM from its own loop (a signalfd): every datagram it read is answered, exit 0`, async () => {
    const server = await RunningExample.start(script, ["--port", "0"], ["-A"]);
    try {
      await using udp = new UdpClient();
      // A DNS query for the built-in zone's apex, or any bytes for the echo server.
      const query = script === "dns_server.ts"
        ? new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1])
        : enc.encode("a datagram before the signal");
      const reply = await udp.exchange(server.port, query);
      assert.ok(reply !== null && reply.length > 0, "served before the signal");
      server.child.kill("SIGTERM");
      const status = await server.child.status;
      await Promise.allSettled([server.stdout.done, server.stderr.done]);
      assert.equal(status.code, 0, server.stderr.text);
      const m = server.stdout.text.match(/: SIGTERM: stopped; (\d+) datagrams in, (\d+) out\n/);
      assert.ok(m, server.stdout.text);
      assert.ok(Number(m[1]) >= 1, "it read the datagram");
      assert.equal(m[2], m[1], "every datagram it read was answered");
    } finally {
      await server.stop();
    }
  });
}
