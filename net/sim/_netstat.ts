/**
 * `sim.netstat`: a host's sockets and the connections its kernel still
 * holds without a descriptor (closing, TIME_WAIT), with Linux's state
 * names and `ss`'s queue columns.
 *
 * @module
 */

import type { Host } from "./host.ts";
import { SimUdpSocket } from "./udp_socket.ts";

/** A `netstat` row. */
export interface NetstatRow {
  /** `"tcp"` or `"udp"`. */
  proto: "tcp" | "udp";
  /** The host's name. */
  host: string;
  /** The descriptor in the host's table, or -1 for a connection without one (closing, TIME_WAIT). */
  fd: number;
  /** Local `address:port` (`0.0.0.0:0` before bind). */
  local: string;
  /** Peer `address:port`, or `*:*`. */
  peer: string;
  /**
   * Linux's state name: TCP `LISTEN`, `SYN_SENT`, ..., `TIME_WAIT`, or
   * `CLOSED`; UDP `UNCONN` (`ss`'s name for an unconnected socket) or
   * `ESTABLISHED` (connected: the kernel's own state, as `netstat` says).
   */
  state: string;
  /** TCP: bytes written and not yet acknowledged (`ss`'s Send-Q); UDP: 0 (a send leaves at once). */
  sendQ: number;
  /**
   * TCP: bytes received and not yet read; for a listener, connections not
   * yet accepted. UDP: what the queued datagrams charge the receive buffer
   * (`ss`'s Recv-Q, the kernel's `sk_rmem_alloc`).
   */
  recvQ: number;
}

/** The rows of `hosts`, each host's descriptors first, then its orphaned connections. */
export function netstatRows(hosts: Iterable<Host>): NetstatRow[] {
  const rows: NetstatRow[] = [];
  const ep = (e: { address: string; port: number } | null) =>
    e === null ? "*:*" : `${e.address}:${e.port}`;
  for (const h of hosts) {
    const seen = new Set<unknown>();
    for (const [fd, s] of h.sockets()) {
      if (s instanceof SimUdpSocket) {
        const peer = s.peer;
        const row = { host: h.name, fd, local: ep(s.local), peer: ep(peer), state: s.state };
        rows.push({ proto: "udp", ...row, sendQ: 0, recvQ: s.rmem });
        continue;
      }
      seen.add(s.tcb);
      rows.push({
        proto: "tcp",
        host: h.name,
        fd,
        local: ep(s.local),
        peer: ep(s.tcb?.remote ?? null),
        state: s.state,
        sendQ: s.tcb?.sendQ ?? 0,
        recvQ: s.listening ? s.acceptQ.length : s.tcb?.recvQ.length ?? 0,
      });
    }
    for (const t of h.stack.conns.values()) {
      if (seen.has(t)) continue;
      rows.push({
        proto: "tcp",
        host: h.name,
        fd: -1,
        local: ep(t.local),
        peer: ep(t.remote),
        state: t.state,
        sendQ: t.sendQ,
        recvQ: t.recvQ.length,
      });
    }
  }
  return rows;
}
