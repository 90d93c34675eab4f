/**
 * Deno's own multi-core HTTP server for bench/workers: the handler of
 * bench/clients/deno_serve.ts (`GET /` answers 200 `Hello, World!\n`, the
 * same headers) as a `deno serve` module, so `deno serve --parallel` runs
 * it on `DENO_JOBS` workers sharing the port.
 *
 * ```sh
 * DENO_JOBS=2 deno serve --parallel --host 127.0.0.1 --port 8080 bench/workers/deno_serve_parallel.ts
 * ```
 *
 * @module
 */

const body = new TextEncoder().encode("Hello, World!\n");
const headers = { "content-type": "text/plain; charset=utf-8", "connection": "keep-alive" };
const notFound = new TextEncoder().encode("Not Found\n");

export default {
  fetch(req: Request): Response {
    if (new URL(req.url).pathname !== "/") return new Response(notFound, { status: 404, headers });
    return new Response(body, { headers });
  },
} satisfies Deno.ServeDefaultExport;
