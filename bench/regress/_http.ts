/**
 * The http part of `bench/regress.ts`: examples/http_server.ts against
 * `Deno.serve` under `wrk`, CPU per request.
 *
 * @module
 */

import { cpuSeconds, freePort, ServerProcess, waitForAccept } from "../echo/_procs.ts";
import { median, ratioInterval } from "../_rounds.ts";
import { DENO, fmt, loadAverage, type Regress } from "./_context.ts";

/** Starts a server, runs wrk against it, returns requests/s and CPU µs per request. */
async function wrkRun(
  ctx: Regress,
  cmd: string[],
  port: number,
): Promise<{ rps: number; us: number } | null> {
  const server = new ServerProcess(cmd);
  try {
    await waitForAccept(port, server.child.status, 15_000);
    const url = `http://127.0.0.1:${port}/`;
    await new Deno.Command("wrk", { args: ["-t2", "-c100", "-d1s", url], stdout: "null" })
      .output();
    const cpu0 = cpuSeconds(server.pid);
    const o = await new Deno.Command("wrk", {
      args: ["-t2", "-c100", `-d${ctx.seconds}s`, url],
      stdout: "piped",
    }).output();
    const cpu = cpuSeconds(server.pid) - cpu0;
    const out = new TextDecoder().decode(o.stdout);
    const reqs = Number(out.match(/(\d+) requests in/)?.[1]);
    const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
    if (!(reqs > 0) || /Non-2xx|Socket errors/.test(out)) return null;
    return { rps, us: cpu / reqs * 1e6 };
  } catch {
    return null;
  } finally {
    await server.stop();
  }
}

export async function http(ctx: Regress): Promise<void> {
  const servers: [string, (p: number) => string[]][] = [
    [
      "http_server (example)",
      (p) => [DENO, "run", "-A", "examples/http_server.ts", "--port", `${p}`],
    ],
    ["Deno.serve", (p) => [DENO, "run", "-A", "bench/clients/deno_serve.ts", "--port", `${p}`]],
  ];
  const us = new Map<string, number[]>(servers.map(([n]) => [n, []]));
  const rps = new Map<string, number[]>(servers.map(([n]) => [n, []]));
  const ratios: number[] = [];
  const load0 = loadAverage();
  for (let round = 0; round < ctx.rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    const per: Record<string, number> = {};
    for (const [name, cmd] of order) {
      const port = freePort();
      const r = await wrkRun(ctx, cmd(port), port);
      if (r === null) {
        console.error(`  http ${name} round ${round}: failed`);
        continue;
      }
      per[name] = r.us;
      us.get(name)!.push(r.us);
      rps.get(name)!.push(r.rps);
    }
    const [a, b] = [per[servers[0][0]], per[servers[1][0]]];
    if (a !== undefined && b !== undefined) ratios.push(a / b);
    console.error(`round ${round} http: ${fmt(a ?? NaN, 2)} vs ${fmt(b ?? NaN, 2)} µs/request`);
  }
  ctx.say(
    `\nHTTP under wrk -t2 -c100, ${ctx.rounds} alternating rounds of ${ctx.seconds} s; load average ${load0} before, ${loadAverage()} after`,
  );
  ctx.say("");
  ctx.say("| server | requests/s (median) | CPU µs/request (median) |");
  ctx.say("| --- | ---: | ---: |");
  for (const [name] of servers) {
    ctx.say(`| ${name} | ${fmt(median(rps.get(name)!), 0)} | ${fmt(median(us.get(name)!), 2)} |`);
  }
  if (ratios.length > 0) {
    ctx.say(
      `\nexample / Deno.serve CPU per request: median ${fmt(median(ratios))} (95 % interval ${
        ratioInterval(ratios)
      }, range ${fmt(Math.min(...ratios))}-${fmt(Math.max(...ratios))}, ${ratios.length} rounds)`,
    );
  }
}
