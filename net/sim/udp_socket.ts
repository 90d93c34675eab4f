/**
 * The simulated UDP socket, with the call surface and errno answers of a
 * kernel UDP socket (Linux's `udp.c`, `datagram.c`, `af_inet.c`):
 *
 * - `bind` takes a port in the host's UDP space (`_udp_ports.ts`); `sendto`
 *   or `connect` on an unbound socket binds it to the wildcard and an
 *   ephemeral port (`inet_autobind`). `connect` sets the default
 *   destination and the receive filter, and fixes the local address to
 *   the route's source; `connect(AF_UNSPEC)` dissolves it and, as
 *   `__udp_disconnect` does, forgets an address and a port that `bind` did
 *   not name (a socket bound to port 0 or only autobound loses its port).
 * - A send is one datagram, put on the link at once: the send buffer never
 *   fills (loopback and a fast NIC free it at transmission), so `EPOLLOUT`
 *   always holds. Its errors are `udp_sendmsg`'s, in its order
 *   (`InetDatagram.sendCheck`, shared with the Deno backend's UDP).
 * - Arrivals are charged to `SO_RCVBUF` by {@linkcode udpTruesize} (the
 *   kernel's `skb->truesize`, measured); one that does not fit is dropped,
 *   unless the queue is empty (`__udp_enqueue_schedule_skb`), and counted.
 *   A receive takes one datagram (`MSG_PEEK`, `MSG_TRUNC`, empty datagrams
 *   as the shared datagram queue does them); a pending error comes first.
 * - An ICMP port unreachable for a connected socket's peer sets
 *   `ECONNREFUSED` (`EPOLLERR`), returned by the next send or receive.
 * - Readiness is `datagram_poll`'s (`EmulatedDatagram`): `IN` while a
 *   datagram is queued, `OUT` always, `ERR` while an error is pending,
 *   `IN|RDHUP` after `SHUT_RD`, `HUP` when both directions are shut.
 *
 * @module
 */

import { EADDRNOTAVAIL, EINVAL } from "../../runtime/core/errno.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, EPOLLERR } from "../../runtime/core/constants.ts";
import { copyAddr, type SockAddr, type UnspecSockAddr, validateAddr } from "../sockaddr.ts";
import { READABLE_KEY } from "../_datagram_queue.ts";
import { InetDatagram, UDP_BUFFER } from "../_inet_datagram.ts";
import { datagram, describe, type Endpoint, type Segment } from "./_segment.ts";
import { type Stack, WILDCARDS } from "./_stack.ts";

/** `SKB_MAX_ALLOC` on x86-64: a larger datagram is built with page fragments. */
const SKB_MAX_ALLOC = 16384 - 320;
/** A small head (`skb_small_head_cache`, 576) plus the 256 of `sk_buff`. */
const SMALL_SKB = 832;

/**
 * What a received datagram of `len` bytes charges the receive buffer: the
 * kernel's `skb->truesize` for UDP over loopback on x86-64 (measured from
 * `/proc/net/udp`'s rx_queue on Linux 6.18, 0 to 65,507 bytes; how many
 * datagrams a full buffer holds is checked against the kernel in
 * tests/sim_differential_test.ts).
 * `ip_append_data` builds a linear skb while the bytes, the IP and UDP
 * headers and 31 of reserve fit `SKB_MAX_ALLOC`: a small head when that
 * plus 320 of shared info fits 576, else a power-of-two `kmalloc`, plus
 * 256 of `sk_buff`; past that, a small head and the payload in page
 * fragments charged byte for byte.
 */
export function udpTruesize(len: number, v6: boolean): number {
  const head = len + (v6 ? 48 : 28) + 31;
  if (head >= SKB_MAX_ALLOC) return SMALL_SKB + len;
  const size = ((head + 63) & ~63) + 320;
  if (size <= 576) return SMALL_SKB;
  let bucket = 1024;
  while (bucket < size) bucket *= 2;
  return bucket + 256;
}

interface Received {
  bytes: Uint8Array;
  from: Endpoint;
  charge: number;
}

/** A simulated UDP socket of one host. */
export class SimUdpSocket extends InetDatagram<Received> {
  readonly kind = "sim-udp";
  readonly domain: number;
  readonly stack: Stack;
  /** The stack's life this socket belongs to: a crash makes it stale. */
  readonly epoch: number;
  /** The local address and port, once bound (or autobound). */
  local: Endpoint | null = null;
  /** Bytes charged to the receive buffer (`sk_rmem_alloc`: `ss`'s Recv-Q). */
  rmem = 0;
  /** Datagrams dropped for want of receive buffer (`sk_drops`). */
  drops = 0;
  /** `bind` named the address / the port (`SOCK_BINDADDR_LOCK` / `SOCK_BINDPORT_LOCK`). */
  #addrLocked = false;
  #portLocked = false;

  constructor(stack: Stack, domain: number) {
    super(UDP_BUFFER, UDP_BUFFER);
    this.stack = stack;
    this.domain = domain;
    this.epoch = stack.epoch;
  }

  /** Whether the host crashed since this socket was made. */
  get stale(): boolean {
    return this.epoch !== this.stack.epoch;
  }

  /** The state `netstat` shows: `UNCONN`, or `ESTABLISHED` once connected. */
  get state(): string {
    return this.peer === null ? "UNCONN" : "ESTABLISHED";
  }

  // ---- From the stack -------------------------------------------------------

  /** A datagram for us: queued when the receive buffer has room, else dropped. */
  enqueue(seg: Segment): void {
    if (this.stale) return;
    const charge = udpTruesize(seg.data.length, this.domain === AF_INET6);
    if (this.rmem > 0 && this.rmem + charge > this.rcvbuf) {
      this.drops++;
      this.stack.note(`receive buffer full (${this.rmem}): dropped ${describe(seg)}`, "drop");
      return;
    }
    this.rmem += charge;
    this.queue.push({ bytes: seg.data, from: seg.src, charge });
    this.stack.poked();
    this.notify(READABLE_KEY);
  }

  /** An ICMP error for our peer (`sk_err`, `sk_error_report`). */
  fail(errno: number): void {
    if (this.stale) return;
    this.soError = errno;
    this.stack.poked();
    this.notify(EPOLLERR);
  }

  // ---- What EmulatedDatagram asks -------------------------------------------

  /** A send leaves at once: nothing stays charged to `SO_SNDBUF`. */
  protected override get sendCharge(): number {
    return 0;
  }

  /** Always (`sock_writeable` with nothing charged). */
  protected override get writable(): boolean {
    return true;
  }

  protected override sourceOf(d: Received, out: SockAddr): void {
    copyAddr({ family: this.domain as typeof AF_INET, ...d.from }, out);
  }

  protected override taken(d: Received): void {
    this.rmem -= d.charge;
  }

  // ---- Calls ----------------------------------------------------------------

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    if (this.local !== null) return -EINVAL;
    const { address, port } = addr as Endpoint;
    if (!this.stack.owns(address)) return -EADDRNOTAVAIL;
    const r = this.stack.udp.bind(this, address, port);
    if (r < 0) return r;
    this.#addrLocked = !WILDCARDS.has(address);
    this.#portLocked = port !== 0;
    return 0;
  }

  /** `inet_autobind`: the wildcard and an ephemeral port. */
  #autobind(): number {
    if (this.local !== null) return 0;
    return this.stack.udp.bind(this, this.domain === AF_INET ? "0.0.0.0" : "::", 0);
  }

  override connect(addr: SockAddr | UnspecSockAddr): number {
    if (addr.family === AF_UNSPEC) {
      this.peer = null;
      const l = this.local;
      if (l !== null && !this.#addrLocked) l.address = this.domain === AF_INET ? "0.0.0.0" : "::";
      if (l !== null && !this.#portLocked) {
        this.stack.udp.unbind(this);
        this.local = null;
      }
      return 0;
    }
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    const r = this.#autobind();
    if (r < 0) return r;
    const { source, remote } = this.stack.route(addr as Endpoint, this.local!.address);
    this.local!.address = source;
    this.peer = {
      family: this.domain as typeof AF_INET,
      address: remote.address,
      port: remote.port,
    };
    return 0;
  }

  override sendto(buf: Uint8Array, flags: number, addr: SockAddr | null): number {
    const to = this.sendCheck(buf, flags, addr);
    if (typeof to === "number") return to;
    const r = this.#autobind();
    if (r < 0) return r;
    const { source, remote } = this.stack.route(to, this.local!.address);
    const src = { address: source, port: this.local!.port };
    this.stack.transmit(
      datagram(src, { address: remote.address, port: remote.port }, buf.slice(), ""),
    );
    return buf.length;
  }

  override getsockname(out: SockAddr): number {
    const any = this.domain === AF_INET ? "0.0.0.0" : "::";
    const l = this.local ?? { address: any, port: 0 };
    copyAddr({ family: this.domain as typeof AF_INET, ...l }, out);
    return 0;
  }

  /** `close` (or a kill): the port is free, queued datagrams are gone. */
  protected override onRelease(): void {
    this.queue.clear();
    this.rmem = 0;
    if (!this.stale) this.stack.udp.unbind(this);
  }
}
