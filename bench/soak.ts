/**
 * Soak test of the epoll echo server.
 *
 * ```sh
 * deno run -A bench/soak.ts [--seconds 60] [--conns 1000]
 * ```
 *
 * Starts `examples/echo_server.ts` as a subprocess on port 0, drives it with
 * `--conns` plain `Deno.connect` clients in this process (each sends
 * messages of varying size, 1 B to 16 KiB, and checks every echoed byte),
 * prints a line every 10 s (elapsed, messages, errors, the server's VmRSS),
 * and ends with a JSON summary and a verdict: no errors, and the server's
 * RSS at the end within ±10% of its value after the 10 s warm-up. Exits 1
 * on failure.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    conns: { type: "string", default: "1000" },
  },
});
const SECONDS = Number(values.seconds);
const CONNS = Number(values.conns);
if (!(SECONDS >= 1) || !Number.isInteger(CONNS) || CONNS < 1) {
  throw new TypeError("--seconds must be >= 1 and --conns a positive integer");
}
const INTERVAL_S = 10;
const WARMUP_S = Math.min(10, SECONDS);
const MAX_MSG = 16384;
const RSS_TOLERANCE = 0.10;

/** Random bytes that messages are cut from (any offset, any length). */
const SOURCE = new Uint8Array(MAX_MSG * 4);
crypto.getRandomValues(SOURCE.subarray(0, 65536));
for (let i = 65536; i < SOURCE.length; i += 65536) SOURCE.copyWithin(i, 0, 65536);

/** A small deterministic PRNG (xorshift32) per client. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

// --- the server -------------------------------------------------------------

const serverPath = new URL("../examples/echo_server.ts", import.meta.url).pathname;
const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", serverPath, "--host", "127.0.0.1", "--port", "0"],
  stdin: "null",
  stdout: "piped",
  stderr: "inherit",
}).spawn();

/** Reads the server's stdout; resolves with the port from its first line. */
const port = await new Promise<number>((resolve, reject) => {
  const decoder = new TextDecoder();
  let text = "";
  let found = false;
  (async () => {
    for await (const chunk of server.stdout) {
      if (found) continue; // keep draining
      text += decoder.decode(chunk, { stream: true });
      const m = text.match(/listening on .*:(\d+)/);
      if (m) {
        found = true;
        resolve(Number(m[1]));
      }
    }
    if (!found) reject(new Error(`echo_server exited before listening: ${text}`));
  })().catch(reject);
});

function serverRss(): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${server.pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

// --- the clients ------------------------------------------------------------

let messages = 0;
let bytes = 0;
let errors = 0;
const errorSamples: string[] = [];
let stopping = false;

function error(id: number, what: unknown): void {
  errors++;
  if (errorSamples.length < 10) errorSamples.push(`client ${id}: ${String(what)}`);
}

async function readExactly(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  for (let got = 0; got < buf.length;) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error(`EOF after ${got} of ${buf.length} bytes`);
    got += n;
  }
}

async function client(id: number): Promise<void> {
  const rand = rng(0x9e3779b9 ^ (id * 2654435761));
  const echo = new Uint8Array(MAX_MSG);
  while (!stopping) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (e) {
      error(id, e);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      while (!stopping) {
        // Mostly small messages, some large ones.
        const len = rand() < 0.9 ? 1 + Math.floor(rand() * 512) : 1 + Math.floor(rand() * MAX_MSG);
        const off = Math.floor(rand() * (SOURCE.length - len));
        const msg = SOURCE.subarray(off, off + len);
        for (let sent = 0; sent < len;) sent += await conn.write(msg.subarray(sent));
        const got = echo.subarray(0, len);
        await readExactly(conn, got);
        for (let i = 0; i < len; i++) {
          if (got[i] !== msg[i]) throw new Error(`byte ${i} of ${len}: ${got[i]} != ${msg[i]}`);
        }
        messages++;
        bytes += len;
        // Pace each connection a little: many idle-ish connections, as in real life.
        if (rand() < 0.5) await new Promise((r) => setTimeout(r, Math.floor(rand() * 20)));
      }
    } catch (e) {
      if (!stopping) error(id, e);
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
}

// --- the run ----------------------------------------------------------------

const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const clients: Promise<void>[] = [];
// Open the connections in batches, so that the start is not a SYN flood.
for (let i = 0; i < CONNS; i++) {
  clients.push(client(i));
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
}

interface Sample {
  t: number;
  messages: number;
  errors: number;
  rss: number;
}
const samples: Sample[] = [];
const mib = (n: number) => (n / 2 ** 20).toFixed(1);

// A line every 10 s (and one at the end when --seconds is not a multiple).
let lastMessages = 0;
let lastT = 0;
while (elapsed() < SECONDS - 0.05) {
  const next = Math.min(SECONDS, (Math.floor(elapsed() / INTERVAL_S + 1e-6) + 1) * INTERVAL_S);
  await new Promise((r) => setTimeout(r, Math.max(0, (next - elapsed()) * 1000)));
  const t = elapsed();
  const rss = serverRss();
  samples.push({ t: Math.round(t), messages, errors, rss });
  console.log(
    `t=${String(Math.round(t)).padStart(4)}s messages=${messages} (+${
      ((messages - lastMessages) / (t - lastT)).toFixed(0)
    }/s) errors=${errors} server_rss=${mib(rss)} MiB`,
  );
  lastMessages = messages;
  lastT = t;
}

stopping = true;
await Promise.all(clients);
const finalRss = serverRss();
server.kill("SIGTERM");
const status = await server.status;

const warm = samples.find((s) => s.t >= WARMUP_S)?.rss ?? NaN;
const after = samples.filter((s) => s.t >= WARMUP_S).map((s) => s.rss);
const drift = (finalRss - warm) / warm;
const maxDrift = Math.max(...after.map((r) => Math.abs(r - warm) / warm));
const rssOk = Number.isFinite(drift) && Math.abs(drift) <= RSS_TOLERANCE;
const pass = errors === 0 && rssOk && messages > 0;
const summary = {
  seconds: SECONDS,
  conns: CONNS,
  messages,
  bytes,
  messagesPerSecond: Math.round(messages / elapsed()),
  errors,
  errorSamples,
  serverRssWarmup: warm,
  serverRssFinal: finalRss,
  rssDrift: Number(drift.toFixed(4)),
  rssMaxDriftAfterWarmup: Number(maxDrift.toFixed(4)),
  rssSamples: samples.map((s) => ({ t: s.t, rss: s.rss })),
  serverExit: status.signal ?? status.code,
};
console.log(JSON.stringify(summary, null, 2));
console.log(
  pass
    ? `PASS: ${messages} messages verified, 0 errors, server RSS ${mib(warm)} -> ${
      mib(finalRss)
    } MiB (${(drift * 100).toFixed(1)}%, limit ±${RSS_TOLERANCE * 100}%)`
    : `FAIL: errors=${errors}, server RSS ${mib(warm)} -> ${mib(finalRss)} MiB (${
      (drift * 100).toFixed(1)
    }%, limit ±${RSS_TOLERANCE * 100}%)`,
);
Deno.exit(pass ? 0 : 1);
