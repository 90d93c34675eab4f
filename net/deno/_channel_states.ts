/**
 * The two state machines of a Deno data channel, one per direction of the
 * connection, as tables of every legal transition with the reason for each
 * (in the spirit of wepoll's per-socket `IDLE -> PENDING -> CANCELLED`).
 * `DataChannel` changes its states only through these tables and asserts
 * every step against them.
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

/** The receive direction. */
export type RecvState = "reading" | "paused" | "eof" | "failed" | "closed";
/** The send direction. */
export type SendState =
  | "idle"
  | "writing"
  | "fin-due"
  | "fin-sent"
  | "lingering"
  | "failed"
  | "closed";

/** Every legal receive transition, and why it happens. Anything else is a bug. */
export const RECV_NEXT: Readonly<Record<RecvState, readonly RecvState[]>> = {
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
export const SEND_NEXT: Readonly<Record<SendState, readonly SendState[]>> = {
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
