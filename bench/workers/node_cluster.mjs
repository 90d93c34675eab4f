// Node's multi-core baseline for bench/workers: a cluster primary forks
// --workers N workers, each running the single-process baseline the other
// benchmarks use (--mode http: bench/clients/node_http.mjs; --mode echo:
// bench/echo/node_server.mjs; both read --port from the inherited argv), and
// Node's cluster module hands the connections to them. The primary prints
// "node_cluster listening on HOST:PORT" once every worker listens, and on
// SIGTERM/SIGINT stops the workers and exits 0.
//
//   node bench/workers/node_cluster.mjs --mode http --workers 2 --port 8080
import cluster from "node:cluster";

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
} else {
  await import(mode === "echo" ? "../echo/node_server.mjs" : "../clients/node_http.mjs");
}
