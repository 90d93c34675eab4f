/**
 * RESP2, the Redis protocol, for the resp_server example: an incremental
 * request parser (multibulk and inline commands) with bounds on every
 * length a client chooses, and a reply writer into one growable buffer.
 *
 * @module
 */

/** A complete request: its arguments, views into the parser's buffer. */
export type Request = Uint8Array[];

/** A malformed request: the reply says why, then the connection closes. */
export class ProtocolError {
  /** @param message The text after `-ERR Protocol error: `. */
  constructor(readonly message: string) {}
}

/** What a client may make the server hold. */
export interface Limits {
  /** Longest bulk string (`$N`), bytes. */
  maxBulk: number;
  /** Most arguments in one request (`*N`). */
  maxArgs: number;
  /** Most bytes buffered for one incomplete request. */
  maxQuery: number;
}

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
/** Redis's PROTO_INLINE_MAX_SIZE. */
const MAX_INLINE = 64 * 1024;
/** Longest `*N` / `$N` header line. */
const MAX_HEADER = 32;
const SMALL = 16 * 1024;

/** Parses the decimal integer in `b[from, to)`; NaN if it is not one. */
function parseDecimal(b: Uint8Array, from: number, to: number): number {
  let i = from;
  const negative = b[i] === 45;
  if (negative) i++;
  if (i === to || to - i > 15) return NaN;
  let n = 0;
  for (; i < to; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/**
 * Parses requests as they arrive. Read into {@linkcode space}, then
 * {@linkcode commit} the bytes and call {@linkcode next} until it returns
 * null. Partial state survives between reads, so a large request arriving
 * in many pieces is parsed once.
 */
export class RequestParser {
  #buf = new Uint8Array(SMALL);
  /** Start of the request being parsed. */
  #start = 0;
  #end = 0;
  /** Parse position inside the current multibulk request. */
  #pos = 0;
  /** Arguments still expected; 0 between requests. */
  #argc = 0;
  /** Length of the bulk being read, -1 while expecting its `$` header. */
  #bulk = -1;
  /** (offset from #start, length) of each argument parsed so far. */
  #offs: number[] = [];

  /** @param limits The bounds on what a client may send. */
  constructor(readonly limits: Limits) {}

  /** Bytes received and not yet parsed into a request. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Room to read into (at least `min` bytes; it may move buffered bytes). */
  space(min = 4096): Uint8Array {
    if (this.#buf.length - this.#end < min) this.#makeRoom(min);
    return this.#buf.subarray(this.#end);
  }

  /** Accounts `n` bytes just read into {@linkcode space}. */
  commit(n: number): void {
    this.#end += n;
  }

  #makeRoom(min: number): void {
    const used = this.#end - this.#start;
    let buf = this.#buf;
    if (used + min > buf.length) {
      // A bulk being read says how much it needs: grow to that at once.
      const want = this.#bulk >= 0 ? this.#pos - this.#start + this.#bulk + 2 : 0;
      buf = new Uint8Array(Math.max(buf.length * 2, used + min, want));
    }
    buf.set(this.#buf.subarray(this.#start, this.#end));
    this.#pos -= this.#start;
    this.#end = used;
    this.#start = 0;
    this.#buf = buf;
  }

  /** Gives back a large buffer once nothing is buffered (idle connections stay small). */
  #release(): void {
    if (this.#start === this.#end) {
      this.#start = this.#end = this.#pos = 0;
      if (this.#buf.length > 4 * SMALL) this.#buf = new Uint8Array(SMALL);
    }
  }

  /** The next complete request, null if more bytes are needed, or an error. */
  next(): Request | ProtocolError | null {
    const b = this.#buf;
    for (;;) {
      if (this.#argc === 0) {
        if (this.#start === this.#end) {
          this.#release();
          return null;
        }
        if (b[this.#start] !== STAR) {
          const inline = this.#inline();
          if (inline === null || inline instanceof ProtocolError || inline.length > 0) {
            return inline;
          }
          continue; // an empty line
        }
        const eol = this.#lineEnd(this.#start + 1);
        if (eol < 0) {
          return this.#end - this.#start > MAX_HEADER ? bad("invalid multibulk length") : null;
        }
        const n = parseDecimal(b, this.#start + 1, eol);
        if (Number.isNaN(n) || n > this.limits.maxArgs) return bad("invalid multibulk length");
        if (n <= 0) {
          this.#start = eol + 2; // `*0` and `*-1` are ignored
          continue;
        }
        this.#argc = n;
        this.#bulk = -1;
        this.#offs.length = 0;
        this.#pos = eol + 2;
      }
      while (this.#argc > 0) {
        if (this.#bulk < 0) {
          if (this.#pos >= this.#end) return this.#incomplete();
          if (b[this.#pos] !== DOLLAR) {
            return bad(`expected '$', got '${String.fromCharCode(b[this.#pos])}'`);
          }
          const eol = this.#lineEnd(this.#pos + 1);
          if (eol < 0) {
            return this.#end - this.#pos > MAX_HEADER ? bad("invalid bulk length") : null;
          }
          const len = parseDecimal(b, this.#pos + 1, eol);
          if (!(len >= 0 && len <= this.limits.maxBulk)) return bad("invalid bulk length");
          this.#bulk = len;
          this.#pos = eol + 2;
        }
        if (this.#end - this.#pos < this.#bulk + 2) return this.#incomplete();
        this.#offs.push(this.#pos - this.#start, this.#bulk);
        this.#pos += this.#bulk + 2;
        this.#bulk = -1;
        this.#argc--;
      }
      const args: Request = [];
      const offs = this.#offs;
      for (let i = 0; i < offs.length; i += 2) {
        const at = this.#start + offs[i];
        args.push(b.subarray(at, at + offs[i + 1]));
      }
      this.#start = this.#pos;
      return args;
    }
  }

  #incomplete(): ProtocolError | null {
    return this.#end - this.#start > this.limits.maxQuery ? bad("too big request") : null;
  }

  /** Index of the `\r` of the `\r\n` ending a header line from `from`, or -1. */
  #lineEnd(from: number): number {
    const b = this.#buf;
    const stop = Math.min(this.#end - 1, from + MAX_HEADER);
    for (let i = from; i < stop; i++) if (b[i] === CR && b[i + 1] === LF) return i;
    return -1;
  }

  /** An inline request: one line, arguments split at blanks, quotes as Redis's sdssplitargs. */
  #inline(): Request | ProtocolError | null {
    const b = this.#buf;
    const nl = b.subarray(this.#start, this.#end).indexOf(LF);
    if (nl < 0) return this.#end - this.#start > MAX_INLINE ? bad("too big inline request") : null;
    const lineEnd = this.#start + nl;
    const line = b.subarray(
      this.#start,
      lineEnd > this.#start && b[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd,
    );
    this.#start = lineEnd + 1;
    return splitArgs(line) ?? bad("unbalanced quotes in request");
  }
}

function bad(message: string): ProtocolError {
  return new ProtocolError(message);
}

const isBlank = (c: number) => c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12;

/** Splits an inline line like `sdssplitargs`: blanks separate, "..." with escapes, '...'. Null if unbalanced. */
export function splitArgs(line: Uint8Array): Request | null {
  const args: Request = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isBlank(line[i])) i++;
    if (i === line.length) break;
    const quote = line[i] === 34 || line[i] === 39 ? line[i++] : 0;
    if (quote === 0) {
      const from = i;
      while (i < line.length && !isBlank(line[i])) i++;
      args.push(line.subarray(from, i));
      continue;
    }
    const out: number[] = [];
    for (;;) {
      if (i === line.length) return null;
      const c = line[i++];
      if (c === quote) break;
      if (c !== 92 || i === line.length) {
        out.push(c);
        continue;
      }
      const e = line[i++];
      if (quote === 39) {
        if (e !== 39) out.push(92);
        out.push(e);
      } else if (e === 120 && i + 1 < line.length && isHex(line[i]) && isHex(line[i + 1])) {
        out.push(parseInt(String.fromCharCode(line[i], line[i + 1]), 16));
        i += 2;
      } else {
        out.push(({ 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 } as Record<number, number>)[e] ?? e);
      }
    }
    if (i < line.length && !isBlank(line[i])) return null; // "a"b is unbalanced in Redis too
    args.push(Uint8Array.from(out));
  }
  return args;
}

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

const encoder = new TextEncoder();
const OK = encoder.encode("+OK\r\n");

/** Builds replies into one growable buffer; {@linkcode bytes} is what to write. */
export class ReplyWriter {
  #buf = new Uint8Array(64 * 1024);
  /** Bytes written so far. */
  length = 0;

  /** The replies built since the last {@linkcode reset}. */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** Starts over, giving back a buffer grown past 4 MiB. */
  reset(): void {
    this.length = 0;
    if (this.#buf.length > 4 * 2 ** 20) this.#buf = new Uint8Array(64 * 1024);
  }

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const buf = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    buf.set(this.bytes);
    this.#buf = buf;
  }

  /** Appends bytes as they are. */
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends a string of chars 0..255, one byte each. */
  latin1(s: string): void {
    this.#room(s.length);
    const b = this.#buf;
    let at = this.length;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.length = at;
  }

  /** `+text`. */
  simple(text: string): void {
    if (text === "OK") return this.raw(OK); // the common reply, without a string per request
    this.latin1(`+${text}\r\n`);
  }

  /** `-message` (line breaks in it become spaces). */
  error(message: string): void {
    this.raw(encoder.encode(`-${message.replace(/[\r\n]+/g, " ")}\r\n`));
  }

  /** `:n`. */
  integer(n: number | bigint): void {
    this.latin1(`:${n}\r\n`);
  }

  /** `$len value`, or the null bulk `$-1` for null. */
  bulk(value: Uint8Array | null): void {
    if (value === null) return this.latin1("$-1\r\n");
    this.latin1(`$${value.length}\r\n`);
    this.raw(value);
    this.latin1("\r\n");
  }

  /** A bulk string of chars 0..255 (keys), one byte each. */
  bulkLatin1(s: string): void {
    this.latin1(`$${s.length}\r\n${s}\r\n`);
  }

  /** A bulk string of any text, UTF-8. */
  bulkText(s: string): void {
    this.bulk(encoder.encode(s));
  }

  /** `*n`: n replies follow. */
  array(n: number): void {
    this.latin1(`*${n}\r\n`);
  }
}
