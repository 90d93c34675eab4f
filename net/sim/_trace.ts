/**
 * The run's trace: every call each host made with its result, every
 * segment sent, delivered or dropped, every fault, in order, and a 64-bit
 * digest of it (FNV-1a lanes), so that two runs compare by one string and,
 * when they differ, by their first differing event.
 *
 * Recording is the simulation's hottest path (a day of heartbeats is some
 * 130,000 events), so a record is a few numbers stored into a chunk of a
 * `Float64Array` log (which the garbage collector never scans), strings
 * are numbered once (host names, kinds, call names, addresses), and the
 * {@linkcode SimTraceEvent} objects with their one-line text are built
 * only when someone reads {@linkcode Trace.events}. The text is the same
 * as if it had been formatted at once.
 *
 * The digest is a function of the text: it covers the log's numbers (by
 * their 64 bits, each chunk as it fills and the rest when the digest is
 * asked for) and, in lanes of their own, the numbered strings and the
 * notes' texts in the order they first appeared (the numbering follows
 * that order, so the same text gives the same numbers).
 *
 * Every write into the trace goes through this module: `note` (a line of
 * text), `segment` (a segment sent, delivered or dropped) and `call` (a
 * host's call and its result).
 *
 * @module
 */

import type { Segment } from "./_segment.ts";
import { flagText } from "./_segment.ts";

/** One event of a run. */
export interface SimTraceEvent {
  /** Virtual time in milliseconds. */
  at: number;
  /** The host it concerns (`"sim"` for the network itself). */
  host: string;
  /** `call`, `send`, `deliver`, `drop`, `fault`, `tcp`, `host`. */
  kind: string;
  /** What happened, as one line. */
  text: string;
}

/** Formats an event as one line: `12.5ms a call read(3) = 5`. */
export function formatEvent(e: SimTraceEvent): string {
  return `${e.at}ms ${e.host} ${e.kind} ${e.text}`;
}

const MS = 1_000_000;
/** Numbers per chunk of the log (256 KiB). */
const CHUNK = 1 << 15;

// Record layout: [op, at (ns), host (string number), ...operands].
const NOTE = 0; // kind, text (index into #texts)
const SEGMENT = 1; // kind, why (string number or -1), src addr, src port, dst addr, dst port, flags, seq, ack, wnd, len, proto

/** A segment's `proto`, as a number. */
const PROTOS = ["tcp", "udp", "icmp"] as const;
const CALL = 2; // name, argc, threw (0/1), argc x (tag, value), result (tag, value)

// How a call's argument or result is shown (`show`): a tag and a number.
const T_NUMBER = 0; // the number
const T_TRUE = 1;
const T_FALSE = 2;
const T_STRING = 3; // string number (shown quoted)
const T_BYTES = 4; // length: `[n bytes]`
const T_ARRAY = 5; // length: `[n]`
const T_ENDPOINT = 6; // string number of `address:port`
const T_NULL = 7;
const T_UNDEFINED = 8; // `-`
const T_OBJECT = 9; // `{}`
const T_ERROR = 10; // string number of its name
const T_SIGNAL = 11; // `signal`
const T_EVENTS = 12; // `{events: n}` (an epoll event)
const T_SHOWN = 13; // string number of the text shown (a timespec: `1s500ns`)

/**
 * Mixes the numbers whose 32-bit words are `[from, to)` into `digest`
 * (FNV-1a: the low words into one lane, the high words into the other).
 */
function mix(digest: Int32Array, words: Int32Array, from: number, to: number): void {
  let h1 = digest[0], h2 = digest[1];
  for (let i = from; i < to; i += 2) {
    h1 = Math.imul(h1 ^ words[i], 0x01000193);
    h2 = Math.imul(h2 ^ words[i + 1], 0x01000193);
  }
  digest[0] = h1;
  digest[1] = h2;
}

/** The trace of one network. */
export class Trace {
  /** The log: records never straddle two chunks (growing one big array would copy it). */
  #chunks: Float64Array[] = [new Float64Array(CHUNK)];
  /** How much of each full chunk is used (the last one's is {@linkcode Trace.#len}). */
  #used: number[] = [];
  #log: Float64Array = this.#chunks[0];
  #len = 0;
  #strings: string[] = [];
  #ids = new Map<string, number>();
  #texts: string[] = [];
  /** The digest of the log up to {@linkcode Trace.#hashed} in the last chunk. */
  #digest = Int32Array.of(0x811c9dc5, 0x01000193 ^ 0x5bd1e995);
  #hashed = 0;
  /** The digest of the strings, as they are numbered. */
  #s1 = 0x811c9dc5;
  #s2 = 0x01000193 ^ 0x5bd1e995;
  #events: SimTraceEvent[] = [];
  /** The commonest kinds, numbered first (every trace numbers them the same). */
  readonly #send = this.#id("send");
  readonly #deliver = this.#id("deliver");
  /** Where in the log {@linkcode Trace.events} stopped decoding. */
  #decodedChunk = 0;
  #decoded = 0;

  /**
   * Every event so far, decoded on demand (the same array each time,
   * extended with what was recorded since the last read).
   */
  get events(): SimTraceEvent[] {
    for (;;) {
      this.#decode(this.#chunks[this.#decodedChunk], this.#filled(this.#decodedChunk));
      if (this.#decodedChunk === this.#chunks.length - 1) return this.#events;
      this.#decodedChunk++;
      this.#decoded = 0;
    }
  }

  #filled(chunk: number): number {
    return chunk === this.#chunks.length - 1 ? this.#len : this.#used[chunk];
  }

  #decode(log: Float64Array, end: number): void {
    let i = this.#decoded;
    while (i < end) {
      const op = log[i], at = log[i + 1] / MS, host = this.#strings[log[i + 2]];
      i += 3;
      if (op === NOTE) {
        this.#events.push({ at, host, kind: this.#strings[log[i]], text: this.#texts[log[i + 1]] });
        i += 2;
      } else if (op === SEGMENT) {
        // The same text as `describe()` (_segment.ts), after the drop's reason.
        const s = this.#strings, proto = PROTOS[log[i + 11]];
        const why = log[i + 1] < 0 ? "" : `${s[log[i + 1]]} `;
        const ends = `${s[log[i + 2]]}:${log[i + 3]}>${s[log[i + 4]]}:${log[i + 5]}`;
        const text = proto === "udp"
          ? `${why}${ends} udp len=${log[i + 10]}`
          : proto === "icmp"
          ? `${why}${ends} icmp port-unreachable`
          : `${why}${ends} ${flagText(log[i + 6])} seq=${log[i + 7]} ack=${log[i + 8]} ` +
            `wnd=${log[i + 9]} len=${log[i + 10]}`;
        this.#events.push({ at, host, kind: s[log[i]], text });
        i += 12;
      } else {
        const name = this.#strings[log[i]], argc = log[i + 1], threw = log[i + 2] === 1;
        i += 3;
        const args: string[] = [];
        for (let a = 0; a < argc; a++, i += 2) args.push(this.#show(log[i], log[i + 1]));
        const result = this.#show(log[i], log[i + 1]);
        const text = `${name}(${args.join(", ")}) = ${threw ? "throws " : ""}${result}`;
        i += 2;
        this.#events.push({ at, host, kind: "call", text });
      }
    }
    this.#decoded = i;
  }

  /** A line of text: a fault, a TCP note, a host's start or end. */
  note(atNs: number, host: string, kind: string, text: string): void {
    this.#texts.push(text);
    this.#hashString(text);
    const h = this.#id(host), k = this.#id(kind);
    const log = this.#room(5), i = this.#len;
    log[i] = NOTE;
    log[i + 1] = atNs;
    log[i + 2] = h;
    log[i + 3] = k;
    log[i + 4] = this.#texts.length - 1;
    this.#len = i + 5;
  }

  /** A segment sent, delivered or dropped (`why`: the drop's reason). */
  segment(atNs: number, host: string, kind: string, seg: Segment, why?: string): void {
    const h = this.#id(host), src = this.#id(seg.src.address), dst = this.#id(seg.dst.address);
    const k = kind === "send" ? this.#send : kind === "deliver" ? this.#deliver : this.#id(kind);
    const w = why === undefined ? -1 : this.#id(why);
    const log = this.#room(15), i = this.#len;
    log[i] = SEGMENT;
    log[i + 1] = atNs;
    log[i + 2] = h;
    log[i + 3] = k;
    log[i + 4] = w;
    log[i + 5] = src;
    log[i + 6] = seg.src.port;
    log[i + 7] = dst;
    log[i + 8] = seg.dst.port;
    log[i + 9] = seg.flags;
    log[i + 10] = seg.seq;
    log[i + 11] = seg.ack;
    log[i + 12] = seg.wnd;
    log[i + 13] = seg.data.length;
    log[i + 14] = seg.proto === "tcp" ? 0 : seg.proto === "udp" ? 1 : 2;
    this.#len = i + 15;
  }

  /**
   * A host's call `name(...args)` and what it returned (or its promise
   * resolved to), or, when `threw`, what it threw (or rejected with). Only
   * the first `argc` arguments are shown (a caller leaves out trailing
   * ones it did not pass).
   */
  call(
    atNs: number,
    host: string,
    name: string,
    args: readonly unknown[],
    result: unknown,
    threw: boolean,
    argc: number,
  ): void {
    const h = this.#id(host), n = this.#id(name);
    const log = this.#room(8 + 2 * argc);
    let i = this.#len;
    log[i] = CALL;
    log[i + 1] = atNs;
    log[i + 2] = h;
    log[i + 3] = n;
    log[i + 4] = argc;
    log[i + 5] = threw ? 1 : 0;
    i += 6;
    for (let a = 0; a < argc; a++) i = this.#value(log, i, args[a]);
    this.#len = this.#value(log, i, result);
  }

  /** The digest so far, as 16 hex digits. */
  hash(): string {
    this.#hashLog();
    const x = Math.imul(this.#digest[0] ^ this.#s1, 0x01000193);
    const y = Math.imul(this.#digest[1] ^ this.#s2, 0x01000193);
    return (x >>> 0).toString(16).padStart(8, "0") + (y >>> 0).toString(16).padStart(8, "0");
  }

  /** Brings the log's digest up to its end (a chunk is hashed as it fills, so this stays warm). */
  #hashLog(): void {
    mix(this.#digest, new Int32Array(this.#log.buffer), this.#hashed * 2, this.#len * 2);
    this.#hashed = this.#len;
  }

  #show(tag: number, v: number): string {
    switch (tag) {
      case T_NUMBER:
        return String(v);
      case T_TRUE:
        return "true";
      case T_FALSE:
        return "false";
      case T_STRING:
        return JSON.stringify(this.#strings[v]);
      case T_BYTES:
        return `[${v} bytes]`;
      case T_ARRAY:
        return `[${v}]`;
      case T_ENDPOINT:
      case T_ERROR:
      case T_SHOWN:
        return this.#strings[v];
      case T_SIGNAL:
        return "signal";
      case T_EVENTS:
        return `{events: ${v}}`;
      case T_NULL:
        return "null";
      case T_UNDEFINED:
        return "-";
      default:
        return "{}";
    }
  }

  /** Writes how `v` is shown (a tag and a number) at `log[i]`; returns the index after it. */
  #value(log: Float64Array, i: number, v: unknown): number {
    let tag: number, x = 0;
    if (typeof v === "number") (tag = T_NUMBER), (x = v);
    else if (typeof v === "boolean") tag = v ? T_TRUE : T_FALSE;
    else if (typeof v === "string") (tag = T_STRING), (x = this.#id(v));
    else if (v instanceof Uint8Array) (tag = T_BYTES), (x = v.length);
    else if (Array.isArray(v)) (tag = T_ARRAY), (x = v.length);
    else if (v instanceof Error) (tag = T_ERROR), (x = this.#id(String(v.name)));
    else if (v instanceof AbortSignal) tag = T_SIGNAL;
    else if (v === null) tag = T_NULL;
    else if (v === undefined) tag = T_UNDEFINED;
    else if (typeof v !== "object") tag = T_OBJECT;
    else if ("port" in v) {
      const a = v as { address?: string; port: number };
      (tag = T_ENDPOINT), (x = this.#id(`${a.address}:${a.port}`));
    } else if ("events" in v) {
      const e = (v as { events: unknown }).events;
      if (typeof e === "number") (tag = T_EVENTS), (x = e);
      else (tag = T_SHOWN), (x = this.#id(`{events: ${e}}`));
    } else if ("sec" in v) {
      const t = v as { sec: number; nsec: number };
      (tag = T_SHOWN), (x = this.#id(`${t.sec}s${t.nsec}ns`));
    } else tag = T_OBJECT;
    log[i] = tag;
    log[i + 1] = x;
    return i + 2;
  }

  /** The number of a string; a new one's characters enter the digest. */
  #id(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#strings.length;
      this.#strings.push(s);
      this.#ids.set(s, id);
      this.#hashString(s);
    }
    return id;
  }

  #hashString(s: string): void {
    let h1 = this.#s1, h2 = this.#s2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x01000193);
    }
    // The length ends the string, so that "ab" + "c" and "a" + "bc" differ.
    this.#s1 = Math.imul(h1 ^ s.length, 0x01000193);
    this.#s2 = Math.imul(h2 ^ ~s.length, 0x01000193);
  }

  /** The chunk a record of `n` numbers goes in, at {@linkcode Trace.#len}. */
  #room(n: number): Float64Array {
    if (this.#len + n <= this.#log.length) return this.#log;
    this.#hashLog();
    this.#hashed = 0;
    this.#used.push(this.#len);
    this.#log = new Float64Array(Math.max(CHUNK, n));
    this.#chunks.push(this.#log);
    this.#len = 0;
    return this.#log;
  }
}
