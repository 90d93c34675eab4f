// The idiomatic `Deno.listenDatagram` UDP echo server, a baseline for
// bench/udp/run.ts.
//
//   deno run --allow-net --unstable-net bench/udp/deno_datagram_server.ts [--host 127.0.0.1] [--port 9000]
//
// One loop: `await receive()`, then `await send()` back to the sender. Deno
// offers no way to set SO_RCVBUF here, so the kernel's default applies.

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : undefined;
}

const hostname = flag("host") ?? "127.0.0.1";
const port = Number(flag("port") ?? "9000");
const socket = Deno.listenDatagram({ hostname, port, transport: "udp" });
const at = socket.addr as Deno.NetAddr;
console.log(`Deno.listenDatagram echo server listening on ${at.hostname}:${at.port}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
for await (const [msg, from] of socket) await socket.send(msg, from);
