/**
 * Command-line options of the echo benchmark driver (bench/echo/run.ts).
 *
 * @module
 */

/** The parsed command line of `bench/echo/run.ts`. */
export interface Options {
  /** Rounds per scenario; servers are interleaved within each round. */
  rounds: number;
  /** Length of the measured window of each run, in seconds. */
  seconds: number;
  /** Warmup before the measured window, in seconds. */
  warmup: number;
  /** Shorter defaults for `rounds`, `seconds` and `warmup` (explicit flags still win). */
  quick: boolean;
  /** Scenario ids or keys to run (lower-cased), or `null` for all. */
  only: string[] | null;
  /** Server keys or names to run (lower-cased), or `null` for all. */
  servers: string[] | null;
}

/**
 * Parses a benchmark driver's arguments (bench/echo/run.ts's by default; bench/udp/run.ts
 * passes its own `usage`). Prints the usage and exits on `--help` / `-h`;
 * throws on an unknown argument, a missing value or a value out of range.
 */
export function parseArgs(
  args: string[],
  usage =
    "usage: deno run -A bench/echo/run.ts [--rounds 3] [--seconds 5] [--warmup 1] [--quick] " +
    "[--only a,b,...] [--servers lt,et,nlt,net,c,kq,raw,node]",
): Options {
  const opts: Options = {
    rounds: 3,
    seconds: 5,
    warmup: 1,
    quick: false,
    only: null,
    servers: null,
  };
  let roundsSet = false, secondsSet = false, warmupSet = false;
  for (let i = 0; i < args.length; i++) {
    const [key, inline] = args[i].split("=", 2);
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < min) throw new Error(`bad value for ${key}`);
      return v;
    };
    switch (key) {
      case "--rounds":
        opts.rounds = Math.floor(num(1));
        roundsSet = true;
        break;
      case "--seconds":
        opts.seconds = num(0.1);
        secondsSet = true;
        break;
      case "--warmup":
        opts.warmup = num(0);
        warmupSet = true;
        break;
      case "--quick":
        opts.quick = true;
        break;
      case "--only":
        opts.only = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
        break;
      case "--servers":
        opts.servers = value().split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
        break;
      case "--help":
      case "-h":
        console.log(usage);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
  }
  if (opts.quick) {
    if (!roundsSet) opts.rounds = 1;
    if (!secondsSet) opts.seconds = 2;
    if (!warmupSet) opts.warmup = 0.5;
  }
  return opts;
}
