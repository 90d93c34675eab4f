/**
 * The client benchmark's HTTP part (bench/clients/run.ts): the HTTP
 * example, `Deno.serve` and Node's `http` under `wrk` and `h2load --h1`.
 *
 * @module
 */

import { type Results, run, type Server, start } from "./_harness.ts";

/** The servers, the example first (the table's ratios are to it). */
export const HTTP_SERVERS: Server[] = [
  {
    name: "http_server (example)",
    command: (
      p,
    ) => [Deno.execPath(), "run", "--allow-net", "examples/http_server.ts", "--port", String(p)],
  },
  {
    name: "Deno.serve",
    command: (
      p,
    ) => [
      Deno.execPath(),
      "run",
      "--allow-net",
      "bench/clients/deno_serve.ts",
      "--port",
      String(p),
    ],
  },
  {
    name: "Node http",
    command: (p) => ["node", "bench/clients/node_http.mjs", "--port", String(p)],
  },
];

/** wrk's "Requests/sec" and its latency percentiles (ms); errors as failures. */
function parseWrk(out: string): { rps: number; p50: number; p99: number; errors: string | null } {
  const ms = (label: string) => {
    const m = out.match(new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)$`, "m"));
    if (!m) return NaN;
    return Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3 } as Record<string, number>)[m[2]];
  };
  const errors = out.match(/Socket errors:.*|Non-2xx or 3xx responses: \d+/g);
  return {
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    p50: ms("50"),
    p99: ms("99"),
    errors: errors ? errors.join("; ") : null,
  };
}

/** One round: `wrk` for `seconds`, then `h2load` with 3x `requests`, against each server of `order`. */
export async function http(
  round: number,
  order: Server[],
  opts: { seconds: number; requests: number },
  out: Results,
): Promise<void> {
  const url = (port: number) => `http://127.0.0.1:${port}/`;
  for (const server of order) {
    const s = await start(server);
    try {
      await run(["wrk", "-t2", "-c100", "-d1s", url(s.port)]); // warm-up
      const w = await run(["wrk", "-t2", "-c100", `-d${opts.seconds}s`, "--latency", url(s.port)]);
      const wrk = parseWrk(w.out);
      if (w.code !== 0 || wrk.errors !== null || !(wrk.rps > 0)) {
        out.failures.push(`${server.name} wrk: ${wrk.errors ?? w.err.trim()}`);
      } else {out.samples.push({
          load: "wrk -t2 -c100",
          server: server.name,
          round,
          rps: wrk.rps,
          p50: wrk.p50,
          p99: wrk.p99,
        });}
      const h = await run([
        "h2load",
        "--h1",
        "-n",
        String(3 * opts.requests),
        "-c",
        "100",
        "-t",
        "2",
        url(s.port),
      ]);
      const done = h.out.match(
        /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/,
      );
      const rps = Number(h.out.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/)?.[1]);
      if (
        h.code !== 0 || !done || done[2] !== String(3 * opts.requests) || done[3] !== "0" ||
        done[4] !== "0"
      ) {
        out.failures.push(`${server.name} h2load: ${done?.[0] ?? h.out.trim().split("\n").at(-1)}`);
      } else out.samples.push({ load: "h2load --h1 -c100", server: server.name, round, rps });
    } finally {
      await s.stop();
    }
  }
}
