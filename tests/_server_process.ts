/**
 * An example server run as a child process for the hostile-client tests:
 * started with `--port 0`, its port read from its first line, its resident
 * memory and open descriptors read from Linux's /proc.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** A running example server. */
export class ServerProcess {
  readonly child: Deno.ChildProcess;
  port = 0;
  #out = "";
  #err = "";
  #done: Promise<unknown>;

  private constructor(script: string, args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, "--port", "0", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (s: ReadableStream<Uint8Array>, err: boolean) => {
      const d = new TextDecoder();
      for await (const chunk of s) {
        if (err) this.#err += d.decode(chunk, { stream: true });
        else this.#out += d.decode(chunk, { stream: true });
      }
    };
    this.#done = Promise.allSettled([
      collect(this.child.stdout, false),
      collect(this.child.stderr, true),
    ]);
  }

  /** Starts `script` (relative to the repository) and waits until it listens. */
  static async start(script: string, args: string[] = []): Promise<ServerProcess> {
    const server = new ServerProcess(script, args);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const m = server.#out.match(/listening on [\d.]+:(\d+) \((?:deno|native) backend\)\n/);
      if (m) {
        server.port = Number(m[1]);
        return server;
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`${script} did not start: ${server.#err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** What the server wrote to stderr so far. */
  get stderr(): string {
    return this.#err;
  }

  /** Resident set size, in bytes. */
  rss(): number {
    const status = Deno.readTextFileSync(`/proc/${this.child.pid}/status`);
    return Number(status.match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024;
  }

  /** Open OS descriptors. */
  fds(): number {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${this.child.pid}/fd`)) n++;
    return n;
  }

  /** Kills the server and waits for it and its output to end. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.child.status;
    await this.#done;
  }
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns its last result. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
