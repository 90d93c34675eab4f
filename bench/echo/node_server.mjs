// Node `net` echo server, as a comparison point for bench/echo/run.ts.
//
//   node bench/echo/node_server.mjs [--host 127.0.0.1] [--port 8080] [--backlog N]
//
// Echoes with socket.write and honours backpressure (pause until 'drain').
import net from "node:net";

function flag(name) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const host = flag("host") ?? "127.0.0.1";
const port = Number(flag("port") ?? "8080");
const backlog = flag("backlog");

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (chunk) => {
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once("drain", () => socket.resume());
    }
  });
  socket.on("error", () => socket.destroy());
  socket.on("end", () => socket.end());
});
server.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
const listenArgs = { host, port };
if (backlog !== undefined) listenArgs.backlog = Number(backlog);
server.listen(listenArgs, () => {
  console.log(`Node net echo server listening on ${host}:${server.address().port}`);
});
