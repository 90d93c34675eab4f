/**
 * What the emulated UDP sockets (the Deno backend's, `deno/datagram.ts`,
 * and the simulated network's, `sim/udp_socket.ts`) do alike beyond
 * {@linkcode EmulatedDatagram}: the connected peer, `udp_sendmsg`'s checks
 * before a datagram is built, in Linux's order, and the answers a UDP
 * socket gives that a Unix one does not (`shutdown` of an unconnected
 * socket, options at the TCP level). Where a datagram goes and how it is
 * charged stay each kind's own.
 *
 * @module
 */

import {
  EACCES,
  EDESTADDRREQ,
  EINVAL,
  EMSGSIZE,
  ENOPROTOOPT,
  ENOTCONN,
  EOPNOTSUPP,
  EPIPE,
} from "../runtime/core/errno.ts";
import { AF_INET, IPPROTO_TCP } from "../runtime/core/constants.ts";
import { copyAddr, type InetSockAddr, type SockAddr, validateAddr } from "./sockaddr.ts";
import { MSG_OOB } from "./_datagram_queue.ts";
import { EmulatedDatagram } from "./_emulated_datagram.ts";

/** Linux's default `SO_SNDBUF` and `SO_RCVBUF` (`wmem_default`, `rmem_default`). */
export const UDP_BUFFER = 212992;
/** The largest UDP payload over IPv4 and over IPv6. */
const MAX_UDP4 = 65507;
const MAX_UDP6 = 65527;

/** An emulated UDP socket (IPv4 or IPv6). */
export abstract class InetDatagram<T extends { bytes: Uint8Array }> extends EmulatedDatagram<T> {
  /** The connected peer (`connect`), or `null`. */
  peer: InetSockAddr | null = null;

  /**
   * `udp_sendmsg` up to the datagram's allocation, in its order: 64 KiB,
   * `MSG_OOB`, the address (or the peer: `-EDESTADDRREQ`), port 0,
   * broadcast without `SO_BROADCAST`, the protocol's limit, a pending
   * error, `SHUT_WR`.
   *
   * @returns Where the datagram goes, or `-errno`.
   */
  protected sendCheck(
    buf: Uint8Array,
    flags: number,
    addr: SockAddr | null,
  ): InetSockAddr | number {
    if (buf.length > 0xffff) return -EMSGSIZE;
    if (flags & MSG_OOB) return -EOPNOTSUPP;
    let to = this.peer;
    if (addr !== null) {
      const bad = validateAddr(this.domain, addr);
      if (bad) return bad;
      to = addr as InetSockAddr;
      if (to.port === 0) return -EINVAL;
    } else if (to === null) return -EDESTADDRREQ;
    if (to.family === AF_INET && to.address === "255.255.255.255" && !this.broadcast) {
      return -EACCES;
    }
    if (buf.length > (this.domain === AF_INET ? MAX_UDP4 : MAX_UDP6)) return -EMSGSIZE;
    if (this.soError) return -this.takeError();
    if (this.wrShut) return -EPIPE;
    return to;
  }

  override shutdown(how: number): number {
    const r = super.shutdown(how);
    // inet_shutdown: an unconnected socket is shut anyway, and says ENOTCONN.
    return r === 0 && this.peer === null ? -ENOTCONN : r;
  }

  override getpeername(out: SockAddr): number {
    if (this.peer === null) return -ENOTCONN;
    copyAddr(this.peer, out);
    return 0;
  }

  override getsockopt(level: number, name: number): number {
    if (level === IPPROTO_TCP) return this.domain === AF_INET ? -EOPNOTSUPP : -ENOPROTOOPT;
    return super.getsockopt(level, name);
  }

  override setsockopt(level: number, name: number, value: number): number {
    if (level === IPPROTO_TCP) return this.domain === AF_INET ? -EOPNOTSUPP : -ENOPROTOOPT;
    return super.setsockopt(level, name, value);
  }
}
