/**
 * The DNS server example's answers (examples/_dns_reply.ts): every record
 * type, the negative answers, truncation and EDNS, and the reply cache.
 * Malformed packets: dns_malformed_test.ts; the zone text:
 * dns_zone_test.ts. No sockets: dns_server_test.ts runs the server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FLAG, HEADER_SIZE, parseQuery, type Query, RCODE, TYPE } from "../examples/_dns_wire.ts";
import { buildReply, MAX_UDP, REPLY_BUFFER } from "../examples/_dns_reply.ts";
import { parseZone } from "../examples/_dns_zone.ts";
import { MAX_ENTRIES, ReplyCache } from "../examples/_dns_cache.ts";

import { answerOf, decode, out, query, wireName, ZONE } from "./_dns.ts";

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
