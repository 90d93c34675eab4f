/**
 * Reading HTTP/1.1 requests strictly (RFC 9112), for examples/http_server.ts:
 *
 * - {@linkcode HeadReader} finds the end of a request head across reads,
 *   looking at each byte once (a request that trickles in byte by byte costs
 *   O(bytes), never a rescan), and rejects bare CR and bare LF line endings.
 * - {@linkcode parseHead} checks and interprets a complete head.
 * - {@linkcode ChunkedSkipper} skips a chunked body across reads.
 *
 * Errors are HTTP status codes: the server answers them and closes.
 *
 * @module
 */

/** Most bytes of request line plus header lines (with the blank line). */
export const MAX_HEADER = 16 * 1024;

const CR = 13;
const LF = 10;

/** `tchar` of RFC 9110 5.6.2, as a lookup table. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Finds where a request head ends, across reads. Empty lines before the
 * request line are skipped (RFC 9112 2.2). The head's bytes stay in the
 * caller's buffer when the head arrives whole; only a head that spans reads
 * is copied, once, into this reader's own buffer.
 */
export class HeadReader {
  #buf: Uint8Array | null = null;
  #len = 0;
  #cr = false;
  #lineLen = 0;
  #started = false;
  #head: Uint8Array | null = null;
  /** Bytes looked at since this reader was made (each byte of the stream once). */
  scanned = 0;

  /** Whether a request has begun (a byte other than CR/LF seen) and not ended. */
  get started(): boolean {
    return this.#started;
  }

  /** The complete head (without the final blank line), valid after `feed` returned `>= 0`. */
  get head(): Uint8Array {
    return this.#head!;
  }

  /**
   * Scans `data[from..]`. Returns the index just past the head's blank line;
   * -1 when every byte was taken and more are needed; or -400 (bare CR or
   * LF) / -431 (head larger than {@linkcode MAX_HEADER}).
   */
  feed(data: Uint8Array, from: number): number {
    // Bytes of this head taken by earlier calls (a head that spans reads).
    const before = this.#len;
    let started = this.#started;
    let start = started ? from : -1;
    let cr = this.#cr;
    let lineLen = this.#lineLen;
    for (let i = from; i < data.length; i++) {
      if (started && before + i - start >= MAX_HEADER) return -431;
      this.scanned++;
      const b = data[i];
      if (cr) {
        if (b !== LF) return -400; // bare CR
        cr = false;
        if (lineLen !== 0) {
          lineLen = 0;
        } else if (started) {
          return this.#complete(data, start, i + 1);
        } // else: an empty line before the request line, ignored
      } else if (b === CR) {
        cr = true;
      } else if (b === LF) {
        return -400; // bare LF
      } else {
        if (!started) {
          started = true;
          start = i;
        }
        lineLen++;
      }
    }
    // Need more: keep the state, and the bytes of a begun head.
    this.#cr = cr;
    this.#lineLen = lineLen;
    this.#started = started;
    if (started) this.#append(data.subarray(start, data.length));
    return -1;
  }

  #complete(data: Uint8Array, start: number, end: number): number {
    if (this.#len === 0) {
      this.#head = data.subarray(start, end - 4);
    } else {
      this.#append(data.subarray(start, end));
      this.#head = this.#buf!.subarray(0, this.#len - 4);
      // A large head's storage is not kept for the next request.
      if (this.#buf!.length > 1024) this.#buf = null;
    }
    this.#reset();
    return end;
  }

  /** Drops the head's storage (a finished or closed connection). */
  release(): void {
    this.#buf = null;
    this.#head = null;
    this.#reset();
  }

  #reset(): void {
    this.#len = 0;
    this.#cr = false;
    this.#lineLen = 0;
    this.#started = false;
  }

  #append(bytes: Uint8Array): void {
    const need = this.#len + bytes.length;
    if (this.#buf === null || this.#buf.length < need) {
      const grown = new Uint8Array(
        Math.min(Math.max(need, 2 * (this.#buf?.length ?? 256)), MAX_HEADER),
      );
      if (this.#buf !== null) grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#len);
    this.#len = need;
  }
}

/** What one request asks for. */
export interface Request {
  /** 0 when the request is valid (the server routes it), else the error status to answer. */
  error: number;
  method: string;
  /** The path of the target (origin-form, or the path of an absolute-form target). */
  path: string;
  keepAlive: boolean;
  /** Body framing: none, by Content-Length, or chunked. */
  body: "none" | "length" | "chunked";
  /** Body bytes for `body === "length"`. */
  length: number;
}

const latin1 = new TextDecoder("latin1");
/** Heads up to this size are decoded in JavaScript: cheaper than a `TextDecoder` call (a Deno op). */
const SMALL_HEAD = 1024;

/** The head as a string, one character per byte (Latin-1). */
function decodeHead(head: Uint8Array): string {
  if (head.length > SMALL_HEAD) return latin1.decode(head);
  return String.fromCharCode.apply(null, head as unknown as number[]);
}

/** `s` without leading and trailing spaces and tabs (RFC 9110 5.5 OWS). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function fail(status: number): Request {
  return { error: status, method: "", path: "", keepAlive: false, body: "none", length: 0 };
}

/**
 * Checks and interprets a request head (request line and header lines,
 * CRLF-separated, as {@linkcode HeadReader} returns it):
 * - request line `method SP target SP HTTP/1.x`, method a token, target in
 *   origin-form, absolute-form (`http://host/path`) or `*`;
 * - header lines `name: value`, the name a token with no whitespace before
 *   the colon (RFC 9112 5.1), no obsolete line folding (5.2), no NUL;
 * - HTTP/1.1 needs exactly one `Host` (3.2);
 * - `Content-Length`: digits; duplicates and lists must agree (RFC 9110 8.6);
 * - `Transfer-Encoding`: chunked last (6.1), never with Content-Length or in
 *   HTTP/1.0 (6.1, 6.3); other codings before chunked are not implemented
 *   (501); chunked not last: 400.
 */
export function parseHead(head: Uint8Array): Request {
  const lines = decodeHead(head).split("\r\n");
  const parts = lines[0].split(" ");
  if (parts.length !== 3) return fail(400);
  const [method, target, version] = parts;
  if (!isToken(method)) return fail(400);
  let http11: boolean;
  if (version === "HTTP/1.1") http11 = true;
  else if (version === "HTTP/1.0") http11 = false;
  else return fail(/^HTTP\/\d\.\d$/.test(version) ? 505 : 400);
  let path: string;
  if (target.charCodeAt(0) === 47 /* / */) {
    path = target;
  } else if (/^https?:\/\//i.test(target)) {
    // absolute-form (RFC 9112 3.2.2): the server must accept it.
    const rest = target.slice(target.indexOf("//") + 2);
    const slash = rest.search(/[/?#]/);
    if (slash === 0) return fail(400); // no authority
    path = slash < 0 ? "/" : rest[slash] === "/" ? rest.slice(slash) : "/" + rest.slice(slash);
  } else if (target === "*" && method === "OPTIONS") {
    path = "*";
  } else {
    return fail(400);
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return fail(400); // controls and spaces
  }
  path = path.split("?")[0].split("#")[0];

  let keepAlive = http11;
  let hosts = 0;
  let length = -1;
  let te: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return fail(400); // obs-fold
    const colon = line.indexOf(":");
    if (colon <= 0) return fail(400);
    const name = line.slice(0, colon);
    if (!isToken(name)) return fail(400); // includes whitespace before the colon
    if (line.includes("\0")) return fail(400);
    const value = trimOws(line.slice(colon + 1));
    switch (name.toLowerCase()) {
      case "host":
        hosts++;
        if (/[\s,/@]/.test(value)) return fail(400);
        break;
      case "connection": {
        const tokens = value.toLowerCase().split(",").map((t) => t.trim());
        if (tokens.includes("close")) keepAlive = false;
        else if (tokens.includes("keep-alive")) keepAlive = true;
        break;
      }
      case "content-length":
        for (const v of value.split(",")) {
          const t = v.trim();
          if (!/^\d{1,15}$/.test(t)) return fail(400);
          const n = Number(t);
          if (length >= 0 && n !== length) return fail(400); // conflicting lengths
          length = n;
        }
        break;
      case "transfer-encoding":
        te = te === null ? value : `${te}, ${value}`;
        break;
    }
  }
  if (http11 ? hosts !== 1 : hosts > 1) return fail(400);
  if (te !== null) {
    if (length >= 0 || !http11) return fail(400);
    const codings = te.toLowerCase().split(",").map((t) => t.trim());
    if (codings.some((t) => t === "")) return fail(400);
    if (codings[codings.length - 1] !== "chunked") return fail(400);
    if (codings.length > 1) return fail(501);
    return { error: 0, method, path, keepAlive, body: "chunked", length: 0 };
  }
  if (length > 0) return { error: 0, method, path, keepAlive, body: "length", length };
  return { error: 0, method, path, keepAlive, body: "none", length: 0 };
}

/** Most bytes of a chunk-size line (size and extensions) and of the trailer section. */
const MAX_CHUNK_LINE = 4096;

/**
 * Skips a chunked body (RFC 9112 7.1) across reads: size lines (hex, with
 * extensions ignored), data, and the trailer section, each byte looked at
 * once outside the data, which is skipped in bulk.
 */
export class ChunkedSkipper {
  #state: "size" | "ext" | "sizeLF" | "data" | "dataCR" | "dataLF" | "trailer" | "trailerLF" =
    "size";
  #size = 0;
  #digits = 0;
  #lineLen = 0;
  #trailerBytes = 0;

  /**
   * Consumes `data[from..]`. Returns the index just past the body, -1 when
   * every byte was taken and more are needed, or -400 for a malformed body.
   */
  feed(data: Uint8Array, from: number): number {
    let i = from;
    while (i < data.length) {
      if (this.#state === "data") {
        const n = Math.min(this.#size, data.length - i);
        this.#size -= n;
        i += n;
        if (this.#size === 0) this.#state = "dataCR";
        continue;
      }
      const b = data[i++];
      switch (this.#state) {
        case "size": {
          const d = b >= 48 && b <= 57
            ? b - 48
            : (b | 32) >= 97 && (b | 32) <= 102
            ? (b | 32) - 87
            : -1;
          if (d >= 0) {
            if (++this.#digits > 13) return -400;
            this.#size = this.#size * 16 + d;
          } else if (this.#digits === 0) {
            return -400;
          } else if (b === CR) {
            this.#state = "sizeLF";
          } else if (b === 59 /* ; */ || b === 32 || b === 9) {
            this.#state = "ext";
            this.#lineLen = this.#digits + 1;
          } else {
            return -400;
          }
          break;
        }
        case "ext":
          if (b === CR) this.#state = "sizeLF";
          else if (b === LF || ++this.#lineLen > MAX_CHUNK_LINE) return -400;
          break;
        case "sizeLF":
          if (b !== LF) return -400;
          if (this.#size === 0) {
            this.#state = "trailer";
            this.#lineLen = 0;
          } else {
            this.#state = "data";
          }
          this.#digits = 0;
          break;
        case "dataCR":
          if (b !== CR) return -400;
          this.#state = "dataLF";
          break;
        case "dataLF":
          if (b !== LF) return -400;
          this.#state = "size";
          this.#size = 0;
          break;
        case "trailer":
          if (++this.#trailerBytes > MAX_HEADER) return -400;
          if (b === CR) this.#state = "trailerLF";
          else if (b === LF) return -400;
          else this.#lineLen++;
          break;
        case "trailerLF":
          if (b !== LF) return -400;
          if (this.#lineLen === 0) return i; // the empty line: the body ends
          this.#lineLen = 0;
          this.#state = "trailer";
          break;
      }
    }
    return -1;
  }
}
