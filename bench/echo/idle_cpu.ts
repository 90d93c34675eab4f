/**
 * Server CPU at rest: starts each echo server, opens one connection, echoes
 * one message (so a server that spins after activity has just been active),
 * then leaves the connection idle and reads the server's CPU time from
 * /proc over a window. A server that busy-waits at rest shows up here.
 *
 *   deno run -A bench/echo/idle_cpu.ts [--seconds 3] [--servers nlt,net,lt,raw,c]
 *
 * Prints one Markdown table to stdout: CPU as a fraction of one core.
 *
 * @module
 */

import { buildLoadgen, freePort, ServerProcess, sleep } from "./_procs.ts";
import { SERVERS } from "./_scenarios.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const seconds = Number(flag("--seconds", "3"));
const wanted = flag("--servers", "nlt,net,lt,et,raw,c").split(",");
const ticks = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime
}

async function connectWithRetry(port: number): Promise<Deno.Conn> {
  for (let i = 0; i < 200; i++) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`no server on port ${port}`);
}

await buildLoadgen();
const rows: string[] = [];
for (const def of SERVERS.filter((s) => wanted.includes(s.key))) {
  const port = freePort();
  const srv = new ServerProcess(def.cmd(port));
  try {
    const conn = await connectWithRetry(port);
    try {
      const msg = new Uint8Array(64).fill(7);
      await conn.write(msg);
      for (let got = 0; got < msg.length;) {
        const n = await conn.read(new Uint8Array(64));
        if (n === null) throw new Error("closed");
        got += n;
      }
      await sleep(100);
      const before = cpuSeconds(srv.pid);
      await sleep(seconds * 1000);
      const used = (cpuSeconds(srv.pid) - before) / seconds;
      rows.push(`| ${def.name} | ${used.toFixed(3)} |`);
      console.error(`${def.name}: ${used.toFixed(3)} cores at rest`);
    } finally {
      conn.close();
    }
  } finally {
    await srv.stop();
  }
}
console.log(
  [`CPU at rest, one idle connection, ${seconds} s window`, "", "| server | cores |"]
    .concat("| --- | ---: |", rows).join("\n"),
);
