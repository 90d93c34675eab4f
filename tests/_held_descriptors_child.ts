/**
 * Child process for accept_queue_test.ts: counts the OS descriptors a
 * listener holds while the descriptor table is nearly full. It runs alone in
 * its process, so /proc/self/fd holds only its own descriptors (`deno test
 * --parallel` runs test files as threads of one process).
 *
 * Prints one JSON line: `{ clients, free, held }`, where `held` is the
 * process's descriptors of TCP connections accepted on the listener's port.
 * Counted by identity, not as all descriptors less a baseline: the runtime
 * opens descriptors of its own when it likes (a pair of Unix sockets, now
 * and then, on a loaded machine), which are not the listener's.
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

/** TCP states in /proc/net/tcp: 0A is LISTEN. */
const LISTEN = "0A";

/** The process's descriptors of connections accepted on local `port`. */
function acceptedOn(port: number): number {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(file).split("\n").slice(1)) {
      // sl local_address rem_address st ... inode (the 10th field)
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] === LISTEN) continue;
      if (parseInt(f[1].split(":")[1], 16) === port) inodes.add(f[9]);
    }
  }
  let n = 0;
  for (const { name } of Deno.readDirSync("/proc/self/fd")) {
    try {
      const m = Deno.readLinkSync(`/proc/self/fd/${name}`).match(/^socket:\[(\d+)\]$/);
      if (m && inodes.has(m[1])) n++;
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  return n;
}

const { fd: lfd, addr } = listenLoopback(128);
const ep = epollCreate1(0);
epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: 0 });
if (setDescriptorLimit(descriptors.open + FREE) !== 0) throw new Error("setDescriptorLimit");
const clients: Deno.Conn[] = [];
for (let i = 0; i < CLIENTS; i++) {
  clients.push(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
}
await epollWait(ep, [] as EpollEvent[], 1, 10_000);
await new Promise((resolve) => setTimeout(resolve, 300)); // let the pump take all it may
console.log(
  JSON.stringify({ clients: CLIENTS, free: FREE, held: acceptedOn(addr.port) }),
);
Deno.exit(0);
