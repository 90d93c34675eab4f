// Node's multi-core baseline for bench/workers: a cluster primary forks
// --workers N workers (Node's cluster module hands connections to them).
// --mode http: GET / answers 200 "Hello, World!\n" with the headers of
// examples/http_server.ts (as bench/clients/node_http.mjs); --mode echo:
// every byte comes back (as bench/echo/node_server.mjs). The primary prints
// "node_cluster listening on HOST:PORT" once every worker listens, and on
// SIGTERM/SIGINT stops the workers and exits 0.
//
//   node bench/workers/node_cluster.mjs --mode http --workers 2 --port 8080
import cluster from "node:cluster";
import http from "node:http";
import net from "node:net";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const mode = arg("mode", "http");
const workers = Number(arg("workers", "1"));
const port = Number(arg("port", "8080"));

if (cluster.isPrimary) {
  let up = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("listening", () => {
      if (++up === workers) console.log(`node_cluster listening on 127.0.0.1:${port}`);
    });
  }
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      for (const w of Object.values(cluster.workers)) w.process.kill("SIGKILL");
      process.exit(0);
    });
  }
} else if (mode === "echo") {
  net.createServer({ noDelay: true }, (s) => s.pipe(s)).listen(port, "127.0.0.1");
} else {
  const body = Buffer.from("Hello, World!\n");
  const headers = {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": body.length,
    "Connection": "keep-alive",
  };
  const server = http.createServer((req, res) => {
    if (req.url !== "/") {
      res.writeHead(404, { ...headers, "Content-Length": 10 }).end("Not Found\n");
      return;
    }
    res.writeHead(200, headers).end(body);
  });
  server.keepAliveTimeout = 0;
  server.listen(port, "127.0.0.1");
}
