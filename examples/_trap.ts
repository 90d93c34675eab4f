/**
 * The examples' error trap: any failure becomes one line on stderr and a
 * non-zero exit status, never a stack trace.
 *
 * - a {@linkcode UsageError} (a wrong flag or value): `NAME: message (see
 *   --help)`, exit status 2;
 * - anything else (the port is in use, a permission is missing, an
 *   unexpected exception): `NAME: message`, exit status 1.
 *
 * Imported for its effect as the first line of every example: ES modules run
 * in import order, so the trap is in place before the library's own module
 * code runs (`DENO_EPOLL_BACKEND=native` without `--allow-ffi` fails there).
 * It is installed only when the main module is an example, so a test that
 * imports the command-line modules keeps its own error reporting.
 *
 * This module imports nothing, so that it can run first.
 *
 * @module
 */

/** A wrong flag or value: reported as one line, exit status 2. */
export class UsageError extends Error {
  /** @param message What is wrong, without the program name. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Whether this code runs in a Deno Worker (a server's `--workers N`), not the main thread. */
export const IN_WORKER: boolean = typeof (globalThis as { WorkerGlobalScope?: unknown })
  .WorkerGlobalScope === "function";

/**
 * Exits with `code`. In a Worker, `Deno.exit` ends only that Worker, so the
 * status is first posted to the main thread (`_workers.ts`), which exits
 * with it.
 */
export function exit(code: number): never {
  if (IN_WORKER) (globalThis as unknown as Worker).postMessage({ exit: code });
  Deno.exit(code);
}

/** Prints `name: message` as one line on stderr and exits with `code`. */
export function fail(name: string, message: string, code = 1): never {
  console.error(`${name}: ${message.replace(/\s*\n\s*/g, " ")}`);
  exit(code);
}

/** The program's module: the main module, or in a Worker (`--workers`) the Worker's, the same file. */
export const MAIN_MODULE: string = Deno.mainModule ??
  (globalThis as { location?: { href: string } }).location?.href ?? "";

/** The program's name: the main module's file name without `.ts` (`echo_server`). */
export const PROGRAM: string = MAIN_MODULE.replace(/^.*\//, "").replace(/\.ts$/, "");

/** The path an example is run by from a checkout (`examples/echo_server.ts`). */
export const SCRIPT = `examples/${PROGRAM}.ts`;

/** Quotes `word` for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that runs this example with the native backend and the same
 * `args` (any `--backend` in them dropped): `deno run` with `--allow-ffi`
 * and `--backend native`, or, given the example's native `task`, that task.
 */
export function nativeCommand(args: readonly string[] = Deno.args, task?: string): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--backend") i++;
    else if (!args[i].startsWith("--backend=")) kept.push(shellWord(args[i]));
  }
  const run = task === undefined
    ? `run --allow-net --allow-ffi ${SCRIPT} --backend native`
    : `task ${task}`;
  return [`npx -y deno@2.9.6 ${run}`, ...kept].join(" ");
}

/** What to print for an uncaught `err`, and the exit status. */
function describe(err: unknown): [string, number] {
  if (err instanceof UsageError) return [`${err.message} (see --help)`, 2];
  const message = err instanceof Error ? err.message : String(err);
  if (/^DENO_EPOLL_BACKEND=native cannot be used/.test(message)) {
    return [`${message}; unset it, or run: ${nativeCommand()}`, 1];
  }
  return [message, 1];
}

let installed = false;

/** Turns every later uncaught exception or rejection into one line and an exit. */
export function trapUncaught(name: string = PROGRAM): void {
  if (installed) return;
  installed = true;
  const report = (err: unknown) => {
    const [message, code] = describe(err);
    fail(name, message, code);
  };
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    report(e.error);
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    report(e.reason);
  });
}

if (new URL(".", MAIN_MODULE).href === new URL(".", import.meta.url).href) trapUncaught();
