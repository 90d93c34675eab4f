/**
 * The client benchmark's harness (bench/clients/run.ts): running a client
 * to its end, starting a server under test on a free port, and what one
 * measurement records.
 *
 * @module
 */

import { freePort, ROOT, ServerProcess, waitForAccept } from "../echo/_procs.ts";

/** Runs a command to its end; throws if it does not finish in `ms`. */
export async function run(
  cmd: string[],
  ms = 600_000,
): Promise<{ code: number; out: string; err: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    const o = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const d = new TextDecoder();
    return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A server under test: how to start it on a port. */
export interface Server {
  name: string;
  command: (port: number) => string[];
}

/**
 * Starts `server` on a free port (through the echo benchmark's process
 * harness, so it dies with this driver) and waits until it accepts.
 */
export async function start(
  server: Server,
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = freePort();
  const child = new ServerProcess(server.command(port));
  try {
    await waitForAccept(port, child.child.status, 15_000);
  } catch (err) {
    await child.stop();
    throw new Error(`${server.name} did not start: ${child.stderr.text}`, { cause: err });
  }
  return { port, pid: child.pid, stop: () => child.stop() };
}

/** One measurement: a load against a server in a round. */
export interface Sample {
  load: string;
  server: string;
  round: number;
  /** Requests per second. */
  rps: number;
  /** p50 / p99 latency in ms where the client reports them. */
  p50?: number;
  p99?: number;
  /** The server's CPU time per request (µs), where measured. */
  cpuUs?: number;
}

/** Where each part's loads put what they measured and what the clients reported wrong. */
export interface Results {
  samples: Sample[];
  failures: string[];
}
