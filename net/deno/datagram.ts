/**
 * A UDP socket over `Deno.listenDatagram`, which Deno provides only with
 * `--unstable-net` (or `"unstable": ["net"]` in deno.json). Without it
 * `socket(..., SOCK_DGRAM, ...)` on this backend returns `-EPROTONOSUPPORT`
 * and {@linkcode datagramBackendError} says why. AF_UNIX datagram sockets
 * are `-EPROTONOSUPPORT` on this backend: Deno's `"unixpacket"` transport
 * refuses a send while a receive is in flight ("Socket already in use"), so
 * readiness cannot be emulated over it (in-memory datagram socketpairs and
 * the native backend have them).
 *
 * Deno has no readiness query for datagrams either, only a `receive()` or a
 * `send()` in flight, so readiness is synthesized as the data channel does
 * for streams:
 *
 * - Receive pump: while the socket is bound and its queue has room, one
 *   `conn.receive()` is in flight, into one 64 KiB buffer (larger than any
 *   UDP datagram, so a datagram's real length is always known: `MSG_TRUNC`
 *   is exact). Each arrival is copied into a bounded queue of datagrams and
 *   raises `EPOLLIN`; a connected socket drops datagrams from anyone but
 *   its peer there. The queue is charged like the kernel's receive buffer
 *   (each datagram its length plus {@linkcode OVERHEAD}) up to `SO_RCVBUF`;
 *   when full the pump pauses, the kernel's own buffer beneath fills, and
 *   further datagrams are dropped there, as Linux drops them: memory stays
 *   bounded under a flood, and the program's next receive resumes the pump.
 * - Send queue: `sendto` copies the datagram into a bounded queue (charged
 *   the same way, up to `SO_SNDBUF`) and returns its length; one
 *   `conn.send()` is in flight at a time. `EPOLLOUT` while less than half of
 *   `SO_SNDBUF` is queued (Linux's `sock_writeable`); `-EAGAIN` when it is
 *   full. An error that Deno reports for a send already accepted becomes the
 *   pending error (`EPOLLERR`, `SO_ERROR`).
 * - `MSG_PEEK`, `MSG_TRUNC`, empty datagrams, `connect` (the default
 *   destination and the receive filter) and `AF_UNSPEC` are exact over the
 *   queue.
 *
 * What it cannot give (README.md, "Datagram sockets"): ICMP errors (a Deno
 * UDP socket is never connected in the kernel, so a closed peer port is
 * never `ECONNREFUSED`); readiness lags an arrival by a loop turn; Deno sets
 * `SO_BROADCAST` on every UDP socket, so sending to 255.255.255.255 without
 * it is refused here (`-EACCES`) but subnet broadcasts are not; a socket
 * bound to port 0 keeps its port after `AF_UNSPEC`; `getsockname` after
 * `connect` on an unbound socket says the wildcard address, not the
 * route's source.
 *
 * @module
 */

import {
  anyAddr,
  copyAddr,
  type InetSockAddr,
  type SockAddr,
  type UnspecSockAddr,
  validateAddr,
} from "../sockaddr.ts";
import { DatagramQueue, READABLE_KEY } from "../_datagram_queue.ts";
import { OUT } from "../_emulated_datagram.ts";
import { InetDatagram, UDP_BUFFER } from "../_inet_datagram.ts";
import { errnoOf, fromDenoAddr } from "./_deno_map.ts";
import { EAGAIN, EINVAL, EIO, EOPNOTSUPP } from "../../runtime/core/errno.ts";
import { AF_UNSPEC, EPOLLERR } from "../../runtime/core/constants.ts";

/** What each queued datagram is charged beyond its bytes (about a kernel skb's overhead). */
export const OVERHEAD = 256;

type Listen = (options: { transport: "udp"; hostname: string; port: number }) => Deno.DatagramConn;

function listenDatagram(): Listen | undefined {
  const f = (Deno as unknown as { listenDatagram?: Listen }).listenDatagram;
  return typeof f === "function" ? f : undefined;
}

/**
 * Why datagram sockets are unavailable on the `deno` backend, or `null` when
 * they are available: they ride on `Deno.listenDatagram`, which Deno
 * provides only with `--unstable-net`.
 *
 * @returns `null`, or the sentence to show a person.
 *
 * @example
 * ```ts
 * import { AF_INET, close, datagramBackendError, socket, SOCK_DGRAM } from "@deno-epoll/epoll";
 *
 * const fd = socket(AF_INET, SOCK_DGRAM, 0);
 * if (fd < 0) console.error(`no UDP: ${datagramBackendError() ?? fd}`);
 * else close(fd);
 * ```
 */
export function datagramBackendError(): string | null {
  return listenDatagram() !== undefined ? null : "datagram sockets on the deno backend need " +
    'Deno.listenDatagram, which Deno provides only with --unstable-net (or "unstable": ["net"] ' +
    "in deno.json); the native backend (--allow-ffi, Linux) has them without it";
}

interface Received {
  bytes: Uint8Array;
  from: InetSockAddr;
}

interface Outgoing {
  bytes: Uint8Array;
  to: Deno.Addr;
}

/** A datagram socket over `Deno.listenDatagram` (see the module doc). */
export class DenoDatagram extends InetDatagram<Received> {
  readonly kind: string;
  readonly domain: number;
  #conn: Deno.DatagramConn | null = null;
  #local: InetSockAddr | null = null;
  #closed = false;
  // Receive side (the queue is EmulatedDatagram's).
  #rxCharge = 0;
  #receiving = false;
  readonly #buf = new Uint8Array(65536);
  // Send side.
  readonly #tx = new DatagramQueue<Outgoing>();
  #txCharge = 0;
  #sending = false;
  // The last destination converted to a Deno address.
  #toKey: InetSockAddr | null = null;
  #toAddr: Deno.Addr | null = null;

  constructor(domain: number) {
    super(UDP_BUFFER, UDP_BUFFER);
    this.domain = domain;
    this.kind = "udp";
  }

  protected override get sendCharge(): number {
    return this.#txCharge;
  }

  /** Linux's `sock_writeable`: less than half of `SO_SNDBUF` queued. */
  protected override get writable(): boolean {
    return this.#txCharge * 2 < this.sndbuf;
  }

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    if (this.#conn !== null) return -EINVAL;
    return this.#open(addr as InetSockAddr);
  }

  /** Opens the Deno socket at `addr` and starts the receive pump. */
  #open(addr: InetSockAddr): number {
    const listen = listenDatagram();
    if (listen === undefined) return -EOPNOTSUPP;
    try {
      this.#conn = listen({ transport: "udp", hostname: addr.address, port: addr.port });
    } catch (e) {
      return -errnoOf(e, EINVAL);
    }
    this.#local = fromDenoAddr(this.#conn.addr) as InetSockAddr;
    this.#pump();
    return 0;
  }

  /** Linux's autobind before a send or a connect: the wildcard address, an ephemeral port. */
  #autobind(): number {
    if (this.#conn !== null) return 0;
    return this.#open(anyAddr(this.domain) as InetSockAddr);
  }

  override connect(addr: SockAddr | UnspecSockAddr): number {
    if (addr.family === AF_UNSPEC) {
      this.peer = null;
      return 0;
    }
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    const r = this.#autobind();
    if (r < 0) return r;
    this.peer = { ...addr } as InetSockAddr;
    return 0;
  }

  override sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    const to = this.sendCheck(buf, flags, addr);
    if (typeof to === "number") return to;
    const r = this.#autobind();
    if (r < 0) return r;
    if (this.#txCharge >= this.sndbuf) return -EAGAIN;
    this.#txCharge += buf.length + OVERHEAD;
    this.#tx.push({ bytes: buf.slice(), to: this.#denoAddr(to) });
    if (!this.#sending) this.#sendPump();
    return buf.length;
  }

  /** `to` as a Deno address (the last one is reused). */
  #denoAddr(to: InetSockAddr): Deno.Addr {
    const k = this.#toKey;
    if (k !== null && k.address === to.address && k.port === to.port) return this.#toAddr!;
    this.#toKey = { family: to.family, address: to.address, port: to.port };
    this.#toAddr = { transport: "udp", hostname: to.address, port: to.port };
    return this.#toAddr;
  }

  async #sendPump(): Promise<void> {
    this.#sending = true;
    try {
      for (let d = this.#tx.first; d !== undefined && this.#conn !== null; d = this.#tx.first) {
        let err = 0;
        try {
          await this.#conn.send(d.bytes, d.to);
        } catch (e) {
          err = errnoOf(e, EIO);
        }
        const was = this.writable;
        this.#tx.shift();
        this.#txCharge -= d.bytes.length + OVERHEAD;
        if (this.#closed) continue;
        if (err !== 0) {
          this.soError = err;
          this.notify(EPOLLERR);
        }
        if (!was && this.writable) this.notify(OUT);
      }
    } finally {
      this.#sending = false;
      if (this.#closed) this.#finish();
    }
  }

  protected override sourceOf(d: Received, out: SockAddr): void {
    copyAddr(d.from, out);
  }

  protected override taken(d: Received): void {
    this.#rxCharge -= d.bytes.length + OVERHEAD;
    this.#pump(); // there is room again
  }

  /** Keeps one `receive()` in flight while bound, open and below `SO_RCVBUF`. */
  async #pump(): Promise<void> {
    if (this.#receiving) return;
    this.#receiving = true;
    try {
      while (this.#conn !== null && !this.#closed && this.#rxCharge < this.rcvbuf) {
        let data: Uint8Array, addr: Deno.Addr;
        try {
          [data, addr] = await this.#conn.receive(this.#buf);
        } catch (e) {
          if (this.#closed) return;
          // An error a receive reports (a Unix peer gone): pending, and the pump goes on.
          this.soError = errnoOf(e, EIO);
          this.notify(EPOLLERR);
          continue;
        }
        if (this.#closed) return;
        const from = fromDenoAddr(addr) as InetSockAddr;
        if (this.peer !== null && !sameAddr(from, this.peer)) continue;
        this.queue.push({ bytes: data.slice(), from });
        this.#rxCharge += data.length + OVERHEAD;
        this.notify(READABLE_KEY);
      }
    } finally {
      this.#receiving = false;
    }
  }

  override getsockname(out: SockAddr): number {
    copyAddr(
      this.#local ??
        anyAddr(this.domain),
      out,
    );
    return 0;
  }

  override setsockopt(level: number, name: number, value: number): number {
    const r = super.setsockopt(level, name, value);
    if (r === 0) this.#pump(); // a larger SO_RCVBUF makes room
    return r;
  }

  protected override onRelease(): void {
    this.#closed = true;
    this.queue.clear();
    // Datagrams already accepted still go out (Linux handed them to the
    // kernel in sendto); the Deno socket closes after the last one.
    if (!this.#sending) this.#finish();
  }

  #finish(): void {
    const conn = this.#conn;
    this.#conn = null;
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }
}

/** Whether two addresses name the same endpoint. */
function sameAddr(a: InetSockAddr, b: InetSockAddr): boolean {
  return a.port === b.port && a.address === b.address;
}
