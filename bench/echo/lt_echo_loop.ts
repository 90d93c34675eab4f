/**
 * The smallest level-triggered echo server: 4b58260's LT echo loop and
 * nothing else (no signals beyond an exit, no stats, no accept gate, no
 * idle timeout), over the `mod.ts` of the checkout given by `--root`, so
 * that two versions of the library run the very same program
 * (`bench:regress --parts anatomy --server loop`). Its `epoll`, socket and
 * constant names are the same in every version since 4b58260.
 *
 * ```sh
 * deno run -A bench/echo/lt_echo_loop.ts --root /path/to/checkout --port 9000
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import type * as Epoll from "../../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { root: { type: "string" }, port: { type: "string", default: "9000" } },
});
const root = new URL(`${values.root ?? new URL("../..", import.meta.url).pathname}/`, "file://");
const ep: typeof Epoll = await import(new URL("mod.ts", root).href);
// SIGINT ends it through Deno.exit, so that a --cpu-prof profile gets written.
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));

interface Conn {
  fd: number;
  pending: Uint8Array | null;
}

const listenFd = ep.socket(ep.AF_INET, ep.SOCK_STREAM | ep.SOCK_NONBLOCK, 0);
ep.setsockopt(listenFd, ep.SOL_SOCKET, ep.SO_REUSEADDR, 1);
ep.setsockopt(listenFd, ep.IPPROTO_TCP, ep.TCP_NODELAY, 1);
const port = Number(values.port);
if (
  ep.bind(listenFd, { family: ep.AF_INET, address: "127.0.0.1", port }) !== 0 ||
  ep.listen(listenFd, 4096) !== 0
) {
  console.error(`lt_echo_loop: cannot listen on 127.0.0.1:${port}`);
  Deno.exit(1);
}
console.log(`lt_echo_loop listening on 127.0.0.1:${port}`);
const epfd = ep.epollCreate1(0);
const LISTENER = Symbol("listener");
ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, listenFd, { events: ep.EPOLLIN, data: LISTENER });
const buf = new Uint8Array(65536);
const events: Epoll.EpollEvent[] = [];

function send(c: Conn, data: Uint8Array): boolean {
  const n = ep.write(c.fd, data);
  if (n === data.length) return true;
  if (n < 0 && n !== -ep.EAGAIN) return false;
  c.pending = data.slice(Math.max(n, 0));
  ep.epollCtl(epfd, ep.EPOLL_CTL_MOD, c.fd, { events: ep.EPOLLOUT, data: c });
  return true;
}

for (;;) {
  const n = await ep.epollWait(epfd, events, 1024, -1);
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.data === LISTENER) {
      for (let fd = ep.accept(listenFd); fd >= 0; fd = ep.accept(listenFd)) {
        const c: Conn = { fd, pending: null };
        ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, fd, { events: ep.EPOLLIN, data: c });
      }
      continue;
    }
    const c = ev.data as Conn;
    if (c.pending !== null) {
      const rest = c.pending;
      c.pending = null;
      const w = ep.write(c.fd, rest);
      if (w < 0 && w !== -ep.EAGAIN) ep.close(c.fd);
      else if (w < rest.length) c.pending = rest.subarray(Math.max(w, 0));
      else ep.epollCtl(epfd, ep.EPOLL_CTL_MOD, c.fd, { events: ep.EPOLLIN, data: c });
      continue;
    }
    const r = ep.read(c.fd, buf);
    if (r === -ep.EAGAIN) continue;
    if (r <= 0) {
      ep.close(c.fd); // 0: the client closed; < 0: reset
      continue;
    }
    if (!send(c, buf.subarray(0, r))) ep.close(c.fd);
  }
}
