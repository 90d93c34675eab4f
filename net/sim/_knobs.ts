/**
 * The simulation's knobs: TCP parameters with Linux's defaults, and the
 * conditions of a link.
 *
 * @module
 */

/** TCP parameters of a simulated network (Linux's defaults). */
export interface TcpKnobs {
  /** Maximum segment size (payload bytes): 1448. */
  mss: number;
  /** Default send buffer (`SO_SNDBUF`): 16384. */
  sndbuf: number;
  /** Default receive buffer (`SO_RCVBUF`): 131072. */
  rcvbuf: number;
  /** Smallest retransmission timeout: 200 ms. */
  rtoMinMs: number;
  /** Largest retransmission timeout: 120 s. */
  rtoMaxMs: number;
  /** First SYN retransmission: 1 s, doubling after. */
  synRtoMs: number;
  /** SYN retransmissions before `ETIMEDOUT`: 6 (127 s). */
  synRetries: number;
  /** Data retransmissions before `ETIMEDOUT`: 15. */
  retries2: number;
  /** TIME_WAIT (and an orphan's FIN_WAIT2): 60 s. */
  timeWaitMs: number;
  /** Keepalive (with `SO_KEEPALIVE`): idle 7200 s, probes every 75 s, 9 of them. */
  keepalive: { idleMs: number; intervalMs: number; probes: number };
  /** Largest `listen` backlog: 4096. */
  somaxconn: number;
  /** Ephemeral port range: 32768-60999. */
  ephemeral: { min: number; max: number };
}

/** Linux's defaults. */
export const LINUX_TCP: TcpKnobs = {
  mss: 1448,
  sndbuf: 16384,
  rcvbuf: 131072,
  rtoMinMs: 200,
  rtoMaxMs: 120_000,
  synRtoMs: 1000,
  synRetries: 6,
  retries2: 15,
  timeWaitMs: 60_000,
  keepalive: { idleMs: 7_200_000, intervalMs: 75_000, probes: 9 },
  somaxconn: 4096,
  ephemeral: { min: 32768, max: 60999 },
};

/** Conditions of a link (each direction). */
export interface LinkOptions {
  /** One-way latency in ms, or a range drawn per segment (order kept): default 1. */
  latency?: number | { min: number; max: number };
  /** Extra latency drawn uniformly in [0, jitter] ms per segment (order kept). */
  jitter?: number;
  /** Payload bytes per second (serialisation and queueing); default unlimited. */
  bandwidth?: number;
  /** Probability that a segment is lost. */
  loss?: number;
  /** Probability that a segment is delivered twice. */
  duplicate?: number;
  /** Apply to the direction a -> b only. */
  oneWay?: boolean;
}

/** Merges TCP knobs given by the user over the defaults. */
export function tcpKnobs(given: Partial<TcpKnobs> | undefined): TcpKnobs {
  const k = { ...LINUX_TCP, ...given };
  k.keepalive = { ...LINUX_TCP.keepalive, ...given?.keepalive };
  k.ephemeral = { ...LINUX_TCP.ephemeral, ...given?.ephemeral };
  return k;
}
