/**
 * The run's trace: every call each host made with its result, every
 * segment sent, delivered or dropped, every fault, in order, and a running
 * 64-bit digest of it (two FNV-1a lanes, one pass), so that two runs compare by one
 * string and, when they differ, by their first differing event.
 *
 * @module
 */

/** One event of a run. */
export interface SimTraceEvent {
  /** Virtual time in milliseconds. */
  at: number;
  /** The host it concerns (`"sim"` for the network itself). */
  host: string;
  /** `call`, `send`, `deliver`, `drop`, `fault`, `tcp`, `host`. */
  kind: string;
  /** What happened, as one line. */
  text: string;
}

/** Formats an event as one line: `12.5ms a call read(3) = 5`. */
export function formatEvent(e: SimTraceEvent): string {
  return `${e.at}ms ${e.host} ${e.kind} ${e.text}`;
}

/** The trace of one network. */
export class Trace {
  readonly events: SimTraceEvent[] = [];
  #h1 = 0x811c9dc5;
  #h2 = 0x01000193;
  /** Events kept in `events` at most (the digest covers them all). */
  keep: number;

  constructor(keep = Infinity) {
    this.keep = keep;
  }

  add(e: SimTraceEvent): void {
    const line = formatEvent(e);
    let h1 = this.#h1, h2 = this.#h2 ^ 0x5bd1e995;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c, 0x01000193) >>> 0;
    }
    this.#h1 = h1;
    this.#h2 = h2;
    if (this.events.length < this.keep) this.events.push(e);
  }

  /** The digest so far, as 16 hex digits. */
  hash(): string {
    return this.#h1.toString(16).padStart(8, "0") + this.#h2.toString(16).padStart(8, "0");
  }
}
