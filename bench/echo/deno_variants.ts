/**
 * Raw Deno echo servers without this library, for the experiments that
 * show what bounds the echo results (see bench/README.md): fairness at many
 * busy connections, and the memory floor of idle connections.
 *
 * ```sh
 * deno run -A bench/echo/deno_variants.ts --port 9000 [--mode await|read-ahead|fire-and-forget] [--buffer 65536]
 * ```
 *
 * - `await`: the idiomatic loop, `await read` then `await write`.
 * - `read-ahead`: the next read is in flight before the write, as this
 *   library's read pump does (two buffers, swapped).
 * - `fire-and-forget`: writes are not awaited.
 *
 * `--buffer` sizes each connection's read buffer: under 64 bytes V8 keeps it
 * on its heap, which changes the idle memory per connection.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "9000" },
    mode: { type: "string", default: "await" },
    buffer: { type: "string", default: "65536" },
  },
});
const size = Number(values.buffer);
const mode = values.mode!;
if (!["await", "read-ahead", "fire-and-forget"].includes(mode)) {
  throw new TypeError(`Cannot use mode "${mode}": expected await, read-ahead or fire-and-forget`);
}

const listener = Deno.listen({
  hostname: values.host,
  port: Number(values.port),
  tcpBacklog: 4096,
});
console.log(`deno_variants (${mode}, ${size} B) listening on ${values.host}:${values.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  let a = new Uint8Array(size);
  try {
    if (mode === "read-ahead") {
      let b = new Uint8Array(size);
      let pending = conn.read(a);
      for (;;) {
        const n = await pending;
        if (n === null) break;
        const full = a;
        [a, b] = [b, full];
        pending = conn.read(a);
        await conn.write(full.subarray(0, n));
      }
    } else {
      for (;;) {
        const n = await conn.read(a);
        if (n === null) break;
        if (mode === "await") {
          for (let off = 0; off < n;) off += await conn.write(a.subarray(off, n));
        } else {
          conn.write(a.slice(0, n)).catch(() => {});
        }
      }
    }
  } catch {
    // reset by the peer: the connection is done
  }
  conn.close();
}

for await (const conn of listener) serve(conn);
