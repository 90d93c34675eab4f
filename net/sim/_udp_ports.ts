/**
 * One simulated host's UDP: its sockets' port space and the delivery of
 * datagrams, after Linux's `udp.c`:
 *
 * - Ports are their own space (a TCP and a UDP socket may share a
 *   number). A bind conflicts with a socket on the same port whose
 *   address overlaps (equal, or either a wildcard) unless both set
 *   `SO_REUSEADDR` or both `SO_REUSEPORT` (`udp_lib_lport_inuse`).
 * - A datagram goes to the best match (`compute_score`): a socket
 *   connected to another peer never matches; an exact local address beats
 *   a wildcard, a connected socket beats an unconnected one; among equals
 *   the socket bound last (Linux adds to the head of the hash chain).
 * - No socket: an ICMP port unreachable goes back on the link (so faults
 *   apply to it too); on arrival it gives `ECONNREFUSED` to the sender's
 *   socket only when that socket is connected to the closed port
 *   (`__udp4_lib_err`: an unconnected socket ignores it). Linux does not
 *   rate-limit these towards loopback; the sim never does.
 *
 * @module
 */

import { EADDRINUSE, ECONNREFUSED } from "../../runtime/core/errno.ts";
import { describe, type Endpoint, type Segment } from "./_segment.ts";
import { overlaps, type Stack, WILDCARDS } from "./_stack.ts";
import type { SimUdpSocket } from "./udp_socket.ts";

/** A host's UDP sockets. */
export class UdpPorts {
  /** Sockets holding a port, in bind order. */
  readonly bound: Set<SimUdpSocket> = new Set();

  constructor(readonly stack: Stack) {}

  #conflicts(sock: SimUdpSocket, address: string, port: number): boolean {
    for (const s of this.bound) {
      if (s === sock || s.local!.port !== port || !overlaps(s.local!.address, address)) continue;
      if ((s.reuseAddr && sock.reuseAddr) || (s.reusePort && sock.reusePort)) continue;
      return true;
    }
    return false;
  }

  /** Gives `sock` the port (`0`: an ephemeral one): 0, `-EADDRINUSE`, `-EADDRNOTAVAIL`. */
  bind(sock: SimUdpSocket, address: string, port: number): number {
    if (port === 0) {
      const p = this.stack.ephemeral((p) => this.#conflicts(sock, address, p));
      if (p < 0) return p;
      port = p;
    } else if (this.#conflicts(sock, address, port)) return -EADDRINUSE;
    sock.local = { address, port };
    this.bound.delete(sock);
    this.bound.add(sock);
    return 0;
  }

  /** `sock` no longer holds its port. */
  unbind(sock: SimUdpSocket): void {
    this.bound.delete(sock);
  }

  /** The socket a datagram from `src` to `dst` reaches, if any. */
  #lookup(dst: Endpoint, src: Endpoint): SimUdpSocket | undefined {
    let best: SimUdpSocket | undefined;
    let bestScore = -1;
    for (const s of this.bound) {
      const l = s.local!;
      if (l.port !== dst.port) continue;
      let score = 0;
      if (l.address === dst.address) score += 4;
      else if (!WILDCARDS.has(l.address) || l.address.includes(":") !== dst.address.includes(":")) {
        continue;
      }
      const p = s.peer;
      if (p !== null) {
        if (p.address !== src.address || p.port !== src.port) continue;
        score += 4;
      }
      if (score >= bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /** A datagram or an ICMP answer arrived. */
  receive(seg: Segment): void {
    if (seg.proto === "icmp") {
      // The answer to our datagram `seg.dst -> seg.src`: the socket connected there learns.
      const s = this.#lookup(seg.dst, seg.src);
      if (s !== undefined && s.peer !== null) s.fail(ECONNREFUSED);
      return;
    }
    const s = this.#lookup(seg.dst, seg.src);
    if (s !== undefined) return s.enqueue(seg);
    this.stack.note(`no socket for ${describe(seg)}: ICMP port unreachable`, "udp");
    this.stack.transmit({
      proto: "icmp",
      src: seg.dst,
      dst: seg.src,
      flags: 0,
      seq: 0,
      ack: 0,
      wnd: 0,
      data: new Uint8Array(0),
      from: "",
      to: "",
    });
  }
}
