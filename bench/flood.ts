/**
 * The full-length reset flood (issue 16, "Under a reset flood") against the
 * echo examples on both backends; tests/hostile_reset_flood_test.ts is its
 * few-second version.
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:flood [--attack 60] [--rate 11000] [--good 50] [--pace 0] [--servers lt,et,nlt,net] [--mode reset]
 * ```
 *
 * With `--mode blast` the attack is instead `--rate` connections sending
 * 64 KiB writes as fast as the server takes them (fast senders;
 * tests/hostile_fast_sender_test.ts is its few-second version), and the
 * attack column counts the 64 KiB units echoed to them.
 *
 * For each server in turn (lt/et: examples/echo_server.ts /
 * echo_server_et.ts on the Deno backend; nlt/net: the same with
 * `--backend native`): `--good` established clients echo 1 KiB messages
 * (each at most `--pace` a second; 0: as fast as answered) for 5 s, then an
 * attacker process opens `--rate` connections a second for `--attack`
 * seconds, each sending 16 bytes and closing with RST, then 5 s more, then a
 * fresh client times its first echo (tests/_reset_flood.c). Reported per
 * server: messages a second before and during the attack, the worst second
 * of the attack in total and of any one client against the rate before it,
 * the share of client-seconds below a quarter of the client's rate before,
 * the seconds in which some client got less than it was owed in proportion
 * to the server's CPU that second (the hostile test's check, `fairness` in
 * tests/_reset_flood.ts),
 * the clients lost, the attack connections made, the server's peak RSS and
 * CPU, the fresh client's wait and the most echoes one established client
 * completed meanwhile. Needs gcc. The machine this runs on may be shared:
 * the figures say how the server divides its CPU, not what a quiet machine
 * would give.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RunningExample } from "../tests/_examples.ts";
import { cpuSeconds } from "./echo/_procs.ts";
import { fairness, type FloodResult, runFlood, withFloodBinary } from "../tests/_reset_flood.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    attack: { type: "string", default: "60" },
    rate: { type: "string", default: "11000" },
    good: { type: "string", default: "50" },
    pace: { type: "string", default: "0" },
    servers: { type: "string", default: "lt,et,nlt,net" },
    mode: { type: "string", default: "reset" },
  },
});

const SERVERS: Record<string, [string, string[]]> = {
  lt: ["echo_server.ts", []],
  et: ["echo_server_et.ts", []],
  nlt: ["echo_server.ts", ["--backend", "native"]],
  net: ["echo_server_et.ts", ["--backend", "native"]],
};
const BEFORE_S = 5;
const AFTER_S = 5;

/** Peak RSS and CPU seconds of a process, sampled every 200 ms. */
function sample(pid: number): { stop(): { peakMb: number; cpuS: number } } {
  const cpu = () => cpuSeconds(pid);
  const rss = () =>
    Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+)/m)![1]) / 1024;
  const cpu0 = cpu();
  let peak = rss();
  const timer = setInterval(() => peak = Math.max(peak, rss()), 200);
  return {
    stop() {
      clearInterval(timer);
      return { peakMb: Math.max(peak, rss()), cpuS: cpu() - cpu0 };
    },
  };
}

function sum(a: number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

/** Messages a second in total over seconds [from, to). */
function rate(r: FloodResult, from: number, to: number): number {
  return sum(r.seconds.slice(from, to).map(sum)) / (to - from);
}

/**
 * Every client's every second during the attack, as a fraction of its own
 * mean rate before it (the first second, with the connects, left out).
 */
function shares(r: FloodResult): number[] {
  const out: number[] = [];
  for (let c = 0; c < r.good; c++) {
    const base = sum(r.seconds.slice(1, r.before).map((s) => s[c])) / (r.before - 1);
    for (let s = r.before; s < r.before + r.attack; s++) out.push(r.seconds[s][c] / base);
  }
  return out;
}

/** The worst second of the attack in total, as a fraction of the mean total before it. */
function worstTotal(r: FloodResult): number {
  const base = rate(r, 1, r.before);
  let w = Infinity;
  for (let s = r.before; s < r.before + r.attack; s++) w = Math.min(w, sum(r.seconds[s]) / base);
  return w;
}

const plan = {
  good: Number(values.good),
  before: BEFORE_S,
  attack: Number(values.attack),
  after: AFTER_S,
  rate: Number(values.rate),
  pace: Number(values.pace),
  mode: values.mode === "blast" ? "blast" as const : "reset" as const,
};
const rows: string[] = [];
const ok = await withFloodBinary(async (bin) => {
  for (const name of values.servers.split(",")) {
    const [script, args] = SERVERS[name];
    const server = await RunningExample.start(script, ["--port", "0", ...args], ["-A"]);
    try {
      const s = sample(server.child.pid);
      const r = await runFlood(bin, server.port, { ...plan, serverPid: server.child.pid });
      const fair = fairness(r);
      const { peakMb, cpuS } = s.stop();
      const row = [
        name,
        rate(r, 1, r.before).toFixed(0),
        rate(r, r.before, r.before + r.attack).toFixed(0),
        worstTotal(r).toFixed(2),
        Math.min(...shares(r)).toFixed(2),
        `${(100 * shares(r).filter((x) => x < 0.25).length / (r.good * r.attack)).toFixed(1)} %`,
        `${fair.starved.length} of ${r.attack} (${fair.excused.length} excused)`,
        `${r.lost.length}/${r.good}`,
        (r.attacks / r.attack).toFixed(0),
        peakMb.toFixed(0),
        cpuS.toFixed(1),
        r.fresh_ms.toFixed(1),
        String(r.fresh_others),
      ];
      rows.push(`| ${row.join(" | ")} |`);
      console.error(JSON.stringify({ name, ...r, seconds: undefined, peakMb, cpuS }));
    } finally {
      await server.stop();
    }
  }
});
if (!ok) {
  console.error("bench:flood needs gcc");
  Deno.exit(1);
}
console.log(
  `${plan.good} clients (pace ${plan.pace || "none"}), ${
    plan.mode === "blast"
      ? `${plan.rate} fast senders (attacks/s: 64 KiB echoed to them a second)`
      : `${plan.rate} resets/s`
  } for ${plan.attack} s`,
);
console.log(
  "| server | msgs/s before | msgs/s attack | worst second / before | worst client-second / before | client-seconds < 1/4 | seconds short of owed (by server CPU) | lost | attacks/s | peak RSS MB | CPU s | fresh ms | echoes meanwhile |",
);
console.log(
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
);
for (const r of rows) console.log(r);
