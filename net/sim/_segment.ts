/**
 * What travels on a simulated link: a TCP segment, a UDP datagram, or the
 * ICMP port-unreachable answer to a datagram, between two endpoints. All
 * three have one shape (so a rule written for segments keeps working);
 * `proto` tells them apart, and a datagram's or an ICMP answer's `flags`,
 * `seq`, `ack` and `wnd` are 0. Sequence numbers are plain integers (no
 * 32-bit wrap: a run never sends 2^53 bytes), each connection starting at
 * a seeded initial number.
 *
 * @module
 */

/** `SYN`. */
export const SYN = 1;
/** `ACK`. */
export const ACK = 2;
/** `FIN`. */
export const FIN = 4;
/** `RST`. */
export const RST = 8;

/** One end of a connection. */
export interface Endpoint {
  /** The literal address (`10.0.0.1`, `fd00::1`). */
  address: string;
  /** The port. */
  port: number;
}

/**
 * A packet as a rule, a trace or a test sees it: a TCP segment
 * (`proto: "tcp"`), a UDP datagram (`"udp"`, `data` its payload), or an
 * ICMP port unreachable (`"icmp"`: `src` is the datagram's destination,
 * the closed port, and `dst` its sender).
 */
export interface Segment {
  /** `"tcp"`, `"udp"` or `"icmp"`. */
  proto: "tcp" | "udp" | "icmp";
  /** Sender. */
  src: Endpoint;
  /** Receiver. */
  dst: Endpoint;
  /** `SYN|ACK|FIN|RST` bits. */
  flags: number;
  /** Sequence number of the first byte (or of the SYN/FIN). */
  seq: number;
  /** Acknowledgement number (meaningful with `ACK`). */
  ack: number;
  /** Advertised receive window in bytes. */
  wnd: number;
  /** Payload (possibly empty). */
  data: Uint8Array;
  /** Name of the sending host. */
  from: string;
  /** Name of the receiving host (when known). */
  to: string;
}

/** Flags as `S.`-style text for traces: `S`, `S.`, `.`, `F.`, `R`. */
export function flagText(flags: number): string {
  let s = "";
  if (flags & SYN) s += "S";
  if (flags & FIN) s += "F";
  if (flags & RST) s += "R";
  if (flags & ACK) s += ".";
  return s;
}

/** A one-line description of a segment, datagram or ICMP answer, for the trace. */
export function describe(s: Segment): string {
  const ends = `${s.src.address}:${s.src.port}>${s.dst.address}:${s.dst.port}`;
  if (s.proto === "udp") return `${ends} udp len=${s.data.length}`;
  if (s.proto === "icmp") return `${ends} icmp port-unreachable`;
  return `${ends} ${flagText(s.flags)} seq=${s.seq} ack=${s.ack} wnd=${s.wnd} len=${s.data.length}`;
}

/** A bare RST from `src` (on host `from`) to `dst` at `seq`, as `sim.reset` sends it. */
export function rstSegment(src: Endpoint, dst: Endpoint, seq: number, from: string): Segment {
  return {
    proto: "tcp",
    src,
    dst,
    flags: RST,
    seq,
    ack: 0,
    wnd: 0,
    data: new Uint8Array(0),
    from,
    to: "",
  };
}

/** A UDP datagram from `src` (on host `from`) to `dst`. */
export function datagram(src: Endpoint, dst: Endpoint, data: Uint8Array, from: string): Segment {
  return { proto: "udp", src, dst, flags: 0, seq: 0, ack: 0, wnd: 0, data, from, to: "" };
}
