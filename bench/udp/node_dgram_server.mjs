// Node `dgram` UDP echo server, as a comparison point for bench/udp/run.ts.
//
//   node bench/udp/node_dgram_server.mjs [--host 127.0.0.1] [--port 9000]
//
// The idiomatic loop: on every 'message', send it back to its sender. The
// receive buffer is raised to 4 MiB (recvBufferSize), as the C server's is.
import dgram from "node:dgram";

function flag(name) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

const host = flag("host") ?? "127.0.0.1";
const port = Number(flag("port") ?? "9000");
const socket = dgram.createSocket({
  type: "udp4",
  recvBufferSize: 4 << 20,
  sendBufferSize: 4 << 20,
});
socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
socket.bind(port, host, () => {
  console.log(`Node dgram echo server listening on ${host}:${socket.address().port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
