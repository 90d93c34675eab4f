/**
 * What travels on a simulated link: a TCP segment between two endpoints.
 * Sequence numbers are plain integers (no 32-bit wrap: a run never sends
 * 2^53 bytes), each connection starting at a seeded initial number.
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

/** A segment as a rule, a trace or a test sees it. */
export interface Segment {
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

/** A one-line description of a segment, for the trace. */
export function describe(s: Segment): string {
  return `${s.src.address}:${s.src.port}>${s.dst.address}:${s.dst.port} ${flagText(s.flags)} ` +
    `seq=${s.seq} ack=${s.ack} wnd=${s.wnd} len=${s.data.length}`;
}

/** A bare RST from `src` (on host `from`) to `dst` at `seq`, as `sim.reset` sends it. */
export function rstSegment(src: Endpoint, dst: Endpoint, seq: number, from: string): Segment {
  return { src, dst, flags: RST, seq, ack: 0, wnd: 0, data: new Uint8Array(0), from, to: "" };
}
