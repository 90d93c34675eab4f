/**
 * The resp_server example's commands: a table of name, arity and handler,
 * with Redis's replies and error messages for the subset it serves.
 *
 * @module
 */

import {
  type Entry,
  globMatch,
  keyOf,
  type Keyspace,
  STRING_VALUE_MAX,
  type Value,
} from "./_resp_keyspace.ts";
import type { ReplyWriter, Request } from "./_resp_protocol.ts";

/** What a handler may touch besides its arguments and the reply. */
export interface Session {
  db: Keyspace;
  /** Set by QUIT: close once the replies are written. */
  quit: boolean;
  /** `performance.now()` when the server started on this batch of requests (one clock read per batch). */
  now: number;
}

type Handler = (args: Request, out: ReplyWriter, s: Session) => void;

interface Command {
  /** Redis's arity: N exactly, or -N at least N (the name counts). */
  arity: number;
  flags: string[];
  /** First key, last key (-1: the last argument), step; 0 0 0 without keys. */
  keys: [number, number, number];
  run: Handler;
}

const NOT_INTEGER = "ERR value is not an integer or out of range";
const SYNTAX = "ERR syntax error";
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** Below this, number arithmetic on two operands is exact. */
const EXACT = 2n ** 52n;
const decoder = new TextDecoder();

/** An int64 in Redis's strict decimal form (no sign +, no leading zeros), or null. */
function int64(b: Uint8Array | string): bigint | null {
  const s = typeof b === "string" ? b : keyOf(b);
  if (!/^-?(0|[1-9][0-9]{0,18})$/.test(s) || s === "-0") return null;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX ? n : null;
}

const upper = (b: Uint8Array) => keyOf(b).toUpperCase();

/** The value to store for request bytes `b` (see {@linkcode Value}): never a view into the request buffer. */
function valueOf(b: Uint8Array): Value {
  return b.length <= STRING_VALUE_MAX ? keyOf(b) : b.slice();
}

/** A stored value as a binary string (numbers are parsed from it). */
const textOf = (v: Value): string => typeof v === "string" ? v : keyOf(v);

/** Replies with a stored value (or the null bulk). */
function bulkValue(out: ReplyWriter, v: Value | undefined): void {
  if (v === undefined) out.bulk(null);
  else if (typeof v === "string") out.bulkLatin1(v);
  else out.bulk(v);
}

/** A live entry or the memory-bound error; writes that error and returns false when full. */
function room(s: Session, out: ReplyWriter, bytes: number): boolean {
  if (!s.db.full(bytes)) return true;
  out.error("OOM command not allowed when used memory > 'maxmemory'.");
  return false;
}

function set(args: Request, out: ReplyWriter, s: Session): void {
  let nx = false, xx = false, keepTtl = false, ttlMs = -1;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if (opt === "NX" && !xx) nx = true;
    else if (opt === "XX" && !nx) xx = true;
    else if (opt === "KEEPTTL" && ttlMs < 0) keepTtl = true;
    else if ((opt === "EX" || opt === "PX") && ttlMs < 0 && !keepTtl && i + 1 < args.length) {
      const n = int64(args[++i]);
      if (n === null) return out.error(NOT_INTEGER);
      if (n <= 0n || n > 2n ** 46n) return out.error("ERR invalid expire time in 'set' command");
      ttlMs = Number(n) * (opt === "EX" ? 1000 : 1);
    } else return out.error(SYNTAX);
  }
  const key = keyOf(args[1]);
  const now = s.now;
  const old = s.db.get(key, now);
  if ((nx && old !== undefined) || (xx && old === undefined)) return out.bulk(null);
  if (!room(s, out, args[2].length + key.length)) return;
  const expiresAt = ttlMs >= 0 ? now + ttlMs : keepTtl && old ? old.expiresAt : 0;
  s.db.set(key, valueOf(args[2]), expiresAt);
  out.simple("OK");
}

/** A value of up to 15 digits in the strict form as a number (the fast path), else null. */
function smallInt(b: string): number | null {
  const neg = b.charCodeAt(0) === 45 ? 1 : 0;
  const digits = b.length - neg;
  if (digits < 1 || digits > 15 || (b.charCodeAt(neg) === 48 && (digits > 1 || neg))) return null;
  let n = 0;
  for (let i = neg; i < b.length; i++) {
    const d = b.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

function incrBy(args: Request, out: ReplyWriter, s: Session, by: bigint): void {
  const key = keyOf(args[1]);
  const e = s.db.get(key, s.now);
  let next: number | bigint;
  const text = e === undefined ? "0" : textOf(e.value);
  const small = smallInt(text);
  if (small !== null && by > -EXACT && by < EXACT) {
    next = small + Number(by); // both below 2^52: exact
  } else {
    const current = int64(text);
    if (current === null) return out.error(NOT_INTEGER);
    next = current + by;
    if (next > INT64_MAX || next < INT64_MIN) {
      return out.error("ERR increment or decrement would overflow");
    }
  }
  if (!room(s, out, 20 + key.length)) return;
  s.db.set(key, String(next), e?.expiresAt ?? 0); // INCR keeps the TTL
  out.integer(next);
}

function incrArg(args: Request, out: ReplyWriter, s: Session, sign: bigint): void {
  const by = int64(args[2]);
  if (by === null) return out.error(NOT_INTEGER);
  if (sign < 0n && by === INT64_MIN) return out.error("ERR decrement would overflow");
  incrBy(args, out, s, by * sign);
}

function expire(args: Request, out: ReplyWriter, s: Session, unitMs: number): void {
  const n = int64(args[2]);
  if (n === null) return out.error(NOT_INTEGER);
  let nx = false, xx = false, gt = false, lt = false;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if (opt === "NX") nx = true;
    else if (opt === "XX") xx = true;
    else if (opt === "GT") gt = true;
    else if (opt === "LT") lt = true;
    else return out.error(`ERR Unsupported option ${opt}`);
  }
  if ((nx && (xx || gt || lt)) || (gt && lt)) {
    return out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  const key = keyOf(args[1]);
  const now = s.now;
  const e = s.db.get(key, now);
  if (e === undefined) return out.integer(0);
  const at = now + Number(n) * unitMs;
  const current = e.expiresAt === 0 ? Infinity : e.expiresAt;
  if (
    (nx && e.expiresAt !== 0) || (xx && e.expiresAt === 0) || (gt && at <= current) ||
    (lt && at >= current)
  ) {
    return out.integer(0);
  }
  if (at <= now) s.db.delete(key, now);
  else s.db.setExpiry(key, e, at);
  out.integer(1);
}

function ttl(args: Request, out: ReplyWriter, s: Session, unitMs: number): void {
  const now = s.now;
  const e: Entry | undefined = s.db.get(keyOf(args[1]), now);
  if (e === undefined) return out.integer(-2);
  if (e.expiresAt === 0) return out.integer(-1);
  out.integer(Math.round((e.expiresAt - now) / unitMs));
}

function info(s: Session): string {
  const mem = Deno.memoryUsage();
  return [
    "# Server",
    "redis_version:7.0.0",
    "redis_mode:standalone",
    "deno_epoll_example:resp_server",
    `process_id:${Deno.pid}`,
    "",
    "# Memory",
    `used_memory:${s.db.used}`,
    `used_memory_rss:${mem.rss}`,
    `maxmemory:${s.db.maxMemory}`,
    "",
    "# Stats",
    `expired_keys:${s.db.expired}`,
    "",
    "# Keyspace",
    ...(s.db.size > 0 ? [`db0:keys=${s.db.size},expires=${s.db.volatileCount},avg_ttl=0`] : []),
    "",
  ].join("\r\n");
}

/** Every command, by lower-case name. */
export const COMMANDS: Map<string, Command> = new Map();

function def(
  name: string,
  arity: number,
  flags: string[],
  keys: [number, number, number],
  run: Handler,
) {
  COMMANDS.set(name, { arity, flags, keys, run });
}

const NO_KEYS: [number, number, number] = [0, 0, 0];
const KEY1: [number, number, number] = [1, 1, 1];
const ALL_KEYS: [number, number, number] = [1, -1, 1];

def("ping", -1, ["fast"], NO_KEYS, (a, out) => {
  if (a.length > 2) return out.error("ERR wrong number of arguments for 'ping' command");
  if (a.length === 2) out.bulk(a[1]);
  else out.simple("PONG");
});
def("echo", 2, ["fast"], NO_KEYS, (a, out) => out.bulk(a[1]));
def(
  "get",
  2,
  ["readonly", "fast"],
  KEY1,
  (a, out, s) => bulkValue(out, s.db.get(keyOf(a[1]), s.now)?.value),
);
def("set", -3, ["write", "denyoom"], KEY1, set);
def("del", -2, ["write"], ALL_KEYS, (a, out, s) => {
  let n = 0;
  for (let i = 1; i < a.length; i++) if (s.db.delete(keyOf(a[i]), s.now)) n++;
  out.integer(n);
});
def("exists", -2, ["readonly", "fast"], ALL_KEYS, (a, out, s) => {
  let n = 0;
  for (let i = 1; i < a.length; i++) if (s.db.get(keyOf(a[i]), s.now) !== undefined) n++;
  out.integer(n);
});
def("incr", 2, ["write", "denyoom", "fast"], KEY1, (a, out, s) => incrBy(a, out, s, 1n));
def("decr", 2, ["write", "denyoom", "fast"], KEY1, (a, out, s) => incrBy(a, out, s, -1n));
def("incrby", 3, ["write", "denyoom", "fast"], KEY1, (a, out, s) => incrArg(a, out, s, 1n));
def("decrby", 3, ["write", "denyoom", "fast"], KEY1, (a, out, s) => incrArg(a, out, s, -1n));
def("mget", -2, ["readonly", "fast"], ALL_KEYS, (a, out, s) => {
  const now = s.now;
  out.array(a.length - 1);
  for (let i = 1; i < a.length; i++) bulkValue(out, s.db.get(keyOf(a[i]), now)?.value);
});
def("mset", -3, ["write", "denyoom"], [1, -1, 2], (a, out, s) => {
  if (a.length % 2 === 0) return out.error("ERR wrong number of arguments for 'mset' command");
  let bytes = 0;
  for (let i = 1; i < a.length; i++) bytes += a[i].length;
  if (!room(s, out, bytes)) return;
  for (let i = 1; i < a.length; i += 2) s.db.set(keyOf(a[i]), valueOf(a[i + 1]), 0);
  out.simple("OK");
});
def("expire", -3, ["write", "fast"], KEY1, (a, out, s) => expire(a, out, s, 1000));
def("pexpire", -3, ["write", "fast"], KEY1, (a, out, s) => expire(a, out, s, 1));
def("persist", 2, ["write", "fast"], KEY1, (a, out, s) => {
  const key = keyOf(a[1]);
  const e = s.db.get(key, s.now);
  if (e === undefined || e.expiresAt === 0) return out.integer(0);
  s.db.setExpiry(key, e, 0);
  out.integer(1);
});
def("ttl", 2, ["readonly", "fast"], KEY1, (a, out, s) => ttl(a, out, s, 1000));
def("pttl", 2, ["readonly", "fast"], KEY1, (a, out, s) => ttl(a, out, s, 1));
def("keys", 2, ["readonly"], NO_KEYS, (a, out, s) => {
  const keys = s.db.keys(keyOf(a[1]), s.now);
  out.array(keys.length);
  for (const k of keys) out.bulkLatin1(k);
});
def("dbsize", 1, ["readonly", "fast"], NO_KEYS, (_a, out, s) => out.integer(s.db.size));
for (const name of ["flushall", "flushdb"]) {
  def(name, -1, ["write"], NO_KEYS, (a, out, s) => {
    if (a.length > 2 || (a.length === 2 && !["ASYNC", "SYNC"].includes(upper(a[1])))) {
      return out.error(SYNTAX);
    }
    s.db.clear();
    out.simple("OK");
  });
}
def("select", 2, ["fast"], NO_KEYS, (a, out) => {
  const n = int64(a[1]);
  if (n === null) return out.error(NOT_INTEGER);
  if (n !== 0n) return out.error("ERR DB index is out of range");
  out.simple("OK");
});
def("quit", -1, ["fast"], NO_KEYS, (_a, out, s) => {
  s.quit = true;
  out.simple("OK");
});
def("info", -1, [], NO_KEYS, (_a, out, s) => out.bulkText(info(s)));
def("config", -2, [], NO_KEYS, (a, out) => {
  const sub = upper(a[1]);
  if (sub === "GET" && a.length >= 3) {
    // What redis-benchmark asks for; this server never saves.
    const known: [string, string][] = [["save", ""], ["appendonly", "no"], ["databases", "1"]];
    const hits = known.filter(([k]) =>
      a.slice(2).some((p) => globMatch(keyOf(p).toLowerCase(), k))
    );
    out.array(hits.length * 2);
    for (const [k, v] of hits) out.bulkLatin1(k), out.bulkLatin1(v);
  } else if (sub === "RESETSTAT") out.simple("OK");
  else out.error(`ERR unknown subcommand '${decoder.decode(a[1])}'. Try CONFIG HELP.`);
});
def("command", -1, [], NO_KEYS, (a, out) => {
  const sub = a.length > 1 ? upper(a[1]) : "";
  const describe = (name: string, c: Command) => {
    out.array(6);
    out.bulkLatin1(name);
    out.integer(c.arity);
    out.array(c.flags.length);
    for (const f of c.flags) out.simple(f);
    for (const k of c.keys) out.integer(k);
  };
  if (sub === "") {
    out.array(COMMANDS.size);
    for (const [name, c] of COMMANDS) describe(name, c);
  } else if (sub === "COUNT") out.integer(COMMANDS.size);
  else if (sub === "DOCS") out.array(0); // no docs: clients (redis-cli) start without hints
  else if (sub === "LIST") {
    out.array(COMMANDS.size);
    for (const name of COMMANDS.keys()) out.bulkLatin1(name);
  } else if (sub === "INFO") {
    out.array(a.length - 2);
    for (let i = 2; i < a.length; i++) {
      const name = keyOf(a[i]).toLowerCase();
      const c = COMMANDS.get(name);
      if (c) describe(name, c);
      else out.array(-1);
    }
  } else out.error(`ERR unknown subcommand '${decoder.decode(a[1])}'. Try COMMAND HELP.`);
});

/**
 * Commands by the name as clients spell it (`GET`, `get`), so that a
 * request costs one lookup and no lower-casing; only names of real
 * commands are kept, at most {@linkcode SPELLINGS} of them.
 */
const bySpelling = new Map<string, [string, Command]>();
const SPELLINGS = 1024;

/** Runs one request, writing its reply (a RESP error for a bad command). */
export function execute(args: Request, out: ReplyWriter, s: Session): void {
  const spelled = keyOf(args[0]);
  let found = bySpelling.get(spelled);
  if (found === undefined) {
    const lower = spelled.toLowerCase();
    const c = COMMANDS.get(lower);
    if (c !== undefined) {
      found = [lower, c];
      if (bySpelling.size < SPELLINGS) bySpelling.set(spelled, found);
    }
  }
  const [name, cmd] = found ?? [spelled.toLowerCase(), undefined];
  if (cmd === undefined) {
    const shown = args.slice(1, 20).map((b) => `'${decoder.decode(b.subarray(0, 128))}'`).join(" ");
    return out.error(
      `ERR unknown command '${
        decoder.decode(args[0].subarray(0, 128))
      }', with args beginning with: ${shown}`,
    );
  }
  if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) {
    return out.error(`ERR wrong number of arguments for '${name}' command`);
  }
  cmd.run(args, out, s);
}
