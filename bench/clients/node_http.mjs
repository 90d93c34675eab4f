// The HTTP baseline on Node's http module: GET / answers 200 "Hello, World!\n"
// with the headers examples/http_server.ts sends (Node adds Date itself).
// Prints "node_http listening on HOST:PORT".
//
//   node bench/clients/node_http.mjs --port 8080
import http from "node:http";

const i = process.argv.indexOf("--port");
const port = i >= 0 ? Number(process.argv[i + 1]) : 8080;
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
server.keepAliveTimeout = 0; // like the other servers: keep connections until the client closes
server.listen(port, "127.0.0.1", () => {
  const a = server.address();
  console.log(`node_http listening on ${a.address}:${a.port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
