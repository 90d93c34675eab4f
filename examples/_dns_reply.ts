/**
 * DNS wire format, the writing side: the reply to a parsed query from a zone
 * (RFC 1034 4.3.2's algorithm, for one zone without delegations or
 * wildcards), with name compression, truncation and EDNS(0).
 *
 * - A name outside the zone gets REFUSED; a class other than IN (or ANY)
 *   too. An opcode other than QUERY gets NOTIMP, a malformed query FORMERR
 *   (header only), a response nothing (`_dns_wire.ts` decides).
 * - A name in the zone is answered with AA set: its records of the asked
 *   type (all of them for ANY); a CNAME is followed inside the zone (at most
 *   {@linkcode MAX_CHAIN} links, never one twice). A name that does not exist
 *   gets NXDOMAIN, one without the type NOERROR with no answer; both carry
 *   the SOA in the authority section (its TTL capped by the SOA minimum,
 *   RFC 2308), so resolvers can cache the denial.
 * - The reply must fit the requester's UDP size: 512 bytes without EDNS, the
 *   OPT record's size (at least 512, at most {@linkcode MAX_UDP}) with it. A
 *   reply that does not fit is sent as header, question (and OPT) with the TC
 *   bit set, so the client knows to retry over TCP.
 * - With EDNS the reply carries an OPT record with this server's size; an
 *   EDNS version other than 0 gets BADVERS (RFC 6891 6.1.3).
 *
 * @module
 */

import { FLAG, type Malformed, type Query, RCODE, TYPE } from "./_dns_wire.ts";
import { inZone, type Name, type Rr, type Zone } from "./_dns_zone.ts";

/** The largest UDP reply sent, whatever the requester offers (DNS Flag Day 2020's size). */
export const MAX_UDP = 1232;
/** The longest CNAME chain followed. */
export const MAX_CHAIN = 8;
/** The size of a buffer that always holds a reply. */
export const REPLY_BUFFER = MAX_UDP;

/** Writes a reply into a fixed buffer, compressing names; `false` once it no longer fits. */
class Writer {
  pos = 0;
  /** Offsets of names already written (by key), for compression pointers. */
  readonly #names = new Map<string, number>();
  constructor(readonly out: Uint8Array, readonly limit: number) {}

  fits(n: number): boolean {
    return this.pos + n <= this.limit;
  }

  u16(v: number): boolean {
    if (!this.fits(2)) return false;
    this.out[this.pos++] = v >> 8;
    this.out[this.pos++] = v & 0xff;
    return true;
  }

  u32(v: number): boolean {
    return this.u16(v >>> 16) && this.u16(v & 0xffff);
  }

  bytes(b: Uint8Array): boolean {
    if (!this.fits(b.length)) return false;
    this.out.set(b, this.pos);
    this.pos += b.length;
    return true;
  }

  /** Notes that `name` (uncompressed) starts at `at`, so later names can point into it. */
  remember(name: Name, at: number): void {
    let off = at;
    for (let i = 0; i < name.labels.length; i++) {
      this.#names.set(suffixKey(name, i), off);
      off += name.labels[i].length + 1;
    }
  }

  name(name: Name): boolean {
    for (let i = 0; i < name.labels.length; i++) {
      const key = suffixKey(name, i);
      const at = this.#names.get(key);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.pos < 0x4000) this.#names.set(key, this.pos);
      const label = name.labels[i];
      if (!this.fits(label.length + 1)) return false;
      this.out[this.pos++] = label.length;
      this.bytes(label);
    }
    if (!this.fits(1)) return false;
    this.out[this.pos++] = 0;
    return true;
  }

  record(rr: Rr, ttl = rr.ttl): boolean {
    if (!(this.name(rr.name) && this.u16(rr.type) && this.u16(1) && this.u32(ttl))) return false;
    const lengthAt = this.pos;
    if (!this.u16(0)) return false;
    for (const part of rr.rdata) {
      if (!(part instanceof Uint8Array ? this.bytes(part) : this.name(part))) return false;
    }
    const length = this.pos - lengthAt - 2;
    this.out[lengthAt] = length >> 8;
    this.out[lengthAt + 1] = length & 0xff;
    return true;
  }
}

/** The key of `name` without its first `skip` labels (a key's dots are always label boundaries). */
function suffixKey(name: Name, skip: number): string {
  if (skip === 0) return name.key;
  let at = 0;
  for (let i = 0; i < skip; i++) at = name.key.indexOf(".", at) + 1;
  return name.key.slice(at);
}

/** The answer to a query from the zone: the response code and the records of each section. */
export interface Answer {
  /** NOERROR, NXDOMAIN or REFUSED. */
  rcode: number;
  /** Whether the server is authoritative for the name (AA). */
  authoritative: boolean;
  /** The answer section. */
  answer: Rr[];
  /** The authority section (the SOA of a negative answer). */
  authority: Rr[];
}

/** Looks the query up in the zone (RFC 1034 4.3.2, one zone, no delegations or wildcards). */
export function lookup(zone: Zone, qname: string, qtype: number, qclass: number): Answer {
  const refused = { rcode: RCODE.REFUSED, authoritative: false, answer: [], authority: [] };
  if ((qclass !== 1 && qclass !== 255) || !inZone(qname, zone.origin.key)) return refused;
  const answer: Rr[] = [];
  const seen = new Set<string>();
  let name = qname;
  for (let link = 0;; link++) {
    const node = zone.nodes.get(name);
    if (node === undefined) return negative(zone, RCODE.NXDOMAIN, answer);
    const cname = node.get(TYPE.CNAME);
    if (cname !== undefined && qtype !== TYPE.CNAME && qtype !== TYPE.ANY) {
      answer.push(cname[0]);
      seen.add(name);
      const target = (cname[0].rdata[0] as Name).key;
      if (!inZone(target, zone.origin.key) || seen.has(target) || link + 1 >= MAX_CHAIN) {
        return { rcode: RCODE.NOERROR, authoritative: true, answer, authority: [] };
      }
      name = target;
      continue;
    }
    if (qtype === TYPE.ANY) { for (const rrs of node.values()) answer.push(...rrs); }
    else answer.push(...(node.get(qtype) ?? []));
    if (
      answer.length === 0 || answer[answer.length - 1].type === TYPE.CNAME && qtype !== TYPE.CNAME
    ) {
      return negative(zone, RCODE.NOERROR, answer);
    }
    return { rcode: RCODE.NOERROR, authoritative: true, answer, authority: [] };
  }
}

function negative(zone: Zone, rcode: number, answer: Rr[]): Answer {
  return { rcode, authoritative: true, answer, authority: [zone.soa] };
}

/** The SOA minimum (RDATA's last 32 bits), the cap on a negative answer's TTL (RFC 2308 3). */
function soaMinimum(soa: Rr): number {
  const min = soa.rdata[soa.rdata.length - 1] as Uint8Array;
  return ((min[0] << 24) | (min[1] << 16) | (min[2] << 8) | min[3]) >>> 0;
}

/** The header flags of a reply to a query with `flags`: QR, opcode and RD kept, `rcode` low bits. */
function replyFlags(flags: number, rcode: number, extra: number): number {
  return FLAG.QR | (flags & 0x7800) | (flags & FLAG.RD) | extra | (rcode & 0xf);
}

function header(w: Writer, id: number, flags: number, counts: number[]): void {
  w.pos = 0;
  w.u16(id);
  w.u16(flags);
  for (const c of counts) w.u16(c);
}

/** The OPT record of a reply: our UDP size, the upper bits of an extended rcode. */
function opt(w: Writer, rcode: number): boolean {
  if (!w.fits(11)) return false;
  w.out[w.pos++] = 0; // the root name
  return w.u16(TYPE.OPT) && w.u16(MAX_UDP) && w.u32(((rcode >> 4) & 0xff) << 24) && w.u16(0);
}

/** The largest reply `q` may get: 512 bytes without EDNS, else its size within 512..MAX_UDP. */
export function replyLimit(q: Query): number {
  return q.edns === null ? 512 : Math.min(MAX_UDP, Math.max(512, q.edns.udpSize));
}

/**
 * Writes the reply to `q` into `out` (at least {@linkcode REPLY_BUFFER}
 * bytes) and returns its length.
 */
export function buildReply(q: Query, zone: Zone, out: Uint8Array): number {
  const limit = replyLimit(q);
  const w = new Writer(out, limit);
  const ednsCount = q.edns === null ? 0 : 1;
  if (q.edns !== null && q.edns.version !== 0) {
    header(w, q.id, replyFlags(q.flags, RCODE.BADVERS, 0), [1, 0, 0, 1]);
    w.bytes(q.question);
    opt(w, RCODE.BADVERS);
    return w.pos;
  }
  const a = lookup(zone, q.qname, q.qtype, q.qclass);
  const aa = a.authoritative ? FLAG.AA : 0;
  header(w, q.id, replyFlags(q.flags, a.rcode, aa), [
    1,
    a.answer.length,
    a.authority.length,
    ednsCount,
  ]);
  w.bytes(q.question); // always fits: a question is at most 259 bytes
  rememberQuestion(w, q);
  const negTtl = Math.min(zone.soa.ttl, soaMinimum(zone.soa));
  let ok = a.answer.every((rr) => w.record(rr));
  ok &&= a.authority.every((rr) => w.record(rr, rr.type === TYPE.SOA ? negTtl : rr.ttl));
  ok &&= ednsCount === 0 || opt(w, a.rcode);
  if (ok) return w.pos;
  // Too big for the requester: header, question (and OPT), with TC set.
  header(w, q.id, replyFlags(q.flags, a.rcode, aa | FLAG.TC), [1, 0, 0, ednsCount]);
  w.pos += q.question.length;
  if (ednsCount) opt(w, a.rcode);
  return w.pos;
}

/** Makes the question's name (at offset 12) a compression target for the records after it. */
function rememberQuestion(w: Writer, q: Query): void {
  // The question's labels, by walking its uncompressed bytes (parseQuery checked them).
  const labels: Uint8Array[] = [];
  for (let at = 0; q.question[at] !== 0; at += q.question[at] + 1) {
    labels.push(q.question.subarray(at + 1, at + 1 + q.question[at]));
  }
  w.remember({ labels, key: q.qname }, 12);
}

/** Writes the header-only reply to a malformed query (FORMERR or NOTIMP); returns its length. */
export function buildError(m: Malformed, out: Uint8Array): number {
  const w = new Writer(out, out.length);
  header(w, m.id, replyFlags(m.flags, m.rcode, 0), [0, 0, 0, 0]);
  return w.pos;
}
