/**
 * The zone an authoritative DNS server answers for: records read from
 * master-file text (RFC 1035 section 5), kept by owner name and type.
 *
 * The text accepted is the common subset that NSD and BIND read too, so one
 * file serves both (the benchmark runs NSD on the same file):
 *
 * ```text
 * $ORIGIN example.test.
 * $TTL 300
 * @     IN SOA ns.example.test. hostmaster.example.test. ( 1 3600 900 604800 300 )
 * @     IN NS  ns
 * ns       A   192.0.2.53
 * www  60  A   192.0.2.1
 *          AAAA 2001:db8::1
 * alias    CNAME www
 * info     TXT "hello, world" "a second string"
 * ```
 *
 * Owners may be relative (to `$ORIGIN`), absolute (ending in `.`), `@`, or
 * left blank to repeat the previous owner; TTL and class (only `IN`) are
 * optional and may come in either order; `;` starts a comment; parentheses
 * continue a record over lines. Types: A, AAAA, CNAME, TXT, NS, SOA. Every
 * name must be at or below the origin; a CNAME may not share its owner with
 * other data. Without an SOA one is made up (`ns.ORIGIN. hostmaster.ORIGIN.
 * 1 3600 900 604800 300`), since negative answers carry it. No wildcards, no
 * delegations (an NS below the origin is served as plain data).
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "../net/native/sockaddr_codec.ts";
import { MAX_LABEL, MAX_NAME, nameKey, TYPE } from "./_dns_wire.ts";

/** A domain name: its labels (bytes, case kept) and its key (see `_dns_wire.ts`). */
export interface Name {
  /** The labels, leftmost first; none for the root. */
  labels: Uint8Array[];
  /** The name's key. */
  key: string;
}

/** One piece of RDATA: raw bytes, or a name (which a reply may compress). */
export type RdataPart = Uint8Array | Name;

/** One resource record. */
export interface Rr {
  /** The owner. */
  name: Name;
  /** The record type (`TYPE.A`, ...). */
  type: number;
  /** Time to live, seconds. */
  ttl: number;
  /** The RDATA, in order. */
  rdata: RdataPart[];
}

/** A zone: its origin, its SOA, and every record by owner key and type. */
export interface Zone {
  /** The zone's apex. */
  origin: Name;
  /** The SOA record (read or made up). */
  soa: Rr;
  /** Records by owner key, then by type. Names that only have descendants map to an empty Map. */
  nodes: Map<string, Map<number, Rr[]>>;
}

/** A zone text that cannot be read: the line and what is wrong. */
export class ZoneError extends Error {
  /** @param line 1-based line number, 0 for the zone as a whole. */
  constructor(readonly line: number, message: string) {
    super(line > 0 ? `zone line ${line}: ${message}` : `zone: ${message}`);
    this.name = "ZoneError";
  }
}

const TYPES: Record<string, number> = {
  A: TYPE.A,
  AAAA: TYPE.AAAA,
  CNAME: TYPE.CNAME,
  TXT: TYPE.TXT,
  NS: TYPE.NS,
  SOA: TYPE.SOA,
};

/** Whether `name` is `origin` or below it. */
export function inZone(key: string, origin: string): boolean {
  return origin === "" || key === origin || key.endsWith(`.${origin}`);
}

/** Reads escapes (`\X`, `\DDD`) of presentation text into bytes; null for a bad escape. */
function unescape(text: string): Uint8Array | null {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === 0x5c) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        c = Number(d);
        if (c > 255) return null;
        i += 3;
      } else if (i + 1 < text.length) c = text.charCodeAt(++i);
      else return null;
    }
    if (c > 0xff) {
      for (const b of new TextEncoder().encode(String.fromCharCode(c))) out.push(b);
    } else out.push(c);
  }
  return new Uint8Array(out);
}

/** Parses a name in presentation form, relative ones under `origin`. Throws ZoneError. */
export function parseName(text: string, origin: Name | null, line = 0): Name {
  if (text === "@") {
    if (origin === null) throw new ZoneError(line, "@ used before an origin is known");
    return origin;
  }
  // Split on the dots that are not escaped; a final one makes the name absolute.
  const parts: string[] = [""];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") parts[parts.length - 1] += c + (text[++i] ?? "");
    else if (c === ".") parts.push("");
    else parts[parts.length - 1] += c;
  }
  const absolute = parts.length > 1 && parts[parts.length - 1] === "";
  if (absolute) parts.pop();
  if (text === ".") parts.pop();
  const labels: Uint8Array[] = [];
  for (const part of parts) {
    const label = unescape(part);
    if (label === null || label.length === 0) throw new ZoneError(line, `bad name "${text}"`);
    if (label.length > MAX_LABEL) throw new ZoneError(line, `label over 63 bytes in "${text}"`);
    labels.push(label);
  }
  if (!absolute) {
    if (origin === null) throw new ZoneError(line, `relative name "${text}" without an origin`);
    labels.push(...origin.labels);
  }
  if (labels.reduce((n, l) => n + l.length + 1, 1) > MAX_NAME) {
    throw new ZoneError(line, `name over 255 bytes: "${text}"`);
  }
  return { labels, key: nameKey(labels) };
}

/** Splits master-file text into logical records: tokens, and whether the owner was left blank. */
function* records(text: string): Generator<{ line: number; blank: boolean; tokens: string[] }> {
  let tokens: string[] = [];
  let depth = 0;
  let start = 0;
  let blank = false;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    if (depth === 0) {
      start = n + 1;
      blank = /^[ \t]/.test(raw);
      tokens = [];
    }
    const re = /"((?:\\.|[^"\\])*)"|;.*$|[()]|(?:\\.|[^\s"();\\])+/g;
    for (const m of raw.matchAll(re)) {
      const t = m[0];
      if (t.startsWith(";")) break;
      if (t === "(") depth++;
      else if (t === ")") {
        if (--depth < 0) throw new ZoneError(n + 1, "unbalanced )");
      } else tokens.push(t);
    }
    if (/"[^"]*$/.test(raw.replace(/"((?:\\.|[^"\\])*)"/g, "").replace(/;.*$/, ""))) {
      throw new ZoneError(n + 1, "unterminated quoted string");
    }
    if (depth === 0 && tokens.length > 0) yield { line: start, blank, tokens };
  }
  if (depth !== 0) throw new ZoneError(start, "unbalanced (");
}

function ttlOf(text: string, line: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0x7fffffff) {
    throw new ZoneError(line, `bad TTL "${text}"`);
  }
  return Number(text);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Encodes one record's RDATA from its presentation tokens. */
function rdataOf(type: number, args: string[], origin: Name, line: number): RdataPart[] {
  const want = (n: number) => {
    if (args.length !== n) {
      throw new ZoneError(line, `expected ${n} field(s) of RDATA, got ${args.length}`);
    }
  };
  switch (type) {
    case TYPE.A: {
      want(1);
      const a = parseIPv4(args[0]);
      if (a === null) throw new ZoneError(line, `bad IPv4 address "${args[0]}"`);
      return [a];
    }
    case TYPE.AAAA: {
      want(1);
      const a = parseIPv6(args[0]);
      if (a === null) throw new ZoneError(line, `bad IPv6 address "${args[0]}"`);
      return [a];
    }
    case TYPE.CNAME:
    case TYPE.NS:
      want(1);
      return [parseName(args[0], origin, line)];
    case TYPE.SOA:
      want(7);
      return [
        parseName(args[0], origin, line),
        parseName(args[1], origin, line),
        ...args.slice(2).map((t) => u32(ttlOf(t, line))),
      ];
    case TYPE.TXT: {
      if (args.length === 0) throw new ZoneError(line, "TXT needs at least one string");
      return args.map((t) => {
        const s = unescape(t.startsWith('"') ? t.slice(1, -1) : t);
        if (s === null || s.length > 255) {
          throw new ZoneError(line, `bad or over-long (255 bytes) TXT string ${t}`);
        }
        return new Uint8Array([s.length, ...s]);
      });
    }
  }
  throw new ZoneError(line, `unsupported type ${type}`);
}

/**
 * Reads a zone from master-file text. `origin` is used until a `$ORIGIN`
 * line; without either, the first owner must be absolute and the SOA's owner
 * (or the first owner) becomes the origin. Throws {@linkcode ZoneError}.
 */
export function parseZone(text: string, origin?: string): Zone {
  let current: Name | null = origin === undefined
    ? null
    : parseName(origin.replace(/\.?$/, "."), null);
  let apex: Name | null = current;
  let defaultTtl = 3600;
  let owner: Name | null = null;
  const rrs: Rr[] = [];
  for (const { line, blank, tokens } of records(text)) {
    if (tokens[0].startsWith("$")) {
      const [directive, arg] = tokens;
      if (directive === "$ORIGIN" && tokens.length === 2) {
        current = parseName(arg, current, line);
        apex ??= current;
      } else if (directive === "$TTL" && tokens.length === 2) defaultTtl = ttlOf(arg, line);
      else throw new ZoneError(line, `unsupported directive ${tokens.join(" ")}`);
      continue;
    }
    let i = 0;
    if (!blank) owner = parseName(tokens[i++], current, line);
    if (owner === null) throw new ZoneError(line, "no owner name");
    let ttl = defaultTtl;
    for (let k = 0; k < 2 && i < tokens.length; k++) {
      if (/^\d+$/.test(tokens[i])) ttl = ttlOf(tokens[i++], line);
      else if (tokens[i].toUpperCase() === "IN") i++;
    }
    const typeName = (tokens[i++] ?? "").toUpperCase();
    const type = TYPES[typeName];
    if (type === undefined) {
      throw new ZoneError(line, `unsupported record type "${typeName}" (A AAAA CNAME TXT NS SOA)`);
    }
    if (type === TYPE.SOA) apex ??= owner;
    rrs.push({
      name: owner,
      type,
      ttl,
      rdata: rdataOf(type, tokens.slice(i), current ?? owner, line),
    });
  }
  apex ??= rrs[0]?.name ?? null;
  if (apex === null) throw new ZoneError(0, "no origin: give $ORIGIN or an origin");
  return buildZone(apex, rrs);
}

function buildZone(origin: Name, rrs: Rr[]): Zone {
  const nodes = new Map<string, Map<number, Rr[]>>();
  const node = (key: string) => {
    let n = nodes.get(key);
    if (n === undefined) nodes.set(key, n = new Map());
    return n;
  };
  node(origin.key);
  let soa: Rr | null = null;
  for (const rr of rrs) {
    if (!inZone(rr.name.key, origin.key)) {
      throw new ZoneError(0, `${rr.name.key}. is outside the zone ${origin.key}.`);
    }
    if (rr.type === TYPE.SOA) {
      if (rr.name.key !== origin.key || soa !== null) {
        throw new ZoneError(0, "one SOA, at the origin, is allowed");
      }
      soa = rr;
    }
    const set = node(rr.name.key);
    const list = set.get(rr.type) ?? [];
    list.push(rr);
    set.set(rr.type, list);
    const hasCname = set.has(TYPE.CNAME);
    if (hasCname && (set.size > 1 || list.length > 1 && rr.type === TYPE.CNAME)) {
      throw new ZoneError(0, `${rr.name.key}.: a CNAME must be the only record of its name`);
    }
    // Empty non-terminals exist: their descendants do (NOERROR, no data).
    for (let i = 1; i < rr.name.labels.length - origin.labels.length; i++) {
      node(nameKey(rr.name.labels.slice(i)));
    }
  }
  if (soa === null) {
    const made = parseZone(
      `@ 3600 IN SOA ns hostmaster 1 3600 900 604800 300`,
      `${origin.key}.`,
    ).soa;
    soa = { ...made, name: origin };
    node(origin.key).set(TYPE.SOA, [soa]);
  }
  return { origin, soa, nodes };
}

/**
 * Records given on a command line, separated by commas outside quotes
 * (`"www A 192.0.2.1, www AAAA 2001:db8::1, info TXT \"a, b\""`), as zone text.
 */
export function recordsText(list: string): string {
  return (list.match(/(?:"(?:\\.|[^"\\])*"|[^,"])+/g) ?? []).map((r) => r.trim()).join("\n");
}
