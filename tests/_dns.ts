/**
 * What the DNS codec tests (`dns_*_test.ts`) share: the zone they answer
 * from, queries built byte by byte, and replies decoded without the codec
 * under test (so a test never checks the codec against itself).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  CLASS,
  FLAG,
  HEADER_SIZE,
  isMalformed,
  type Malformed,
  parseQuery,
  readName,
  TYPE,
} from "../examples/_dns_wire.ts";
import { buildError, buildReply, REPLY_BUFFER } from "../examples/_dns_reply.ts";
import { parseZone } from "../examples/_dns_zone.ts";

export const ZONE = parseZone(`
$ORIGIN example.test.
$TTL 300
@      IN SOA ns.example.test. hostmaster.example.test. (
              7 3600 900 604800 60 ) ; serial refresh retry expire minimum
@         NS    ns
ns        A     192.0.2.53
www    60 A     192.0.2.1
          AAAA  2001:db8::1
alias     CNAME www
chain     CNAME alias
loop1     CNAME loop2
loop2     CNAME loop1
away      CNAME www.elsewhere.test.
info      TXT   "hello, world" "second string"
big       TXT   "${"a".repeat(200)}" "${"b".repeat(200)}" "${"c".repeat(200)}"
deep.a.b  A     192.0.2.9
`);

// ---------------------------------------------------------------- building queries

export interface QueryOptions {
  id?: number;
  flags?: number;
  qtype?: number;
  qclass?: number;
  /** EDNS UDP size; with `version` and `opts` the OPT record. */
  edns?: number;
  version?: number;
}

/** A name's uncompressed wire bytes. */
export function wireName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter((l) => l !== "")) {
    const b = new TextEncoder().encode(label);
    out.push(b.length, ...b);
  }
  return [...out, 0];
}

export function be16(v: number): number[] {
  return [v >> 8, v & 0xff];
}

export function query(name: string, o: QueryOptions = {}): Uint8Array {
  const opt = o.edns === undefined
    ? []
    : [0, ...be16(TYPE.OPT), ...be16(o.edns), 0, o.version ?? 0, 0, 0, 0, 0];
  return new Uint8Array([
    ...be16(o.id ?? 0x1234),
    ...be16(o.flags ?? FLAG.RD),
    ...be16(1),
    0,
    0,
    0,
    0,
    ...be16(opt.length ? 1 : 0),
    ...wireName(name),
    ...be16(o.qtype ?? TYPE.A),
    ...be16(o.qclass ?? CLASS.IN),
    ...opt,
  ]);
}

// ---------------------------------------------------------------- reading replies

export interface Record {
  name: string;
  type: number;
  ttl: number;
  rdata: Uint8Array;
}

export interface Reply {
  id: number;
  flags: number;
  rcode: number;
  question: Uint8Array;
  answer: Record[];
  authority: Record[];
  additional: Record[];
}

/** Decodes a reply strictly (every bound checked by readName and here); throws if malformed. */
export function decode(msg: Uint8Array): Reply {
  assert.ok(msg.length >= HEADER_SIZE, "reply shorter than a header");
  const u16 = (at: number) => {
    assert.ok(at + 2 <= msg.length, "reply cut short");
    return (msg[at] << 8) | msg[at + 1];
  };
  const counts = [u16(4), u16(6), u16(8), u16(10)];
  let pos = HEADER_SIZE;
  const qStart = pos;
  for (let i = 0; i < counts[0]; i++) {
    const n = readName(msg, pos);
    assert.ok(n, "bad question name in reply");
    pos = n.end + 4;
  }
  const question = msg.slice(qStart, pos);
  const sections: Record[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const n = readName(msg, pos);
      assert.ok(n, "bad record name in reply");
      const type = u16(n.end), ttl = (u16(n.end + 4) << 16 | u16(n.end + 6)) >>> 0;
      const len = u16(n.end + 8);
      assert.ok(n.end + 10 + len <= msg.length, "RDATA past the end of the reply");
      sections[s].push({ name: n.key, type, ttl, rdata: msg.slice(n.end + 10, n.end + 10 + len) });
      pos = n.end + 10 + len;
    }
  }
  assert.equal(pos, msg.length, "bytes after the last record of the reply");
  const flags = u16(2);
  const [answer, authority, additional] = sections;
  return { id: u16(0), flags, rcode: flags & 0xf, question, answer, authority, additional };
}

/** The buffer every reply is built into. */
export const out = new Uint8Array(REPLY_BUFFER);

/** Parses `msg` as the server would and returns the decoded reply, or null for silence. */
export function ask(msg: Uint8Array): Reply | null {
  const q = parseQuery(msg);
  if (isMalformed(q)) return q.kind === "silent" ? null : decode(out.slice(0, buildError(q, out)));
  return decode(out.slice(0, buildReply(q, ZONE, out)));
}

/** The reply to `msg`, which must get one. */
export function answerOf(msg: Uint8Array): Reply {
  const r = ask(msg);
  assert.ok(r, "no reply");
  return r;
}

/** `msg` parsed, asserted to be malformed. */
export function malformed(msg: Uint8Array): Malformed {
  const q = parseQuery(msg);
  assert.ok(isMalformed(q), "expected a malformed query");
  return q;
}
