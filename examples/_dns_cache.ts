/**
 * Replies remembered by question, so that a server answering the same few
 * questions over and over (every real one) builds each reply once.
 *
 * A reply is the same for every query that has the same question name
 * (compared without case), type, class, RD bit and reply size limit, except
 * for the first two bytes (the ID) and the question itself, which is copied
 * from the query (so its letters' case is the asker's): the records after it
 * point into it with compression pointers that depend only on its length,
 * which the same name always has. Replies with EDNS versions other than 0
 * (BADVERS) are not kept; they are cheap anyway.
 *
 * Memory stays bounded whatever the questions are: at most
 * {@linkcode MAX_ENTRIES} replies of at most 1232 bytes, forgotten all at
 * once when full (a client asking random names only keeps refilling it).
 *
 * @module
 */

import { buildReply, replyLimit } from "./_dns_reply.ts";
import { FLAG, HEADER_SIZE, type Query } from "./_dns_wire.ts";
import type { Zone } from "./_dns_zone.ts";

/** How many replies are kept at most (about 5 MiB at the largest reply size). */
export const MAX_ENTRIES = 4096;

/** A remembered reply: the header after the ID, and the bytes after the question. */
interface Entry {
  header: Uint8Array;
  rest: Uint8Array;
}

/** The replies of one zone, by question. */
export class ReplyCache {
  readonly #entries = new Map<string, Entry>();
  /** Replies served from the cache, and built. */
  hits = 0;
  misses = 0;

  /** @param zone The zone the replies come from (a new zone needs a new cache). */
  constructor(readonly zone: Zone) {}

  /** Writes the reply to `q` into `out` (see `buildReply`) and returns its length. */
  reply(q: Query, out: Uint8Array): number {
    if (q.edns !== null && q.edns.version !== 0) return buildReply(q, this.zone, out);
    const key = `${q.qname}/${q.qtype}/${q.qclass}/${q.flags & FLAG.RD}/${replyLimit(q)}`;
    const hit = this.#entries.get(key);
    const at = HEADER_SIZE + q.question.length;
    if (hit !== undefined) {
      this.hits++;
      out[0] = q.id >> 8;
      out[1] = q.id & 0xff;
      out.set(hit.header, 2);
      out.set(q.question, HEADER_SIZE);
      out.set(hit.rest, at);
      return at + hit.rest.length;
    }
    this.misses++;
    const length = buildReply(q, this.zone, out);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(key, { header: out.slice(2, HEADER_SIZE), rest: out.slice(at, length) });
    return length;
  }
}
