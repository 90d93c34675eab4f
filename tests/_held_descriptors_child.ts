/**
 * Child process for accept_queue_test.ts: counts the OS descriptors a
 * listener holds while the descriptor table is nearly full. It runs alone in
 * its process, so /proc/self/fd counts only its own descriptors (`deno test
 * --parallel` runs test files as threads of one process).
 *
 * Prints one JSON line: `{ clients, free, held }`, where `held` is the OS
 * descriptors added beyond the clients' own.
 *
 * @module
 */

import {
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  setDescriptorLimit,
} from "../mod.ts";
import { descriptors } from "../runtime/core/fd_table.ts";
import { listenLoopback } from "./_helpers.ts";

const CLIENTS = 40;
const FREE = 5;

function osDescriptors(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

const { fd: lfd, addr } = listenLoopback(128);
const ep = epollCreate1(0);
epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: 0 });
if (setDescriptorLimit(descriptors.open + FREE) !== 0) throw new Error("setDescriptorLimit");
const base = osDescriptors();
const clients: Deno.Conn[] = [];
for (let i = 0; i < CLIENTS; i++) {
  clients.push(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
}
await epollWait(ep, [] as EpollEvent[], 1, 10_000);
await new Promise((resolve) => setTimeout(resolve, 300)); // let the pump take all it may
console.log(
  JSON.stringify({ clients: CLIENTS, free: FREE, held: osDescriptors() - base - CLIENTS }),
);
Deno.exit(0);
