/**
 * The DNS server example's codec (examples/_dns_wire.ts, _dns_reply.ts,
 * _dns_zone.ts): answers for every record type, the negative answers,
 * truncation and EDNS, every kind of malformed packet, and a seeded fuzz of
 * random and mutated packets. No sockets: dns_server_test.ts runs the server.
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
  type Query,
  RCODE,
  readName,
  TYPE,
} from "../examples/_dns_wire.ts";
import { buildError, buildReply, MAX_UDP, REPLY_BUFFER } from "../examples/_dns_reply.ts";
import { parseZone, recordsText, ZoneError } from "../examples/_dns_zone.ts";
import { MAX_ENTRIES, ReplyCache } from "../examples/_dns_cache.ts";
import { pattern } from "./_helpers.ts";

const ZONE = parseZone(`
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

interface QueryOptions {
  id?: number;
  flags?: number;
  qtype?: number;
  qclass?: number;
  /** EDNS UDP size; with `version` and `opts` the OPT record. */
  edns?: number;
  version?: number;
}

/** A name's uncompressed wire bytes. */
function wireName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter((l) => l !== "")) {
    const b = new TextEncoder().encode(label);
    out.push(b.length, ...b);
  }
  return [...out, 0];
}

function be16(v: number): number[] {
  return [v >> 8, v & 0xff];
}

function query(name: string, o: QueryOptions = {}): Uint8Array {
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

interface Record {
  name: string;
  type: number;
  ttl: number;
  rdata: Uint8Array;
}

interface Reply {
  id: number;
  flags: number;
  rcode: number;
  question: Uint8Array;
  answer: Record[];
  authority: Record[];
  additional: Record[];
}

/** Decodes a reply strictly (every bound checked by readName and here); throws if malformed. */
function decode(msg: Uint8Array): Reply {
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

const out = new Uint8Array(REPLY_BUFFER);

/** Parses `msg` as the server would and returns the decoded reply, or null for silence. */
function ask(msg: Uint8Array): Reply | null {
  const q = parseQuery(msg);
  if (isMalformed(q)) return q.kind === "silent" ? null : decode(out.slice(0, buildError(q, out)));
  return decode(out.slice(0, buildReply(q, ZONE, out)));
}

function answerOf(msg: Uint8Array): Reply {
  const r = ask(msg);
  assert.ok(r, "no reply");
  return r;
}

function malformed(msg: Uint8Array): Malformed {
  const q = parseQuery(msg);
  assert.ok(isMalformed(q), "expected a malformed query");
  return q;
}

// ---------------------------------------------------------------- answers

Deno.test("an A query is answered with the record, AA set, the ID and the question's case kept", () => {
  const msg = query("WWW.Example.TEST", { id: 0xbeef });
  const r = answerOf(msg);
  assert.equal(r.id, 0xbeef);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.ok(r.flags & FLAG.QR && r.flags & FLAG.AA && r.flags & FLAG.RD);
  assert.ok(!(r.flags & FLAG.TC));
  assert.deepEqual(r.question, msg.slice(HEADER_SIZE));
  assert.equal(r.answer.length, 1);
  assert.deepEqual(r.answer[0], {
    name: "www.example.test",
    type: TYPE.A,
    ttl: 60,
    rdata: new Uint8Array([192, 0, 2, 1]),
  });
  // The owner is compressed to a pointer at the question's name.
  const raw = out.slice(0, buildReply(parseQuery(msg) as Query, ZONE, out));
  assert.deepEqual([...raw.subarray(msg.length, msg.length + 2)], [0xc0, HEADER_SIZE]);
});

Deno.test("AAAA, TXT, NS and SOA queries get their records", () => {
  const aaaa = answerOf(query("www.example.test", { qtype: TYPE.AAAA })).answer;
  assert.deepEqual(aaaa.map((a) => a.rdata), [
    new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]),
  ]);
  const txt = answerOf(query("info.example.test", { qtype: TYPE.TXT })).answer[0].rdata;
  const s = new TextEncoder().encode("hello, world");
  const t = new TextEncoder().encode("second string");
  assert.deepEqual(txt, new Uint8Array([s.length, ...s, t.length, ...t]));
  assert.equal(answerOf(query("example.test", { qtype: TYPE.NS })).answer[0].type, TYPE.NS);
  const soa = answerOf(query("example.test", { qtype: TYPE.SOA })).answer;
  assert.deepEqual(soa.map((a) => [a.type, a.ttl]), [[TYPE.SOA, 300]]);
});

Deno.test("a CNAME is followed inside the zone; asked for itself it is the only answer", () => {
  const r = answerOf(query("chain.example.test"));
  assert.deepEqual(r.answer.map((a) => [a.name, a.type]), [
    ["chain.example.test", TYPE.CNAME],
    ["alias.example.test", TYPE.CNAME],
    ["www.example.test", TYPE.A],
  ]);
  const c = answerOf(query("alias.example.test", { qtype: TYPE.CNAME }));
  assert.deepEqual(c.answer.map((a) => a.type), [TYPE.CNAME]);
  // "www" then a pointer to "example.test" inside the question's name.
  assert.deepEqual([...c.answer[0].rdata], [3, 0x77, 0x77, 0x77, 0xc0, HEADER_SIZE + 6]);
});

Deno.test("a CNAME loop ends after one turn, and a CNAME out of the zone is not followed", () => {
  const loop = answerOf(query("loop1.example.test"));
  assert.equal(loop.rcode, RCODE.NOERROR);
  assert.deepEqual(loop.answer.map((a) => a.name), ["loop1.example.test", "loop2.example.test"]);
  const away = answerOf(query("away.example.test"));
  assert.deepEqual(away.answer.map((a) => a.type), [TYPE.CNAME]);
});

Deno.test("a missing name is NXDOMAIN and a missing type NOERROR, both with the SOA (TTL capped by its minimum)", () => {
  const nx = answerOf(query("nope.example.test"));
  assert.equal(nx.rcode, RCODE.NXDOMAIN);
  assert.ok(nx.flags & FLAG.AA);
  assert.deepEqual(nx.authority.map((a) => [a.name, a.type, a.ttl]), [
    ["example.test", TYPE.SOA, 60],
  ]);
  const nodata = answerOf(query("www.example.test", { qtype: TYPE.TXT }));
  assert.equal(nodata.rcode, RCODE.NOERROR);
  assert.equal(nodata.answer.length, 0);
  assert.equal(nodata.authority[0].type, TYPE.SOA);
  // An empty non-terminal exists: NOERROR, not NXDOMAIN.
  assert.equal(answerOf(query("a.b.example.test")).rcode, RCODE.NOERROR);
  assert.equal(answerOf(query("deep.a.b.example.test")).answer.length, 1);
  // A CNAME chain into a missing name is NXDOMAIN with the CNAME (RFC 6604).
  const z = parseZone("$ORIGIN t.\n@ SOA ns hm 1 1 1 1 1\nx CNAME gone\n");
  const q = parseQuery(query("x.t")) as Query;
  const r = decode(out.slice(0, buildReply(q, z, out)));
  assert.equal(r.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(r.answer.map((a) => a.type), [TYPE.CNAME]);
});

Deno.test("other zones, other classes and other opcodes are refused or not implemented", () => {
  for (const name of ["example.com", "test", "xexample.test", ""]) {
    const r = answerOf(query(name));
    assert.equal(r.rcode, RCODE.REFUSED, name);
    assert.ok(!(r.flags & FLAG.AA));
  }
  assert.equal(answerOf(query("www.example.test", { qclass: 3 })).rcode, RCODE.REFUSED);
  const notify = answerOf(query("example.test", { flags: 4 << 11 }));
  assert.equal(notify.rcode, RCODE.NOTIMP);
  assert.equal((notify.flags >> 11) & 0xf, 4, "the opcode is echoed");
});

Deno.test("ANY gets every record of the name", () => {
  const r = answerOf(query("www.example.test", { qtype: TYPE.ANY }));
  assert.deepEqual(r.answer.map((a) => a.type).sort(), [TYPE.A, TYPE.AAAA]);
});

// ---------------------------------------------------------------- truncation and EDNS

Deno.test("a reply over 512 bytes without EDNS is truncated: TC, the question, no records", () => {
  const r = answerOf(query("big.example.test", { qtype: TYPE.TXT }));
  assert.ok(r.flags & FLAG.TC);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.equal(r.answer.length + r.authority.length + r.additional.length, 0);
  assert.equal(r.question.length, wireName("big.example.test").length + 4);
});

Deno.test("EDNS: the requester's UDP size is honoured and the reply carries an OPT record", () => {
  const bigQuery = (edns: number) => query("big.example.test", { qtype: TYPE.TXT, edns });
  const full = answerOf(bigQuery(4096));
  assert.ok(!(full.flags & FLAG.TC));
  assert.equal(full.answer.length, 1);
  assert.deepEqual(full.additional.map((a) => [a.name, a.type]), [["", TYPE.OPT]]);
  const opt = parseQuery(bigQuery(4096)) as Query;
  assert.ok(buildReply(opt, ZONE, out) <= MAX_UDP);
  for (const small of [600, 512, 0]) {
    const r = answerOf(bigQuery(small));
    assert.ok(r.flags & FLAG.TC, `size ${small}`);
    assert.deepEqual(r.additional.map((a) => a.type), [TYPE.OPT], "OPT kept when truncated");
  }
  const plain = answerOf(query("www.example.test", { edns: 1232 }));
  assert.equal(plain.additional.length, 1);
});

Deno.test("EDNS: a version other than 0 gets BADVERS in the OPT record's extended rcode", () => {
  const r = answerOf(query("www.example.test", { edns: 1232, version: 1 }));
  assert.equal(r.rcode, RCODE.BADVERS & 0xf);
  assert.equal(r.additional[0].type, TYPE.OPT);
  assert.equal(r.additional[0].ttl >>> 24, RCODE.BADVERS >> 4);
  assert.equal(r.answer.length, 0);
});

// ---------------------------------------------------------------- malformed packets

/** A header with these counts, then `body`. */
function packet(counts: number[], body: number[], flags = 0): Uint8Array {
  return new Uint8Array([0xab, 0xcd, ...be16(flags), ...counts.flatMap(be16), ...body]);
}

Deno.test("too short for a header, zero-length, or a response: no reply at all", () => {
  for (const msg of [new Uint8Array(0), new Uint8Array(11), query("x").slice(0, 5)]) {
    assert.equal(malformed(msg).kind, "silent");
    assert.equal(ask(msg), null);
  }
  assert.equal(ask(query("www.example.test", { flags: FLAG.QR })), null);
});

Deno.test("garbage after the header gets FORMERR with the ID, and nothing else", () => {
  const cases: [string, Uint8Array][] = [
    ["no question", packet([0, 0, 0, 0], [])],
    [
      "two questions",
      packet([2, 0, 0, 0], [...wireName("a"), 0, 1, 0, 1, ...wireName("b"), 0, 1, 0, 1]),
    ],
    ["question cut short", query("www.example.test").slice(0, -2)],
    ["name without its end", packet([1, 0, 0, 0], [3, 0x61, 0x62, 0x63])],
    ["label past the end", packet([1, 0, 0, 0], [50, 0x61, 0x62])],
    ["bytes after the records", new Uint8Array([...query("www.example.test"), 0])],
    ["answer count beyond the packet", packet([1, 0xffff, 0, 0], [...wireName("a"), 0, 1, 0, 1])],
    ["additional count beyond the packet", packet([1, 0, 0, 3], [...wireName("a"), 0, 1, 0, 1])],
    [
      "RDLENGTH past the end",
      packet([1, 1, 0, 0], [...wireName("a"), 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1]),
    ],
  ];
  for (const [what, msg] of cases) {
    const m = malformed(msg);
    assert.equal(m.kind, "formerr", what);
    const r = answerOf(msg);
    assert.equal(r.rcode, RCODE.FORMERR, what);
    assert.equal(r.id, (msg[0] << 8) | msg[1], what);
    assert.ok(r.flags & FLAG.QR);
    assert.equal(r.question.length + r.answer.length + r.additional.length, 0, what);
  }
});

Deno.test("compression pointers: loops, forward, into the header and out of range are refused", () => {
  const q = [0, 1, 0, 1];
  const cases: [string, number[]][] = [
    ["pointer to itself", [0xc0, 12, ...q]],
    ["pointer forward", [0xc0, 14, 1, 0x61, 0, ...q]],
    ["pointer into the header", [0xc0, 2, ...q]],
    ["pointer out of range", [0xc0 | 0x3f, 0xff, ...q]],
    ["pointer cut in half", [0xc0]],
    ["two-step loop", [1, 0x61, 0xc0, 12, ...q]],
  ];
  for (const [what, body] of cases) {
    assert.equal(malformed(packet([1, 0, 0, 0], body)).kind, "formerr", what);
  }
  // A loop in an answer's name, after a good question.
  const good = [...wireName("www.example.test"), ...q];
  const loopAt = HEADER_SIZE + good.length;
  const rr = [0xc0 | (loopAt >> 8), loopAt & 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0];
  assert.equal(malformed(packet([1, 1, 0, 0], [...good, ...rr])).kind, "formerr");
  // A backward pointer is fine: an answer record owned by the question's name.
  const ok = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
  assert.ok(!isMalformed(parseQuery(packet([1, 1, 0, 0], [...good, ...ok]))));
});

Deno.test("labels over 63 bytes (the 0x40 and 0x80 label types) and names over 255 bytes are refused", () => {
  const q = [0, 1, 0, 1];
  const label63 = [63, ...new Array(63).fill(0x61)];
  assert.ok(!isMalformed(parseQuery(packet([1, 0, 0, 0], [...label63, 0, ...q]))));
  for (const len of [64, 0x80, 0xbf]) {
    const body = [len, ...new Array(Math.min(len, 200)).fill(0x61), 0, ...q];
    assert.equal(malformed(packet([1, 0, 0, 0], body)).kind, "formerr", `length byte ${len}`);
  }
  // 4 labels of 63 bytes: 4 * 64 + 1 = 257 bytes.
  const long = [...label63, ...label63, ...label63, ...label63, 0, ...q];
  assert.equal(malformed(packet([1, 0, 0, 0], long)).kind, "formerr");
  // 253 characters in presentation form, 255 on the wire: the longest name is fine.
  const longest = [...label63, ...label63, ...label63, 61, ...new Array(61).fill(0x62), 0, ...q];
  assert.ok(!isMalformed(parseQuery(packet([1, 0, 0, 0], longest))));
});

Deno.test("OPT records: repeated, in the answer section, or not owned by the root get FORMERR", () => {
  const base = [...wireName("www.example.test"), 0, 1, 0, 1];
  const opt = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
  assert.ok(!isMalformed(parseQuery(packet([1, 0, 0, 1], [...base, ...opt]))));
  assert.equal(malformed(packet([1, 0, 0, 2], [...base, ...opt, ...opt])).kind, "formerr");
  assert.equal(malformed(packet([1, 1, 0, 0], [...base, ...opt])).kind, "formerr");
  const named = [1, 0x61, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(malformed(packet([1, 0, 0, 1], [...base, ...named])).kind, "formerr");
  const badOption = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 5, 0, 10, 0, 9, 1];
  assert.equal(malformed(packet([1, 0, 0, 1], [...base, ...badOption])).kind, "formerr");
});

Deno.test("a 64 KiB packet of records is walked within its bounds and answered FORMERR or normally", () => {
  const base = [...wireName("www.example.test"), 0, 1, 0, 1];
  const rr = [0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]; // 12 bytes, empty TXT
  const n = Math.floor((65535 - HEADER_SIZE - base.length) / rr.length);
  const body = [...base, ...new Array(n).fill(rr).flat()];
  const whole = packet([1, n, 0, 0], body);
  assert.ok(whole.length <= 65535);
  assert.ok(!isMalformed(parseQuery(whole)), "well-formed, if odd: it is answered");
  assert.equal(malformed(packet([1, n + 1, 0, 0], body)).kind, "formerr");
  // 64 KiB of noise, as a query with one question: FORMERR (the noise is no valid question).
  const junk = pattern(65535, 7);
  junk.set([0, 0, 0, 1], 2);
  assert.equal(answerOf(junk).rcode, RCODE.FORMERR);
});

// ---------------------------------------------------------------- the reply cache

Deno.test("the reply cache gives the bytes a fresh build gives, whatever the ID, case, RD bit and EDNS size", () => {
  const cache = new ReplyCache(ZONE);
  const fresh = new Uint8Array(REPLY_BUFFER), cached = new Uint8Array(REPLY_BUFFER);
  const names = ["www.example.test", "WWW.example.TEST", "chain.example.test", "nope.example.test"];
  let id = 0;
  for (let round = 0; round < 3; round++) {
    for (const name of [...names, "big.example.test", "example.com"]) {
      for (const qtype of [TYPE.A, TYPE.AAAA, TYPE.TXT, TYPE.ANY]) {
        for (
          const o of [{}, { edns: 4096 }, { edns: 600 }, { flags: 0 }, { edns: 1232, version: 1 }]
        ) {
          const q = parseQuery(query(name, { ...o, qtype, id: id++ })) as Query;
          const n = buildReply(q, ZONE, fresh);
          assert.deepEqual(cached.subarray(0, cache.reply(q, cached)), fresh.subarray(0, n), name);
        }
      }
    }
  }
  assert.ok(cache.hits > 2 * cache.misses, `${cache.hits} hits, ${cache.misses} misses`);
});

Deno.test("the reply cache forgets everything when full, so random names cannot grow it", () => {
  const cache = new ReplyCache(ZONE);
  for (let i = 0; i <= MAX_ENTRIES; i++) {
    cache.reply(parseQuery(query(`n${i}.example.test`)) as Query, out);
  }
  assert.equal(cache.misses, MAX_ENTRIES + 1);
  cache.reply(parseQuery(query("n0.example.test")) as Query, out);
  assert.equal(cache.misses, MAX_ENTRIES + 2, "the first one was forgotten");
  cache.reply(parseQuery(query(`n${MAX_ENTRIES}.example.test`)) as Query, out);
  assert.equal(cache.hits, 1, "the one stored after the clear is kept");
});

// ---------------------------------------------------------------- the zone

Deno.test("zone text: blank owners, TTL and class in either order, parentheses and comments", () => {
  const z = parseZone(
    "$ORIGIN z.\n@ SOA ns hm (1 2 3\n 4 5) ; c\nw IN 9 A 10.0.0.1\n  7 IN AAAA ::1\n",
  );
  const w = z.nodes.get("w.z")!;
  assert.deepEqual([w.get(TYPE.A)![0].ttl, w.get(TYPE.AAAA)![0].ttl], [9, 7]);
  assert.equal(z.soa.ttl, 3600);
  // No SOA: one is made up, so negative answers have one.
  const made = parseZone("www A 192.0.2.1", "made.test");
  assert.equal(made.soa.name.key, "made.test");
  assert.equal(made.nodes.get("made.test")!.get(TYPE.SOA)!.length, 1);
});

Deno.test("zone text errors name the line", () => {
  const cases: [string, RegExp][] = [
    ["$ORIGIN z.\nw MX 10 mail", /line 2: unsupported record type "MX"/],
    ["$ORIGIN z.\nw A 300.0.0.1", /line 2: bad IPv4 address/],
    ["$ORIGIN z.\nw AAAA 1::2::3", /line 2: bad IPv6 address/],
    ["$ORIGIN z.\nw CNAME x\nw A 1.2.3.4", /CNAME must be the only record/],
    ["$ORIGIN z.\nw.other. A 1.2.3.4", /outside the zone/],
    [`$ORIGIN z.\n${"a".repeat(64)} A 1.2.3.4`, /line 2: label over 63 bytes/],
    ['$ORIGIN z.\nw TXT "open', /line 2: unterminated quoted string/],
    ["$ORIGIN z.\n@ SOA ( 1 2", /line 2: unbalanced \(/],
    ["$INCLUDE other", /unsupported directive/],
    ["w A 1.2.3.4", /relative name "w" without an origin/],
    [`$ORIGIN z.\nw TXT "${"x".repeat(256)}"`, /over-long/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseZone(text), (e) => e instanceof ZoneError && re.test(e.message), text);
  }
});

Deno.test("records from a command line split on commas outside quotes", () => {
  const text = recordsText('www A 192.0.2.1, info TXT "a, b", alias CNAME www');
  assert.equal(text, 'www A 192.0.2.1\ninfo TXT "a, b"\nalias CNAME www');
  const z = parseZone(text, "cli.test");
  assert.deepEqual(z.nodes.get("info.cli.test")!.get(TYPE.TXT)![0].rdata, [
    new Uint8Array([4, 0x61, 0x2c, 0x20, 0x62]),
  ]);
});

// ---------------------------------------------------------------- fuzz

/** Every reply must decode, fit its size, keep the ID, and never be sent to a response. */
function checkReply(msg: Uint8Array): void {
  const q = parseQuery(msg);
  if (isMalformed(q)) {
    if (q.kind === "silent") {
      assert.ok(msg.length < HEADER_SIZE || (msg[2] & 0x80) !== 0);
      return;
    }
    const r = decode(out.slice(0, buildError(q, out)));
    assert.ok(r.rcode === RCODE.FORMERR || r.rcode === RCODE.NOTIMP);
    return;
  }
  const len = buildReply(q, ZONE, out);
  const limit = q.edns === null ? 512 : Math.min(MAX_UDP, Math.max(512, q.edns.udpSize));
  assert.ok(len <= limit, `reply of ${len} bytes over ${limit}`);
  const r = decode(out.slice(0, len));
  assert.equal(r.id, q.id);
  assert.deepEqual(r.question, q.question);
}

Deno.test("fuzz: 20,000 seeded random and mutated packets never throw, and every reply is well-formed", () => {
  const seeds = [
    query("www.example.test"),
    query("big.example.test", { qtype: TYPE.TXT, edns: 700 }),
    query("chain.example.test", { qtype: TYPE.ANY }),
    query("nope.example.test", { qtype: TYPE.AAAA, edns: 4096 }),
    packet([1, 1, 0, 1], [
      ...wireName("info.example.test"),
      0,
      16,
      0,
      1,
      0xc0,
      12,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      4,
      1,
      2,
      3,
      4,
      0,
      0,
      41,
      4,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]),
  ];
  const noise = pattern(1 << 20, 17);
  let at = 0;
  const rand = (n: number) => {
    const v = (noise[at] | noise[(at + 1) % noise.length] << 8) % n;
    at = (at + 2) % noise.length;
    return v;
  };
  for (let i = 0; i < 20_000; i++) {
    let msg: Uint8Array;
    if (i % 4 === 0) {
      msg = new Uint8Array(rand(600));
      for (let k = 0; k < msg.length; k++) msg[k] = rand(256);
      if (msg.length > 5) msg[4] = 0, msg[5] = 1, msg[2] &= 0x07; // mostly one question, a query
    } else {
      msg = seeds[i % seeds.length].slice();
      for (let k = rand(6) + 1; k > 0; k--) {
        const op = rand(4);
        const p = msg.length ? rand(msg.length) : 0;
        if (op === 0 && msg.length) msg[p] = rand(256); // flip a byte
        else if (op === 1 && msg.length) msg[p] = 0xc0 | rand(4); // plant a pointer
        else if (op === 2) msg = msg.slice(0, p); // cut
        else msg = new Uint8Array([...msg.slice(0, p), rand(256), ...msg.slice(p)]); // insert
      }
    }
    try {
      checkReply(msg);
    } catch (err) {
      throw new Error(`packet ${i}: ${Array.from(msg, (b) => b.toString(16)).join(" ")}`, {
        cause: err,
      });
    }
  }
});
