/**
 * Child process for exit_test.ts: a program that leaves sockets open.
 *
 * `deno run -A tests/_open_sockets_child.ts BACKEND MODE`: on `BACKEND`
 * (deno or native) it listens on 127.0.0.1, connects to itself, accepts,
 * writes a few bytes each way, prints `port N`, then:
 * - `return`: returns with the listener, both connected sockets and an
 *   epoll set open (a C program exits here);
 * - `wait`: waits with `epollWait(..., -1)` for one more connection, which
 *   the parent makes after it has seen `port N`, prints `accepted`, and
 *   returns with everything open.
 *
 * With a third argument `kernel` it runs in a `new Kernel()` of its own.
 *
 * @module
 */

import {
  accept,
  AF_INET,
  bind,
  connect,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  getsockname,
  Kernel,
  listen,
  setSocketBackend,
  SOCK_STREAM,
  type SockAddr,
  socket,
  write,
} from "../mod.ts";

/**
 * The program, run from a call that is not awaited at the top level (a
 * pending top-level await alone keeps Deno running, so it would hide what
 * the waits do).
 */
async function main(): Promise<void> {
  const [backend, mode] = Deno.args;
  if (setSocketBackend(backend as "deno" | "native") !== 0) throw new Error(`backend ${backend}`);
  const lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(lfd, { family: AF_INET, address: "127.0.0.1", port: 0 }) !== 0) throw new Error("bind");
  if (listen(lfd, 16) !== 0) throw new Error("listen");
  const addr = {} as SockAddr & { port: number };
  getsockname(lfd, addr);
  const ep = epollCreate1(0);
  epollCtl(ep, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: "listener" });
  const events: EpollEvent[] = [];
  const client = socket(AF_INET, SOCK_STREAM, 0);
  connect(client, { family: AF_INET, address: "127.0.0.1", port: addr.port });
  if (await epollWait(ep, events, 4, -1) !== 1) throw new Error("no connection");
  const server = accept(lfd);
  if (server < 0) throw new Error(`accept: ${server}`);
  const epc = epollCreate1(0);
  epollCtl(epc, EPOLL_CTL_ADD, client, { events: EPOLLIN, data: "client" });
  write(server, new TextEncoder().encode("hello"));
  if (await epollWait(epc, events, 4, -1) !== 1) throw new Error("no data");
  write(client, new TextEncoder().encode("world"));
  console.log(`port ${addr.port}`);
  if (mode === "wait") {
    // A set with the listener alone: ready when the parent connects.
    const ep2 = epollCreate1(0);
    epollCtl(ep2, EPOLL_CTL_ADD, lfd, { events: EPOLLIN, data: "listener" });
    let fd = -1;
    while (fd < 0) {
      await epollWait(ep2, events, 4, -1);
      fd = accept(lfd); // -EAGAIN: a stale level (issue 16, native item 1); wait again
    }
    console.log("accepted");
  }
}

// A third argument `kernel`: the whole program runs in a kernel of its own.
const run = Deno.args[2] === "kernel" ? () => new Kernel({ name: "child" }).run(main) : main;
run().catch((err) => {
  console.error(err);
  Deno.exit(1);
});
