/**
 * The DNS server example's zone text (examples/_dns_zone.ts): the syntax
 * it takes, the errors it names, and records given on a command line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { TYPE } from "../examples/_dns_wire.ts";
import { parseZone, recordsText, ZoneError } from "../examples/_dns_zone.ts";

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
