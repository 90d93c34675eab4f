// The idiomatic raw Deno echo server, as a baseline for bench/echo/run.ts.
//
//   deno run -A bench/echo/raw_deno_server.ts [--host 127.0.0.1] [--port 8080] [--backlog N]
//
// One async task per connection: read into a 64 KiB buffer, write it all back.
// Uses the default `Deno.listen` backlog unless --backlog is given.

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < Deno.args.length) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const hostname = flag("host") ?? "127.0.0.1";
const port = Number(flag("port") ?? "8080");
const backlog = flag("backlog");

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function handle(conn: Deno.TcpConn): Promise<void> {
  try {
    conn.setNoDelay(true);
    const buf = new Uint8Array(65536);
    let n: number | null;
    while ((n = await conn.read(buf)) !== null) await writeAll(conn, buf.subarray(0, n));
  } catch {
    // Peer reset or broken pipe: just drop the connection.
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({
  hostname,
  port,
  ...(backlog !== undefined ? { tcpBacklog: Number(backlog) } : {}),
});
console.log(`raw Deno echo server listening on ${hostname}:${listener.addr.port}`);
for await (const conn of listener) handle(conn);
