import * as ep from "@deno-epoll/epoll";

/** Calls return -errno on failure: stop with a clear message. */
function ok(result: number, what: string): number {
  if (result >= 0) return result;
  console.error(`echo: ${what}: ${ep.strerror(result)} (${ep.errnoName(result)})`);
  Deno.exit(1);
}

const [flag, text] = Deno.args.length === 2 ? Deno.args : ["-p", Deno.args[0] ?? "8080"];
const port = flag === "-p" || flag === "--port" ? Number(text) : NaN; // 0: any free port
if (Deno.args.length > 2 || !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
  console.log("usage: echo.ts [--port N | N]   (default 8080; 0 picks a free port; Ctrl-C stops)");
  Deno.exit(Deno.args[0] === "--help" ? 0 : 2);
}
const srv = ok(ep.socket(ep.AF_INET, ep.SOCK_STREAM, 0), "socket");
ok(ep.bind(srv, { family: ep.AF_INET, address: "127.0.0.1", port }), "bind");
ok(ep.listen(srv, 4096), `listen on 127.0.0.1:${port}`);
const at = {} as ep.InetSockAddr; // the port chosen, for port 0
ok(ep.getsockname(srv, at), "getsockname");
const epfd = ok(ep.epollCreate1(0), "epoll_create1");
ok(ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, srv, { events: ep.EPOLLIN, data: srv }), "epoll_ctl");
const how = `${ep.getSocketBackend()} backend`; // native: DENO_EPOLL_BACKEND=native, --allow-ffi
console.log(`echo: listening on 127.0.0.1:${at.port} (${how}); try nc 127.0.0.1 ${at.port}`);

const events: ep.EpollEvent[] = [];
const buf = new Uint8Array(65536);
for (;;) {
  const n = ok(await ep.epollWait(epfd, events, 256, -1), "epoll_wait");
  for (const { data: fd } of events.slice(0, n) as { data: number }[]) {
    if (fd === srv) {
      let c: number;
      while ((c = ep.accept(srv)) >= 0) {
        ok(ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, c, { events: ep.EPOLLIN, data: c }), "epoll_ctl");
      }
      if (c !== -ep.EAGAIN) ok(c, "accept");
    } else {
      const r = ep.read(fd, buf);
      if (r === -ep.EAGAIN) continue;
      // EOF (0), an error (< 0) or a short write: close. examples/echo_server.ts keeps the rest.
      if (r <= 0 || ep.write(fd, buf.subarray(0, r)) !== r) ok(ep.close(fd), "close");
    }
  }
}
