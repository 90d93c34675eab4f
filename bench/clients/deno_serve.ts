/**
 * The HTTP baseline on Deno.serve: `GET /` answers 200 `Hello, World!\n`
 * with the headers examples/http_server.ts sends (Deno adds `date` and
 * `content-length` itself). Prints `deno_serve listening on HOST:PORT`.
 *
 * ```sh
 * deno run --allow-net bench/clients/deno_serve.ts --port 8080
 * ```
 *
 * @module
 */

const i = Deno.args.indexOf("--port");
const port = i >= 0 ? Number(Deno.args[i + 1]) : 8080;
const body = new TextEncoder().encode("Hello, World!\n");
const headers = { "content-type": "text/plain; charset=utf-8", "connection": "keep-alive" };
const notFound = new TextEncoder().encode("Not Found\n");

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) => console.log(`deno_serve listening on ${hostname}:${port}`),
}, (req) => {
  if (new URL(req.url).pathname !== "/") return new Response(notFound, { status: 404, headers });
  return new Response(body, { headers });
});
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
