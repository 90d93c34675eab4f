/**
 * DNS wire format, the reading side: a query message parsed with every bound
 * checked (RFC 1035 section 4, RFC 6891 for EDNS(0)).
 *
 * The parser trusts nothing in the packet:
 *
 * - every read is checked against the message's length first, so a count
 *   larger than the packet, a truncated record or an `RDLENGTH` past the end
 *   is a format error, never an out-of-range read;
 * - a name is at most 255 bytes uncompressed, a label at most 63; the
 *   obsolete label types `0x40` and `0x80` are refused;
 * - a compression pointer must point strictly before the start of the name
 *   segment it ends (so every jump goes backwards and a loop is impossible)
 *   and past the 12-byte header;
 * - the sections after the question are walked without being kept (only the
 *   EDNS OPT record is read), so the work and the memory are bounded by the
 *   packet's length, at most 64 KiB;
 * - bytes left over after the last section are a format error.
 *
 * A message too short for a header, or with the QR bit set (a response:
 * answering it could start a loop between two servers), gets no reply at all
 * ({@linkcode parseQuery} says `silent`); anything else that is wrong gets
 * FORMERR.
 *
 * Names are compared as keys: labels in presentation form, ASCII letters
 * lowercased, `.` `\` and bytes outside `!`..`~` written `\DDD`, joined by
 * `.`, without the final dot (the root is `""`). {@linkcode nameKey} makes a
 * key from labels, so the zone (`_dns_zone.ts`) and the wire agree.
 *
 * @module
 */

/** Record types this server knows. */
export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

/** Classes: Internet, and ANY (a query may ask for any class). */
export const CLASS = { IN: 1, ANY: 255 } as const;

/** Response codes (RFC 1035 4.1.1, RFC 6891 for BADVERS, which needs EDNS). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Header flag bits (in the 16-bit word at offset 2). */
export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

/** The fixed header's size. */
export const HEADER_SIZE = 12;
/** The longest name, uncompressed, counting every length byte and the final 0. */
export const MAX_NAME = 255;
/** The longest label. */
export const MAX_LABEL = 63;

/** A parsed query: what the reply needs. */
export interface Query {
  /** The message ID, copied into the reply. */
  id: number;
  /** The header's flag word (QR, opcode, AA, TC, RD, RA, Z, RCODE bits). */
  flags: number;
  /** The opcode (bits 11..14 of the flags); 0 is QUERY. */
  opcode: number;
  /** The question name's key (see the module doc). */
  qname: string;
  /** The question exactly as received, name uncompressed (case kept), type and class. */
  question: Uint8Array;
  /** The question's type. */
  qtype: number;
  /** The question's class. */
  qclass: number;
  /** The OPT record's fields when the query has one, else `null` (no EDNS). */
  edns: Edns | null;
}

/** What a query's OPT record says (RFC 6891 6.1.3). */
export interface Edns {
  /** The requester's UDP payload size (values below 512 mean 512). */
  udpSize: number;
  /** The EDNS version (only 0 exists). */
  version: number;
  /** The DNSSEC OK bit. */
  dnssecOk: boolean;
}

/** Why a message got no {@linkcode Query}: reply FORMERR (or NOTIMP), or say nothing. */
export interface Malformed {
  /** `silent`: no reply at all; `formerr`: a header-only reply with `rcode`. */
  kind: "silent" | "formerr";
  /** The header's ID and flags, for the reply (0 when there was no header). */
  id: number;
  /** The received flag word. */
  flags: number;
  /** The response code to send: FORMERR, or NOTIMP for an opcode other than QUERY. */
  rcode: number;
  /** What was wrong, for a log line or a test. */
  reason: string;
}

/** A name read off the wire: its key and where the bytes after it start. */
export interface WireName {
  /** The name's key. */
  key: string;
  /** Its uncompressed length in bytes (length bytes and the final 0 included). */
  length: number;
  /** The offset just after the name where it appeared (after its pointer, if compressed). */
  end: number;
}

/** Each byte as it appears in a key: itself (letters lowercased) or `\DDD`. */
const KEY_CHARS: string[] = [];
for (let b = 0; b < 256; b++) {
  const lower = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  const plain = lower > 0x20 && lower < 0x7f && lower !== 0x2e && lower !== 0x5c;
  KEY_CHARS.push(plain ? String.fromCharCode(lower) : `\\${String(b).padStart(3, "0")}`);
}

/** The key of one label's bytes `msg[from..to)`. */
function labelKey(msg: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += KEY_CHARS[msg[i]];
  return s;
}

/** The key of a name given as labels (each 1..63 bytes). */
export function nameKey(labels: readonly Uint8Array[]): string {
  return labels.map((l) => labelKey(l, 0, l.length)).join(".");
}

/**
 * Reads the name at `off` of `msg` (bounded by `msg.length`), following
 * compression pointers. Returns `null` for any malformed name: a read past
 * the end, a label type other than length or pointer, a pointer that does not
 * go strictly backwards or lands in the header, a name over 255 bytes.
 */
export function readName(msg: Uint8Array, off: number): WireName | null {
  const len = msg.length;
  let pos = off;
  let segmentStart = off; // a pointer must land before this: every jump goes backwards
  let end = -1; // where the bytes after the name start, set at the first pointer
  let length = 1; // the final 0
  let key = "";
  for (;;) {
    if (pos >= len) return null;
    const b = msg[pos];
    if (b === 0) {
      if (end < 0) end = pos + 1;
      return { key, length, end };
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= len) return null;
      const target = ((b & 0x3f) << 8) | msg[pos + 1];
      if (target < HEADER_SIZE || target >= segmentStart) return null;
      if (end < 0) end = pos + 2;
      pos = segmentStart = target;
      continue;
    }
    if (kind !== 0) return null; // 0x40 and 0x80: extended label types (RFC 6891 5)
    length += b + 1;
    if (length > MAX_NAME || pos + 1 + b > len) return null;
    key += (key === "" ? "" : ".") + labelKey(msg, pos + 1, pos + 1 + b);
    pos += 1 + b;
  }
}

/** Reads a 16-bit big-endian number; the caller has checked the bound. */
function u16(msg: Uint8Array, at: number): number {
  return (msg[at] << 8) | msg[at + 1];
}

/**
 * Parses a query message. Returns the {@linkcode Query}, or
 * {@linkcode Malformed} saying whether to answer FORMERR/NOTIMP or nothing.
 */
export function parseQuery(msg: Uint8Array): Query | Malformed {
  if (msg.length < HEADER_SIZE) return bad("silent", 0, 0, "shorter than a header");
  const id = u16(msg, 0);
  const flags = u16(msg, 2);
  if (flags & FLAG.QR) return bad("silent", id, flags, "a response, not a query");
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return bad("formerr", id, flags, `opcode ${opcode}`, RCODE.NOTIMP);
  const qd = u16(msg, 4), an = u16(msg, 6), ns = u16(msg, 8), ar = u16(msg, 10);
  if (qd !== 1) return bad("formerr", id, flags, `${qd} questions`);
  const name = readName(msg, HEADER_SIZE);
  if (name === null) return bad("formerr", id, flags, "malformed question name");
  if (name.end + 4 > msg.length) return bad("formerr", id, flags, "question cut short");
  const qtype = u16(msg, name.end), qclass = u16(msg, name.end + 2);
  let pos = name.end + 4;
  let edns: Edns | null = null;
  const records = an + ns + ar;
  for (let i = 0; i < records; i++) {
    const owner = readName(msg, pos);
    if (owner === null || owner.end + 10 > msg.length) {
      return bad("formerr", id, flags, `record ${i + 1} of ${records} malformed or missing`);
    }
    const at = owner.end;
    const type = u16(msg, at), rdlength = u16(msg, at + 8);
    const rdata = at + 10;
    if (rdata + rdlength > msg.length) return bad("formerr", id, flags, "RDATA past the end");
    if (type === TYPE.OPT) {
      if (i < an + ns || edns !== null || owner.key !== "" || !optionsFit(msg, rdata, rdlength)) {
        return bad("formerr", id, flags, "misplaced, repeated or malformed OPT record");
      }
      edns = {
        udpSize: u16(msg, at + 2),
        version: msg[at + 5],
        dnssecOk: (msg[at + 6] & 0x80) !== 0,
      };
    }
    pos = rdata + rdlength;
  }
  if (pos !== msg.length) {
    return bad("formerr", id, flags, `${msg.length - pos} bytes after the records`);
  }
  // The question as received: an uncompressed copy (its name had nothing before it to point to).
  const question = msg.slice(HEADER_SIZE, name.end + 4);
  return { id, flags, opcode, qname: name.key, question, qtype, qclass, edns };
}

/** Whether the OPT RDATA at `at` is a whole number of well-formed options. */
function optionsFit(msg: Uint8Array, at: number, length: number): boolean {
  const end = at + length;
  while (at < end) {
    if (at + 4 > end) return false;
    at += 4 + u16(msg, at + 2);
  }
  return at === end;
}

function bad(
  kind: Malformed["kind"],
  id: number,
  flags: number,
  reason: string,
  rcode: number = RCODE.FORMERR,
): Malformed {
  return { kind, id, flags, rcode, reason };
}

/** Whether a {@linkcode parseQuery} result is a {@linkcode Malformed}. */
export function isMalformed(r: Query | Malformed): r is Malformed {
  return "kind" in r;
}
