/**
 * Datagram calls on kernel sockets with preallocated C structures:
 * `sendto`/`recvfrom` with a `struct sockaddr`, and `sendmmsg`/`recvmmsg`
 * as one system call per batch over a packed `struct mmsghdr` array.
 *
 * Nothing is allocated per call on the hot path:
 * - the `mmsghdr` array, one `iovec` and one 128-byte `sockaddr_storage`
 *   per slot, and a data slab live in `ArrayBuffer`s (off V8's heap, never
 *   moved), whose addresses are taken once, when they grow; each slot's
 *   `msg_name` and `msg_iov` point into them from then on;
 * - a batch's datagrams are copied into (`sendmmsg`) or out of
 *   (`recvmmsg`) the slab, so no pointer to a caller's buffer is taken;
 * - addresses are cached: an IPv4 host's text is parsed once (a server
 *   answering many ports of a few hosts parses nothing per datagram), the
 *   last IPv4 sender's host text is reused while the host repeats, the last
 *   address of another family is kept whole, and a sender's address is
 *   written into the caller's `addr` object in place.
 *
 * One instance serves every native datagram socket of the process (all
 * calls run synchronously on the JS thread).
 *
 * Layout (LP64 Linux, x86-64 and aarch64 alike): `struct msghdr` is 56
 * bytes (`msg_name` 0, `msg_namelen` 8, `msg_iov` 16, `msg_iovlen` 24,
 * `msg_control` 32, `msg_controllen` 40, `msg_flags` 48), `struct mmsghdr`
 * adds `msg_len` at 56 and pads to 64; `struct iovec` is 16 bytes.
 *
 * @module
 */

import type { Libc } from "./libc.ts";
import { decodeSockaddr, encodeSockaddr, parseIPv4 } from "./sockaddr_codec.ts";
import { copyAddr, type SockAddr } from "../sockaddr.ts";
import type { RecvMessage, SendMessage } from "../socket_description.ts";
import { AF_INET, AF_UNIX, MSG_TRUNC } from "../../runtime/core/constants.ts";

const MMSG = 64;
const IOV = 16;
const NAME = 128;
/** Linux caps a batch at `UIO_MAXIOV` messages. */
const MAX_BATCH = 1024;
const TWO32 = 0x100000000;
/** Most IPv4 host texts kept parsed (the map is cleared when full). */
const ADDR_CACHE = 256;

function address(buf: ArrayBuffer): number {
  const p = Deno.UnsafePointer.of(new Uint8Array(buf));
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

function setPtr(view: DataView, off: number, p: number): void {
  view.setUint32(off, p % TWO32, true);
  view.setUint32(off + 4, Math.floor(p / TWO32), true);
}

/** The datagram calls over one libc binding (see the module doc). */
export class DatagramIo {
  readonly #libc: Libc;
  #cap = 0;
  #hdr = new Uint8Array(0);
  #hdrView = new DataView(this.#hdr.buffer);
  #namesPtr = 0;
  #names = new Uint8Array(0);
  #namesView = new DataView(this.#names.buffer);
  #iovView = new DataView(new ArrayBuffer(0));
  #slab = new Uint8Array(0);
  #slabPtr = 0;
  /** The single-call `sockaddr` and its length (`recvfrom`, `sendto`). */
  readonly #name = new Uint8Array(new ArrayBuffer(NAME));
  readonly #nameView = new DataView(this.#name.buffer);
  readonly #nameLen = new Uint8Array(new ArrayBuffer(4));
  readonly #nameLen32 = new Uint32Array(this.#nameLen.buffer);
  // The last destination encoded: its key and bytes.
  #encFamily = -1;
  #encText: string | undefined;
  #encPort = -1;
  #encLen = 0;
  readonly #enc = new Uint8Array(new ArrayBuffer(NAME));
  readonly #encView = new DataView(this.#enc.buffer);
  // IPv4 hosts parsed (text -> 4 bytes), and the last IPv4 sender's host.
  readonly #v4Parsed = new Map<string, Uint8Array>();
  readonly #v4Bytes = new Uint8Array(4);
  #v4Text = "";
  // The last sender decoded (other families): its bytes and value.
  readonly #dec = new Uint8Array(NAME);
  #decLen = -1;
  #decoded: SockAddr | null = null;

  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** `sendto(2)`: one datagram to `addr` (or, `null`, the connected peer). */
  sendto(kfd: number, buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    if (addr === null) return this.#libc.send(kfd, buf, flags);
    const len = this.#encode(addr);
    if (len < 0) return len;
    this.#name.set(this.#enc.subarray(0, len));
    return this.#libc.sendto(kfd, buf, flags, this.#name, len);
  }

  /** `recvfrom(2)` into `msg` (see `SocketDescription.recvmsg`). */
  recvmsg(kfd: number, domain: number, msg: RecvMessage, flags: number): number {
    this.#nameLen32[0] = NAME;
    const buf = msg.buf;
    const n = this.#libc.recvfrom(kfd, buf, flags, this.#name, this.#nameLen);
    if (n < 0) return n;
    msg.length = n;
    msg.flags = n > buf.length ? MSG_TRUNC : 0;
    if (msg.addr !== undefined) this.#decodeInto(this.#name, 0, this.#nameLen32[0], domain, msg);
    return n;
  }

  /** `sendmmsg(2)`: one system call for the whole batch (at most 1,024). */
  sendmmsg(kfd: number, msgs: readonly SendMessage[], flags: number): number {
    let vlen = Math.min(msgs.length, MAX_BATCH);
    if (vlen === 0) return 0;
    let bytes = 0;
    for (let i = 0; i < vlen; i++) bytes += msgs[i].buf.length;
    this.#ensure(vlen, bytes);
    const hdr = this.#hdrView, iov = this.#iovView, slab = this.#slab;
    let off = 0;
    for (let i = 0; i < vlen; i++) {
      const m = msgs[i];
      const h = i * MMSG;
      slab.set(m.buf, off);
      setPtr(iov, i * IOV, this.#slabPtr + off);
      setPtr(iov, i * IOV + 8, m.buf.length);
      off += m.buf.length;
      const addr = m.addr ?? null;
      if (addr === null) {
        setPtr(hdr, h, 0);
        hdr.setUint32(h + 8, 0, true);
        continue;
      }
      const len = this.#encode(addr);
      if (len < 0) {
        // Linux stops at the bad message: the ones before it still go.
        if (i === 0) return len;
        vlen = i;
        break;
      }
      this.#names.set(this.#enc.subarray(0, len), i * NAME);
      setPtr(hdr, h, this.#namesPtr + i * NAME);
      hdr.setUint32(h + 8, len, true);
    }
    return this.#libc.sendmmsg(kfd, this.#hdr, vlen, flags);
  }

  /** `recvmmsg(2)`: one system call fills up to `msgs.length` slots (at most 1,024). */
  recvmmsg(kfd: number, domain: number, msgs: RecvMessage[], flags: number): number {
    const vlen = Math.min(msgs.length, MAX_BATCH);
    if (vlen === 0) return 0;
    let bytes = 0;
    for (let i = 0; i < vlen; i++) bytes += msgs[i].buf.length;
    this.#ensure(vlen, bytes);
    const hdr = this.#hdrView, iov = this.#iovView;
    let off = 0;
    for (let i = 0; i < vlen; i++) {
      const h = i * MMSG;
      const len = msgs[i].buf.length;
      setPtr(iov, i * IOV, this.#slabPtr + off);
      setPtr(iov, i * IOV + 8, len);
      off += len;
      setPtr(hdr, h, this.#namesPtr + i * NAME);
      hdr.setUint32(h + 8, NAME, true);
      hdr.setInt32(h + 48, 0, true);
    }
    const n = this.#libc.recvmmsg(kfd, this.#hdr, vlen, flags);
    off = 0;
    for (let i = 0; i < n; i++) {
      const m = msgs[i];
      const h = i * MMSG;
      const len = hdr.getUint32(h + 56, true);
      const cap = m.buf.length;
      m.buf.set(this.#slab.subarray(off, off + Math.min(len, cap)));
      off += cap;
      m.length = len;
      m.flags = hdr.getInt32(h + 48, true);
      m.addr ??= {} as SockAddr;
      this.#decodeInto(this.#names, i * NAME, hdr.getUint32(h + 8, true), domain, m);
    }
    return n;
  }

  /** Grows the structures to `slots` messages and `bytes` of data, once. */
  #ensure(slots: number, bytes: number): void {
    if (slots > this.#cap) {
      const cap = Math.max(slots, Math.min(this.#cap * 2, MAX_BATCH), 8);
      const hdr = new ArrayBuffer(cap * MMSG);
      const iov = new ArrayBuffer(cap * IOV);
      const names = new ArrayBuffer(cap * NAME);
      this.#hdr = new Uint8Array(hdr);
      this.#hdrView = new DataView(hdr);
      this.#iovView = new DataView(iov);
      this.#names = new Uint8Array(names);
      this.#namesView = new DataView(names);
      this.#namesPtr = address(names);
      const iovPtr = address(iov);
      for (let i = 0; i < cap; i++) {
        setPtr(this.#hdrView, i * MMSG + 16, iovPtr + i * IOV);
        setPtr(this.#hdrView, i * MMSG + 24, 1);
      }
      this.#cap = cap;
    }
    if (bytes > this.#slab.length) {
      const slab = new ArrayBuffer(Math.max(bytes, this.#slab.length * 2, 4096));
      this.#slab = new Uint8Array(slab);
      this.#slabPtr = address(slab);
    }
  }

  /** Encodes `addr` into the cache (unchanged when it is the last one); its length or `-errno`. */
  #encode(addr: SockAddr): number {
    const text = addr.family === AF_UNIX ? addr.path : addr.address;
    const port = addr.family === AF_UNIX ? 0 : addr.port;
    if (addr.family === this.#encFamily && text === this.#encText && port === this.#encPort) {
      return this.#encLen;
    }
    // IPv4, the common case: a server answering many ports of a few hosts
    // parses each host's text once.
    const ip = addr.family === AF_INET && typeof addr.address === "string"
      ? this.#v4(addr.address)
      : undefined;
    const len = ip !== undefined && Number.isInteger(port) && port >= 0 && port <= 65535
      ? this.#encodeV4(ip, port)
      : encodeSockaddr(addr, this.#encView);
    this.#encFamily = len < 0 ? -1 : addr.family;
    this.#encText = text;
    this.#encPort = port;
    this.#encLen = len;
    return len;
  }

  /** The 4 bytes of an IPv4 literal, parsed once per text (`undefined` when it is none). */
  #v4(text: string): Uint8Array | undefined {
    let ip = this.#v4Parsed.get(text);
    if (ip === undefined) {
      const p = parseIPv4(text);
      if (p === null) return undefined;
      if (this.#v4Parsed.size >= ADDR_CACHE) this.#v4Parsed.clear();
      this.#v4Parsed.set(text, ip = p);
    }
    return ip;
  }

  /** `struct sockaddr_in` into the cache: 16 bytes. */
  #encodeV4(ip: Uint8Array, port: number): number {
    this.#enc.fill(0, 0, 16);
    this.#encView.setUint16(0, AF_INET, true);
    this.#encView.setUint16(2, port, false);
    this.#enc.set(ip, 4);
    return 16;
  }

  /** Decodes the `sockaddr` at `bytes[at..at+len]` into `msg.addr`, in place. */
  #decodeInto(bytes: Uint8Array, at: number, len: number, domain: number, msg: RecvMessage): void {
    if (len >= 16 && bytes[at] === AF_INET && bytes[at + 1] === 0) {
      this.#decodeV4(bytes, at, msg.addr!);
      return;
    }
    let a = this.#decoded;
    let same = len === this.#decLen && a !== null;
    for (let i = 0; same && i < len; i++) same = bytes[at + i] === this.#dec[i];
    if (!same) {
      const view = bytes === this.#name ? this.#nameView : this.#namesView;
      const at0 = new DataView(view.buffer, at, NAME);
      // An unnamed Unix sender comes with no address (length 0 or 2).
      a = decodeSockaddr(at0, len) ?? (domain === AF_UNIX ? { family: AF_UNIX, path: "" } : null);
      this.#dec.set(bytes.subarray(at, at + len));
      this.#decLen = len;
      this.#decoded = a;
    }
    if (a === null) return;
    const out = msg.addr!;
    if (out.family === a.family && a.family !== AF_UNIX && out.family !== AF_UNIX) {
      out.address = a.address;
      out.port = a.port;
    } else {
      copyAddr(a, out);
    }
  }

  /**
   * An IPv4 sender into `out`: the address text is formatted once per host
   * (the last one is kept), the port read each time; nothing is allocated
   * while `out` already holds an IPv4 address.
   */
  #decodeV4(bytes: Uint8Array, at: number, out: SockAddr): void {
    const last = this.#v4Bytes;
    if (
      this.#v4Text === "" || bytes[at + 4] !== last[0] || bytes[at + 5] !== last[1] ||
      bytes[at + 6] !== last[2] || bytes[at + 7] !== last[3]
    ) {
      last.set(bytes.subarray(at + 4, at + 8));
      this.#v4Text = `${last[0]}.${last[1]}.${last[2]}.${last[3]}`;
    }
    const port = (bytes[at + 2] << 8) | bytes[at + 3];
    if (out.family === AF_INET) {
      out.address = this.#v4Text;
      out.port = port;
    } else {
      copyAddr({ family: AF_INET, address: this.#v4Text, port }, out);
    }
  }
}
