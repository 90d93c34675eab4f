/**
 * CPU per echoed message at a fixed offered rate (`bench/regress.ts --parts
 * paced`): every client sends at a pace, so both versions under comparison
 * see the same arrivals, whatever their speed.
 *
 * The echo part's load is a closed loop: each connection sends its next
 * message as soon as the last one is back, so the server is saturated, and
 * how many messages each wake-up, read and Deno poll carries is set by the
 * race between the server and its load, which moves from run to run (the
 * same server's CPU per message went from 15 to 30 µs between rounds at
 * 1,000 connections). Here the load is paced below saturation
 * (tests/_reset_flood.c with no attack: `conns` clients, each one 1 KiB
 * message in flight, at most `pace` a second), the figure is the server's
 * main-thread CPU (`/proc/PID/schedstat`, sampled by the driver) over the
 * messages echoed, in every second but the first (the connects).
 *
 * @module
 */

import { type FloodResult, runFlood } from "../tests/_reset_flood.ts";
import { freePort, ServerProcess, waitForAccept } from "./echo/_procs.ts";

/** One paced scenario. */
export interface PacedScenario {
  key: string;
  title: string;
  conns: number;
  /** Messages a second each connection sends. */
  pace: number;
}

/** The paced scenarios: 100 and 1,000 connections at about a third of saturation. */
export const PACED_SCENARIOS: PacedScenario[] = [
  { key: "100conns", title: "100 conns x 200/s, 1 KiB", conns: 100, pace: 200 },
  { key: "1000conns", title: "1000 conns x 20/s, 1 KiB", conns: 1000, pace: 20 },
];

/** One paced run's figure: main-thread CPU µs per echoed message, and messages a second. */
export interface PacedFigure {
  us: number;
  rate: number;
}

/**
 * Runs `cmd(port)` (an echo server) under scenario `sc` for `seconds` with
 * the flood driver built at `bin`; returns the server's main-thread CPU µs
 * per echoed message and the messages a second, or null when it failed.
 */
export async function pacedRun(
  bin: string,
  cmd: (port: number) => string[],
  sc: PacedScenario,
  seconds: number,
): Promise<PacedFigure | null> {
  return (await pacedTogether(bin, [cmd], sc, seconds))[0];
}

/**
 * Runs every server of `cmds` at once, each under its own flood driver
 * (scenario `sc`, `seconds`), the drivers started together: each server's
 * figure as {@linkcode pacedRun}'s, in the order of `cmds` (null for one
 * that failed). Servers measured side by side share whatever the machine
 * does meanwhile (a neighbour's burst, a frequency change), which is what
 * moves a figure most between runs taken one after the other here.
 */
export async function pacedTogether(
  bin: string,
  cmds: ((port: number) => string[])[],
  sc: PacedScenario,
  seconds: number,
): Promise<(PacedFigure | null)[]> {
  const servers: { port: number; server: ServerProcess }[] = [];
  try {
    for (const cmd of cmds) {
      const port = freePort();
      servers.push({ port, server: new ServerProcess(cmd(port)) });
    }
    for (const { port, server } of servers) {
      await waitForAccept(port, server.child.status, 30_000);
    }
    return await Promise.all(servers.map(async ({ port, server }) => {
      try {
        const r = await runFlood(bin, port, {
          good: sc.conns,
          before: seconds + 1,
          attack: 0,
          after: 0,
          rate: 0,
          pace: sc.pace,
          serverPid: server.pid,
        });
        return figureOf(r);
      } catch {
        return null;
      }
    }));
  } catch {
    return cmds.map(() => null);
  } finally {
    await Promise.all(servers.map(({ server }) => server.stop()));
  }
}

/** CPU per message and rate over every second of a paced run but the first (the connects). */
function figureOf(r: FloodResult): PacedFigure | null {
  if (r.lost.length > 0) return null;
  let cpuMs = 0;
  let msgs = 0;
  for (let s = 1; s < r.before; s++) {
    cpuMs += r.server_cpu_ms[s];
    msgs += r.seconds[s].reduce((a, b) => a + b, 0);
  }
  return msgs > 0 ? { us: cpuMs * 1000 / msgs, rate: msgs / (r.before - 1) } : null;
}
