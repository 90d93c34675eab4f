/**
 * The examples' flags: each example describes its flags in one table
 * ({@linkcode Flag} values keyed by flag name) and calls
 * {@linkcode parseCommand} (servers call `parseServerArgs` in
 * `_listen.ts`, which adds the server flags). That gives every example the
 * same behaviour:
 *
 * - `--help` (or `-h`) prints the summary and every flag with its default,
 *   and exits 0;
 * - `--name value`, `--name=value`, a switch as `--name`, and a flag's
 *   one-letter form where it has one (`-p 0`);
 * - a bad flag or value prints one line on stderr and exits 2 (`_trap.ts`).
 *
 * To add a flag to every example, add an entry to {@linkcode COMMON_FLAGS};
 * its parsed value appears under the same name in the options object, typed
 * by its `default`. To add a flag to one example, pass it in that example's
 * `flags`. A new kind of value is one more function beside
 * {@linkcode intFlag}.
 *
 * @module
 */

import { fail, trapUncaught, UsageError } from "./_trap.ts";

export { UsageError };

/** One command-line flag: how its text becomes a value, and its help line. */
export interface Flag<T> {
  /** Placeholder shown after the flag (`--port N`); absent for a switch. */
  arg?: string;
  /** A one-letter form (`p` for `-p`), if any. */
  short?: string;
  /** One line for `--help`. */
  help: string;
  /** The value when the flag is not given. */
  default: T;
  /** Turns the flag's text into a value; throws {@linkcode UsageError}. */
  parse?: (text: string) => T;
}

/** A table of flags, keyed by name without the leading `--`. */
// deno-lint-ignore no-explicit-any
export type Flags = Record<string, Flag<any>>;

/** The parsed values of a flag table. */
export type Values<F extends Flags> = { -readonly [K in keyof F]: F[K]["default"] };

/** An example's name, what it does, and its flags. */
export interface Command<F extends Flags> {
  /** Program name, used as the prefix of every message (`echo_server`). */
  name: string;
  /** One line on what the program does. */
  summary: string;
  /** Further `--help` lines: what it prints, how to stop it. */
  details?: string[];
  /** The `deno run` permission flags it needs (default `--allow-net`). */
  permissions?: string;
  /** Its `deno.json` task (`echo`); a server's native backend is `TASK:native`. */
  task?: string;
  /** The flags it takes (`--help` is always added). */
  flags: F;
}

/** A switch: present means `true`. */
export function switchFlag(help: string): Flag<boolean> {
  return { help, default: false };
}

/** A flag taking any text. */
export function stringFlag(arg: string, help: string, fallback: string): Flag<string> {
  return { arg, help, default: fallback, parse: (text) => text };
}

/** A flag taking an integer in `min..max`. */
export function intFlag(
  arg: string,
  help: string,
  fallback: number,
  min: number,
  max: number,
): Flag<number> {
  return {
    arg,
    help,
    default: fallback,
    parse: (text) => {
      const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new UsageError(`expected an integer ${min}..${max}, got "${text}"`);
      }
      return n;
    },
  };
}

/** A flag taking a number of seconds greater than 0. */
export function secondsFlag(arg: string, help: string, fallback: number): Flag<number> {
  return {
    arg,
    help,
    default: fallback,
    parse: (text) => {
      const n = /^\d*\.?\d+$/.test(text) ? Number(text) : NaN;
      if (!(n > 0) || n > 2 ** 31 / 1000) {
        throw new UsageError(`expected a number of seconds > 0, got "${text}"`);
      }
      return n;
    },
  };
}

/** `--idle-timeout S`: seconds without traffic before a connection is closed; 0 never. */
export function idleTimeoutFlag(fallback: number): Flag<number> {
  return {
    arg: "S",
    help: "close a connection after S seconds without traffic; 0 never",
    default: fallback,
    parse: (text) => {
      const n = /^\d*\.?\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= 0) || n > 2 ** 31 / 1000) {
        throw new UsageError(`expected a number of seconds >= 0, got "${text}"`);
      }
      return n;
    },
  };
}

/** Flags every example takes. */
export const COMMON_FLAGS = {
  stats: switchFlag("print a one-line summary (connections, MiB/s, events/s, memory) periodically"),
  interval: secondsFlag("S", "seconds between --stats lines", 5),
};

/** The `--help` text of `cmd`. */
export function helpText<F extends Flags>(cmd: Command<F>): string {
  const rows: [string, string][] = [["-h, --help", "print this help and exit"]];
  for (const [key, flag] of Object.entries(cmd.flags)) {
    const long = flag.arg ? `--${key} ${flag.arg}` : `--${key}`;
    const shown = flag.short ? `-${flag.short}, ${long}` : long;
    const dflt = flag.arg ? ` (default ${flag.default})` : "";
    rows.push([shown, flag.help + dflt]);
  }
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `${cmd.name}: ${cmd.summary}`,
    "",
    `Usage: deno run ${cmd.permissions ?? "--allow-net"} examples/${cmd.name}.ts [flags]`.replace(
      "  ",
      " ",
    ),
    ...(cmd.task ? [`   or: npx -y deno@2.9.6 task ${cmd.task} [flags]`] : []),
    "",
    "Flags:",
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    ...(cmd.details?.length ? ["", ...cmd.details] : []),
  ].join("\n");
}

/**
 * Parses `args` against `cmd.flags` (`--name value`, `--name=value`,
 * switches as `--name`). On `--help` prints the help and exits 0; on a
 * wrong flag or value prints one line and exits 2. From here on, uncaught
 * exceptions are reported as one line too.
 */
export function parseCommand<F extends Flags>(cmd: Command<F>, args = Deno.args): Values<F> {
  trapUncaught(cmd.name);
  try {
    return parseFlags(cmd, args);
  } catch (err) {
    if (err instanceof UsageError) fail(cmd.name, `${err.message} (see --help)`, 2);
    throw err;
  }
}

function parseFlags<F extends Flags>(cmd: Command<F>, args: string[]): Values<F> {
  const values: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(cmd.flags)) values[key] = flag.default;
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "-h" || word === "--help") {
      console.log(helpText(cmd));
      Deno.exit(0);
    }
    const short = /^-([a-zA-Z])$/.exec(word)?.[1];
    const m = short === undefined ? /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(word) : null;
    if (short === undefined && m === null) throw new UsageError(`unexpected argument "${word}"`);
    const key = m?.[1] ?? Object.keys(cmd.flags).find((k) => cmd.flags[k].short === short);
    const inline = m?.[2];
    if (key === undefined) throw new UsageError(`unknown flag ${word}`);
    const flag = Object.hasOwn(cmd.flags, key) ? cmd.flags[key] : undefined;
    if (flag === undefined) throw new UsageError(`unknown flag --${key}`);
    if (!flag.parse) {
      if (inline !== undefined) throw new UsageError(`--${key} takes no value`);
      values[key] = true;
      continue;
    }
    const text = inline ?? args[++i];
    if (text === undefined) throw new UsageError(`--${key} needs a value (${flag.arg})`);
    try {
      values[key] = flag.parse(text);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`--${key}: ${err.message}`);
      throw err;
    }
  }
  return values as Values<F>;
}
