/**
 * What a connection costs a Deno-backend server before it reads from it:
 * the listener's process RSS before and after `--conns` clients connect and
 * are accepted (held, never read), divided by their number. The listener
 * queues at most 64 connections for `accept` (`ACCEPT_BURST`,
 * net/deno/_listen_channel.ts; the kernel's backlog holds the rest, outside
 * the process), each costing about what an accepted one does, so this also
 * bounds the accept queue's memory under a connection flood.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/queued_memory.ts [--conns 4000]
 * ```
 *
 * The listener runs in a child process (this script with `--child`), so
 * that the clients' memory is not counted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  accept,
  AF_INET,
  bind,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  getsockname,
  listen,
  SOCK_STREAM,
  type SockAddr,
  socket,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { conns: { type: "string", default: "4000" }, child: { type: "boolean" } },
});
const rssKb = (pid: number | "self") =>
  Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+)/m)![1]);

if (values.child) {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  bind(fd, { family: AF_INET, address: "127.0.0.1", port: 0 });
  listen(fd, 4096);
  const addr = {} as SockAddr & { port: number };
  getsockname(fd, addr);
  console.log(addr.port);
  // Accepts every connection and holds it, never reading; killed by the parent.
  const ep = epollCreate1(0);
  epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 0 });
  const held: number[] = [];
  const events: EpollEvent[] = [];
  for (;;) {
    await epollWait(ep, events, 1, -1);
    for (let c = accept(fd); c >= 0; c = accept(fd)) held.push(c);
  }
}

const N = Number(values.conns);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL(import.meta.url).pathname, "--child"],
  stdout: "piped",
}).spawn();
const reader = child.stdout.getReader();
const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
await new Promise((r) => setTimeout(r, 500));
const before = rssKb(child.pid);
const conns: Deno.Conn[] = [];
for (let i = 0; i < N; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
await new Promise((r) => setTimeout(r, 2000)); // the child accepts them
const after = rssKb(child.pid);
for (const c of conns) c.close();
child.kill("SIGKILL");
await child.status;
reader.releaseLock();
console.log(
  `${N} connections accepted, not read: RSS ${before} -> ${after} KiB, ${
    ((after - before) * 1024 / N).toFixed(0)
  } bytes each (machine may be shared; one run)`,
);
