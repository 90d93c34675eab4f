/**
 * The two state machines of a Deno data channel, one per direction of the
 * connection, as tables of every legal transition with the reason for each
 * (in the spirit of wepoll's per-socket `IDLE -> PENDING -> CANCELLED`).
 * `DataChannel` changes its states only through these tables and asserts
 * every step against them.
 *
 * The channel holds its states as small integers ({@linkcode Recv},
 * {@linkcode Send}) and checks a step against a bit mask derived from the
 * tables once, at load: a step is an array load and a bit test, not a
 * lookup of the state's name and a search of its list (four steps per
 * echoed message).
 *
 * ```text
 * receive: paused <-> reading -> eof     reading, paused -> failed -> eof     (any) -> closed
 * send:    idle <-> writing -> fin-due -> fin-sent     writing, fin-due -> lingering -> closed
 *          idle, writing, fin-due, fin-sent -> failed                        (any) -> closed
 * ```
 *
 * Receive states: `reading` one `conn.read()` in flight; `paused` none (the
 * buffer is full, or a completion is being handled); `eof` the peer's FIN
 * arrived; `failed` the connection failed before a FIN; `closed` our
 * `close()`.
 *
 * Send states: `idle` nothing unsent; `writing` one `conn.write()` in
 * flight; `fin-due` the same with our `SHUT_WR` waiting for the buffer to
 * drain; `fin-sent` our FIN is out; `lingering` `close()` with unsent bytes
 * being delivered; `failed` the connection failed; `closed` the `Deno.Conn`
 * is closed.
 *
 * @module
 */

/** The receive direction's states, by name. */
export type RecvName = "reading" | "paused" | "eof" | "failed" | "closed";
/** The send direction's states, by name. */
export type SendName =
  | "idle"
  | "writing"
  | "fin-due"
  | "fin-sent"
  | "lingering"
  | "failed"
  | "closed";

/** Every legal receive transition, and why it happens. Anything else is a bug. */
export const RECV_NEXT: Readonly<Record<RecvName, readonly RecvName[]>> = {
  // paused -> reading: there is room (created, the program read, SO_RCVBUF grew): a read starts.
  // paused -> failed: the write side failed while no read was in flight.
  // paused -> closed: close().
  paused: ["reading", "failed", "closed"],
  // reading -> paused: the read brought bytes (or nothing); the pump restarts it if room is left.
  // reading -> eof: the read returned null: the peer's FIN.
  // reading -> failed: the read (or the write side) failed; the read in flight may still complete.
  // reading -> closed: close(); the read in flight completes into nothing.
  reading: ["paused", "eof", "failed", "closed"],
  // eof -> closed: close(). (A later failure leaves eof: the FIN is reported first.)
  eof: ["closed"],
  // failed -> eof: the read still in flight returned null after the failure was seen.
  // failed -> closed: close().
  failed: ["eof", "closed"],
  closed: [],
};

/** Every legal send transition, and why it happens. Anything else is a bug. */
export const SEND_NEXT: Readonly<Record<SendName, readonly SendName[]>> = {
  // idle -> writing: the program wrote; a Deno write starts.
  // idle -> fin-sent: SHUT_WR with nothing unsent: FIN now.
  // idle -> failed: the read side failed.
  // idle -> closed: close() with nothing unsent.
  idle: ["writing", "fin-sent", "failed", "closed"],
  // writing -> idle: the write completed and the buffer is empty.
  // writing -> fin-due: SHUT_WR while bytes are unsent: FIN once they are out.
  // writing -> lingering: close() with unsent bytes: deliver them first.
  // writing -> failed: the write (or the read side) failed.
  // writing -> closed: close() without lingering.
  writing: ["idle", "fin-due", "lingering", "failed", "closed"],
  // fin-due -> fin-sent: the buffer drained: FIN.
  // fin-due -> lingering: close() before the buffer drained.
  // fin-due -> failed: the write (or the read side) failed.
  // fin-due -> closed: close() without lingering.
  "fin-due": ["fin-sent", "lingering", "failed", "closed"],
  // fin-sent -> failed: the read side failed after our FIN.
  // fin-sent -> closed: close().
  "fin-sent": ["failed", "closed"],
  // lingering -> closed: the buffer drained, a write failed, or the orphan timeout ran out.
  lingering: ["closed"],
  // failed -> closed: close().
  failed: ["closed"],
  closed: [],
};

/** Throws for a state the machines cannot be in: a bug in the data channel, never the peer's doing. */
export function impossible(what: string): never {
  throw new Error(`data channel: impossible state: ${what}`);
}

/** The receive states as the channel holds them. */
export const Recv = { paused: 0, reading: 1, eof: 2, failed: 3, closed: 4 } as const;
/** A receive state as the channel holds it. */
export type RecvState = (typeof Recv)[keyof typeof Recv];
/** The send states as the channel holds them. */
export const Send = {
  idle: 0,
  writing: 1,
  finDue: 2,
  finSent: 3,
  lingering: 4,
  failed: 5,
  closed: 6,
} as const;
/** A send state as the channel holds it. */
export type SendState = (typeof Send)[keyof typeof Send];

const RECV_NAMES: readonly RecvName[] = ["paused", "reading", "eof", "failed", "closed"];
const SEND_NAMES: readonly SendName[] = [
  "idle",
  "writing",
  "fin-due",
  "fin-sent",
  "lingering",
  "failed",
  "closed",
];

/** Per state (by number), the bit mask of the states it may move to (by number). */
function masks<N extends string>(names: readonly N[], next: Readonly<Record<N, readonly N[]>>) {
  return names.map((from) => next[from].reduce((m, to) => m | 1 << names.indexOf(to), 0));
}
const RECV_OK = masks(RECV_NAMES, RECV_NEXT);
const SEND_OK = masks(SEND_NAMES, SEND_NEXT);

/** Checks a receive step against {@linkcode RECV_NEXT}; returns `next`. */
export function recvStep(from: RecvState, next: RecvState): RecvState {
  if ((RECV_OK[from] & 1 << next) === 0) {
    impossible(`receive ${recvName(from)} -> ${recvName(next)}`);
  }
  return next;
}

/** Checks a send step against {@linkcode SEND_NEXT}; returns `next`. */
export function sendStep(from: SendState, next: SendState): SendState {
  if ((SEND_OK[from] & 1 << next) === 0) impossible(`send ${sendName(from)} -> ${sendName(next)}`);
  return next;
}

/** The name of a receive state, for messages. */
export function recvName(s: RecvState): RecvName {
  return RECV_NAMES[s];
}

/** The name of a send state, for messages. */
export function sendName(s: SendState): SendName {
  return SEND_NAMES[s];
}
