/**
 * The RESP example's own work per request, without sockets: a batch of 16
 * identical requests (what `redis-benchmark -P 16` sends) parsed and
 * executed in a loop, as examples/resp_server.ts does after each read.
 * Prints the wall time per request of the JavaScript alone.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/resp_commands_bench.ts [ping|set|get|incr|mset] [--batches 100000]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ProtocolError, ReplyWriter, RequestParser } from "../examples/_resp_protocol.ts";
import { execute, type Session } from "../examples/_resp_commands.ts";
import { Keyspace } from "../examples/_resp_keyspace.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { batches: { type: "string", default: "100000" } },
  allowPositionals: true,
});
const cmd = (...a: string[]) =>
  `*${a.length}\r\n` + a.map((x) => `$${x.length}\r\n${x}\r\n`).join("");
const KINDS: Record<string, string> = {
  ping: cmd("PING"),
  set: cmd("SET", "key:__rand_int__", "xxx"),
  get: cmd("GET", "key:__rand_int__"),
  incr: cmd("INCR", "counter:__rand_int__"),
  mset: cmd("MSET", ...Array.from({ length: 10 }, () => ["key:{tag}:__rand_int__", "xxx"]).flat()),
};
const PIPELINE = 16;
const BATCHES = Number(values.batches);

for (const kind of positionals.length > 0 ? positionals : Object.keys(KINDS)) {
  const batch = new TextEncoder().encode(KINDS[kind].repeat(PIPELINE));
  const parser = new RequestParser({ maxArgs: 1024, maxBulk: 1 << 20, maxQuery: 1 << 26 });
  const out = new ReplyWriter();
  const session: Session = { db: new Keyspace(0), quit: false, now: 0 };
  const start = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    parser.space(batch.length).set(batch);
    parser.commit(batch.length);
    out.reset();
    session.now = performance.now();
    for (;;) {
      const req = parser.next();
      if (req === null) break;
      if (req instanceof ProtocolError) throw new Error(req.message);
      execute(req, out, session);
    }
  }
  const us = (performance.now() - start) * 1000 / (BATCHES * PIPELINE);
  console.log(`${kind}: ${us.toFixed(3)} µs per request (JavaScript only; a shared machine)`);
}
