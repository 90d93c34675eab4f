/**
 * The DNS server example's codec against malformed packets
 * (examples/_dns_wire.ts): every kind of malformed packet, and a seeded
 * fuzz of random and mutated packets. No sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FLAG, HEADER_SIZE, isMalformed, parseQuery, RCODE, TYPE } from "../examples/_dns_wire.ts";
import { buildError, buildReply, MAX_UDP } from "../examples/_dns_reply.ts";
import { pattern } from "./_helpers.ts";

import { answerOf, ask, be16, decode, malformed, out, query, wireName, ZONE } from "./_dns.ts";

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
