/**
 * Other processes and signals: a TypeScript snippet run as a child process
 * against this library, and a signal sent to this process and delivered.
 *
 * @module
 */

/** The library's entry module, for scripts run in a child process. */
export const MOD_URL: string = new URL("../../mod.ts", import.meta.url).href;

/**
 * A TypeScript snippet run as a child process (`deno run -A` of a temporary
 * file, not `deno eval`, whose event loop stays alive on its own and would
 * hide a program that exits too early), `$MOD` in it replaced by the
 * library's URL; its stdout is read line by line, its stdin piped or closed.
 */
export class ScriptChild implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #lines: string[] = [];
  #partial = "";
  #ended = false;
  #waiting: (() => void) | null = null;
  #pumped: Promise<void>;
  readonly #file: string;
  stderr = "";

  constructor(source: string, opts: { stdin?: "piped" | "null"; args?: string[] } = {}) {
    this.#file = Deno.makeTempFileSync({ prefix: "script_child_", suffix: ".ts" });
    Deno.writeTextFileSync(this.#file, source.replaceAll("$MOD", MOD_URL));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", this.#file, ...(opts.args ?? [])],
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const d = new TextDecoder();
    const out = (async () => {
      for await (const chunk of child.stdout) {
        const parts = (this.#partial + d.decode(chunk, { stream: true })).split("\n");
        this.#partial = parts.pop()!;
        this.#lines.push(...parts);
        this.#waiting?.();
      }
      this.#ended = true;
      this.#waiting?.();
    })();
    const err = (async () => {
      for await (const chunk of child.stderr) this.stderr += d.decode(chunk, { stream: true });
    })();
    this.#pumped = Promise.all([out, err]).then(() => {});
  }

  /** The next line the child prints; throws if its output ends first. */
  async line(): Promise<string> {
    while (this.#lines.length === 0) {
      if (this.#ended) throw new Error(`child output ended; stderr: ${this.stderr}`);
      await new Promise<void>((r) => this.#waiting = r);
      this.#waiting = null;
    }
    return this.#lines.shift()!;
  }

  /** Waits for the child to exit and its output to be read. */
  async status(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#pumped;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    try {
      await this.child.stdin?.close();
    } catch {
      // not piped, or closed by the test
    }
    await this.status();
    Deno.removeSync(this.#file);
  }
}

/**
 * Sends `signo` (one the caller holds, so its default action cannot run)
 * to this process and returns once Deno has delivered it to its listeners;
 * a timer holds the event loop meanwhile, as signal listeners do not.
 *
 * A signal reaches every listener in the process, and `deno test
 * --parallel` runs test files side by side in one process: each file that
 * signals itself uses signals of its own (signalfd_test: SIGUSR1, SIGUSR2;
 * kqueue_signal_test: SIGWINCH, SIGQUIT; signalfd.ts's example: SIGHUP).
 */
export async function raiseSignal(signo: number): Promise<void> {
  const name = ({ 3: "SIGQUIT", 10: "SIGUSR1", 12: "SIGUSR2", 28: "SIGWINCH" } as Record<
    number,
    Deno.Signal
  >)[signo];
  const delivered = Promise.withResolvers<void>();
  Deno.addSignalListener(name, delivered.resolve);
  const hold = setTimeout(() => {}, 60_000);
  try {
    Deno.kill(Deno.pid, name);
    await delivered.promise;
  } finally {
    clearTimeout(hold);
    Deno.removeSignalListener(name, delivered.resolve);
  }
}
