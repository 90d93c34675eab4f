/**
 * One simulated host's IP stack: its addresses, the TCP ports in use, the
 * connections by 4-tuple and the listeners by port, and its UDP sockets
 * (`_udp_ports.ts`). Segments from the network are handed to the
 * connection they belong to, a SYN to a listener, anything else is
 * answered with RST (TCP has no ICMP here); datagrams and ICMP answers go
 * to the UDP side.
 *
 * The stack outlives the host's program (`kill` leaves TIME_WAIT and
 * closing connections running); a `crash` wipes it: every connection
 * vanishes without a segment, and sockets made before it are stale.
 *
 * @module
 */

import { EADDRINUSE, EADDRNOTAVAIL, EINPROGRESS } from "../../runtime/core/errno.ts";
import type { SimEvent } from "./_event_queue.ts";
import type { Prng } from "./_prng.ts";
import { ACK, describe, type Endpoint, FIN, RST, type Segment, SYN } from "./_segment.ts";
import { Tcb, type TcpHost } from "./_tcb.ts";
import type { TcpKnobs } from "./_knobs.ts";
import type { SimSocket } from "./socket.ts";
import { UdpPorts } from "./_udp_ports.ts";

/** What a stack needs from the network around it. */
export interface Wire {
  nowNs(): number;
  /** Puts a segment on the network (the stack has filled `from`). */
  transmit(seg: Segment): void;
  after(ms: number, fn: () => void): SimEvent;
  cancel(ev: SimEvent | undefined): void;
  trace(host: string, kind: string, text: string): void;
  /** Something a program may observe changed. */
  poke(): void;
}

/** The wildcard addresses. */
export const WILDCARDS: ReadonlySet<string> = new Set(["0.0.0.0", "::"]);
const LOOPBACK = new Set(["127.0.0.1", "::1"]);

/** Whether two local addresses can receive the same packet (equal, or one a wildcard). */
export function overlaps(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

/** Connection keys by endpoint objects (never mutated): a segment's lookup builds no string. */
const keys = new WeakMap<Endpoint, WeakMap<Endpoint, string>>();

function key(local: Endpoint, remote: Endpoint): string {
  let row = keys.get(local);
  if (row === undefined) keys.set(local, row = new WeakMap());
  let k = row.get(remote);
  if (k === undefined) {
    k = `${local.address}|${local.port}|${remote.address}|${remote.port}`;
    row.set(remote, k);
  }
  return k;
}

/** A host's TCP stack. */
export class Stack implements TcpHost {
  /** Increases at each crash: sockets of an older epoch are stale. */
  epoch = 0;
  /** False between a crash and the restart: segments to it are dropped. */
  up = true;
  readonly conns: Map<string, Tcb> = new Map();
  readonly listeners: SimSocket[] = [];
  /** Open sockets that hold a local port (bound, listening or connected). */
  readonly bound: Set<SimSocket> = new Set();
  /** The UDP sockets and their port space. */
  readonly udp: UdpPorts = new UdpPorts(this);
  #nextPort: number;

  constructor(
    readonly name: string,
    readonly addresses: string[],
    readonly knobs: TcpKnobs,
    readonly wire: Wire,
    readonly prng: Prng,
  ) {
    const { min, max } = knobs.ephemeral;
    this.#nextPort = prng.int(min, max);
  }

  nowNs(): number {
    return this.wire.nowNs();
  }

  after(ms: number, fn: () => void): SimEvent {
    return this.wire.after(ms, fn);
  }

  cancel(ev: SimEvent | undefined): void {
    this.wire.cancel(ev);
  }

  transmit(seg: Segment): void {
    seg.from = this.name;
    this.wire.transmit(seg);
  }

  /** Readiness a program may observe changed (the driver lets programs run). */
  poked(): void {
    this.wire.poke();
  }

  /** A line in the trace. */
  note(text: string, kind = "tcp"): void {
    this.wire.trace(this.name, kind, text);
  }

  forget(tcb: Tcb): void {
    const k = key(tcb.local, tcb.remote);
    if (this.conns.get(k) === tcb) this.conns.delete(k);
  }

  /** Whether `address` is one of ours (or a wildcard or loopback). */
  owns(address: string): boolean {
    return this.addresses.includes(address) || WILDCARDS.has(address) || LOOPBACK.has(address);
  }

  #inUse(address: string, port: number, reuse: boolean): boolean {
    for (const s of this.bound) {
      if (s.local!.port !== port || !overlaps(s.local!.address, address)) continue;
      if (!(reuse && s.reuseAddr && !s.listening)) return true;
    }
    if (reuse) return false;
    for (const t of this.conns.values()) {
      if (t.local.port === port && overlaps(t.local.address, address)) return true;
    }
    return false;
  }

  #ephemeral(address: string): number {
    return this.ephemeral((p) => this.#inUse(address, p, false));
  }

  /**
   * The next free ephemeral port by `inUse` (TCP's and UDP's port spaces
   * share the host's seeded cursor), or `-EADDRNOTAVAIL`.
   */
  ephemeral(inUse: (port: number) => boolean): number {
    const { min, max } = this.knobs.ephemeral;
    const span = max - min + 1;
    for (let i = 0; i < span; i++) {
      const p = this.#nextPort;
      this.#nextPort = p >= max ? min : p + 1;
      if (!inUse(p)) return p;
    }
    return -EADDRNOTAVAIL;
  }

  /** `bind`: `-EADDRNOTAVAIL` for an address not ours, `-EADDRINUSE` (TIME_WAIT included). */
  bind(sock: SimSocket, address: string, port: number): number {
    if (!this.owns(address)) return -EADDRNOTAVAIL;
    if (port === 0) {
      const p = this.#ephemeral(address);
      if (p < 0) return -EADDRINUSE;
      port = p;
    } else if (this.#inUse(address, port, sock.reuseAddr)) return -EADDRINUSE;
    sock.local = { address, port };
    this.bound.add(sock);
    return 0;
  }

  /** A socket no longer holds its port. */
  unbind(sock: SimSocket): void {
    this.bound.delete(sock);
  }

  listen(sock: SimSocket): number {
    const l = sock.local!;
    for (const s of this.listeners) {
      if (s.local!.port === l.port && overlaps(s.local!.address, l.address)) return -EADDRINUSE;
    }
    this.listeners.push(sock);
    return 0;
  }

  unlisten(sock: SimSocket): void {
    const i = this.listeners.indexOf(sock);
    if (i >= 0) this.listeners.splice(i, 1);
    this.bound.delete(sock);
  }

  /** A connection for `owner` between two endpoints, with a seeded initial sequence number. */
  newTcb(owner: SimSocket, local: Endpoint, remote: Endpoint): Tcb {
    const t = new Tcb(this, local, remote, owner.sndbuf, owner.rcvbuf, this.prng.u32());
    t.owner = owner;
    owner.tcb = t;
    this.conns.set(key(local, remote), t);
    return t;
  }

  /**
   * The route to `remote` (`ip_route_connect`): the wildcard as a peer means
   * loopback; the source is `bound` unless it is unset or a wildcard, else
   * loopback for a loopback peer, else our first address of the family.
   */
  route(remote: Endpoint, bound: string | undefined): { source: string; remote: Endpoint } {
    const v6 = remote.address.includes(":");
    const loop = LOOPBACK.has(remote.address) || WILDCARDS.has(remote.address);
    let source = bound;
    if (source === undefined || WILDCARDS.has(source)) {
      source = loop
        ? (v6 ? "::1" : "127.0.0.1")
        : this.addresses.find((a) => a.includes(":") === v6) ?? (v6 ? "::1" : "127.0.0.1");
    }
    if (WILDCARDS.has(remote.address)) {
      remote = { address: v6 ? "::1" : "127.0.0.1", port: remote.port };
    }
    return { source, remote };
  }

  /** `connect`: picks the local address and port when unbound; the SYN goes out. */
  connect(sock: SimSocket, to: Endpoint): number {
    const { source: address, remote } = this.route(to, sock.local?.address);
    let port = sock.local?.port ?? 0;
    if (port === 0) {
      port = this.#ephemeral(address);
      if (port < 0) return port;
    }
    const local = { address, port };
    if (this.conns.has(key(local, remote))) return -EADDRNOTAVAIL;
    sock.local = local;
    this.bound.add(sock);
    this.newTcb(sock, local, remote).connect();
    return -EINPROGRESS;
  }

  /** A segment arrived from the network. */
  receive(seg: Segment): void {
    if (!this.up) return;
    if (seg.proto !== "tcp") return this.udp.receive(seg);
    const t = this.conns.get(key(seg.dst, seg.src));
    if (t !== undefined) return t.input(seg);
    if (seg.flags & RST) return;
    if ((seg.flags & (SYN | ACK)) === SYN) {
      const l = this.#listener(seg.dst);
      if (l !== undefined) return l.onSyn(seg);
    }
    // No socket: RST (tcp_v4_send_reset), acknowledging what it carried.
    const len = seg.data.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
    this.note(`no socket for ${describe(seg)}: RST`);
    this.transmit({
      proto: "tcp",
      src: seg.dst,
      dst: seg.src,
      flags: seg.flags & ACK ? RST : RST | ACK,
      seq: seg.flags & ACK ? seg.ack : 0,
      ack: seg.seq + len,
      wnd: 0,
      data: new Uint8Array(0),
      from: "",
      to: "",
    });
  }

  #listener(dst: Endpoint): SimSocket | undefined {
    let wild: SimSocket | undefined;
    for (const s of this.listeners) {
      const l = s.local!;
      if (l.port !== dst.port) continue;
      if (l.address === dst.address) return s;
      if (WILDCARDS.has(l.address) && l.address.includes(":") === dst.address.includes(":")) {
        wild = s;
      }
    }
    return wild;
  }

  /** Power loss: every connection vanishes without a segment; old sockets are stale. */
  crash(): void {
    for (const t of this.conns.values()) t.vanish();
    this.conns.clear();
    this.listeners.length = 0;
    this.bound.clear();
    this.udp.bound.clear();
    this.epoch++;
    this.up = false;
  }
}
