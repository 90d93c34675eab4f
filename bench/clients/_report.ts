/**
 * The client benchmark's report (bench/clients/run.ts): the tables of
 * medians and ratios, and the machine they were measured on.
 *
 * @module
 */

import { onPath } from "../echo/_procs.ts";
import { median } from "../_rounds.ts";
import { run, type Sample, type Server } from "./_harness.ts";

/**
 * One table: per load, the median req/s of each server (the example's
 * range), the example's ratio to each, and the server CPU per request
 * where measured.
 */
export function table(servers: Server[], samples: Sample[]): string {
  const [mine, ...others] = servers.map((s) => s.name);
  const loads = [...new Set(samples.filter((s) => s.server === mine).map((s) => s.load))];
  const withCpu = samples.some((s) => s.server === mine && s.cpuUs !== undefined);
  const cpuHead = withCpu ? ` | ${servers.map((s) => `${s.name} CPU µs/req`).join(" | ")}` : "";
  const head = `| load | ${servers.map((s) => `${s.name} req/s`).join(" | ")} | ${
    others.map((o) => `vs ${o}`).join(" | ")
  } | ${mine}: rounds${cpuHead} |`;
  const rows = loads.map((load) => {
    const med = (server: string) =>
      median(samples.filter((s) => s.load === load && s.server === server).map((s) => s.rps));
    const m = med(mine);
    const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
    const cells = servers.map((s) => fmt(med(s.name)));
    const rounds = samples.filter((s) => s.load === load && s.server === mine).map((s) =>
      fmt(s.rps)
    );
    const cpu = (server: string) =>
      median(
        samples.filter((s) => s.load === load && s.server === server && s.cpuUs !== undefined)
          .map((s) => s.cpuUs!),
      ).toFixed(2);
    const cpuCells = withCpu ? ` | ${servers.map((s) => cpu(s.name)).join(" | ")}` : "";
    return `| ${load} | ${cells.join(" | ")} | ${
      others.map((o) => `${(m / med(o)).toFixed(2)}x`).join(" | ")
    } | ${rounds.join(", ")}${cpuCells} |`;
  });
  const cols = servers.length * 2 + 1 + (withCpu ? servers.length : 0);
  return [head, `|${" --- |".repeat(cols)}`, ...rows].join("\n");
}

/** The machine, its load, and the versions of the programs compared. */
export async function machine(): Promise<string> {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const cores = navigator.hardwareConcurrency;
  const load = Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
  const version = async (cmd: string[]) => {
    if (!onPath(cmd[0])) return `${cmd[0]} absent`;
    const r = await run(cmd);
    return (r.out + r.err).trim().split("\n")[0];
  };
  return [
    `${cpu}, ${cores} cores, Linux ${Deno.osRelease()}, load average ${load}`,
    `Deno ${Deno.version.deno}; ${await version(["node", "--version"])}; ${await version([
      "redis-server",
      "--version",
    ])}; ${await version(["wrk", "-v"])}; ${await version(["h2load", "--version"])}`,
  ].join("\n");
}
