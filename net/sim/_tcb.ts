/**
 * One simulated TCP connection: an explicit state machine in the style of
 * wepoll's per-socket states, a comment on each transition, following
 * Linux (RFC 793 states, RFC 6298 retransmission timer, Linux's defaults).
 *
 * What is modelled: the three-way handshake with SYN retransmission
 * (`synRtoMs` doubling, `synRetries`, then `ETIMEDOUT`); MSS segmentation;
 * the receive window (the free part of the receive buffer) and zero-window
 * probes; a bounded send buffer (unacknowledged plus unsent bytes);
 * go-back-N retransmission on RTO with exponential backoff (`rtoMinMs`,
 * `rtoMaxMs`, `retries2`, then `ETIMEDOUT`) and fast retransmit after three
 * duplicate ACKs; FIN and half-close; RST; TIME_WAIT; keepalive.
 * Out-of-order segments are dropped and re-acknowledged (no SACK, no
 * out-of-order queue), so the byte stream has no hole, duplicate or
 * reordered byte whatever the network does. Not modelled: congestion
 * control, Nagle, delayed ACKs, urgent data, options other than MSS.
 *
 * The send side (output, retransmission, zero-window probes, the SYN
 * timer) is {@linkcode TcpSendSide}'s in `_tcp_send.ts`; this file is the
 * state machine on top: opening, the user's calls, segments in, closing,
 * keepalive and TIME_WAIT.
 *
 * @module
 */

import { ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT } from "../../runtime/core/errno.ts";
import { POLL_IN } from "../../runtime/core/_poll_masks.ts";
import type { SimEvent } from "./_event_queue.ts";
import { ACK, type Endpoint, FIN, RST, type Segment, SYN } from "./_segment.ts";
import {
  MS,
  RCV_SHUTDOWN,
  SEND_SHUTDOWN,
  SHUTDOWN_MASK,
  type TcpHost,
  TcpSendSide,
  type TcpState,
} from "./_tcp_send.ts";

export {
  RCV_SHUTDOWN,
  SEND_SHUTDOWN,
  SHUTDOWN_MASK,
  type TcbOwner,
  type TcpHost,
  type TcpState,
} from "./_tcp_send.ts";

/** One connection. */
export class Tcb extends TcpSendSide {
  /** A listener's child until accepted: its completion callback. */
  onEstablished: ((t: Tcb) => void) | null = null;
  /** A listener's child until accepted: called if it closes first. */
  onGone: ((t: Tcb) => void) | null = null;

  // Keepalive and TIME_WAIT.
  #keep: SimEvent | undefined;
  #keepProbes = 0;
  #lastHeard = 0;
  #timeWait: SimEvent | undefined;

  constructor(
    host: TcpHost,
    local: Endpoint,
    remote: Endpoint,
    sndbuf: number,
    rcvbuf: number,
    iss: number,
  ) {
    super(host, local, remote, sndbuf, rcvbuf, iss);
    this.#lastHeard = host.nowNs();
  }

  // ---- Opening ----------------------------------------------------------

  /** Active open: CLOSED -> SYN_SENT, SYN out, SYN timer armed. */
  connect(): void {
    this.state = "SYN_SENT";
    this.emit(SYN, this.iss, 0);
    this.sndNxt = this.iss + 1;
    this.armSyn(0);
  }

  /** Passive open from a listener's SYN: CLOSED -> SYN_RECV, SYN-ACK out. */
  acceptSyn(seg: Segment): void {
    this.rcvNxt = seg.seq + 1;
    this.sndWnd = seg.wnd;
    this.state = "SYN_RECV";
    this.emit(SYN | ACK, this.iss, this.rcvNxt);
    this.sndNxt = this.iss + 1;
    this.armSyn(0);
  }

  // ---- User calls -------------------------------------------------------

  /** Queues bytes (up to the free send buffer) and sends what the window allows. */
  write(buf: Uint8Array): number {
    const n = this.sndBuf.push(buf);
    if (n > 0) this.output();
    return n;
  }

  /** Reads queued bytes; opens the window again when it grew enough. */
  read(buf: Uint8Array): number {
    const n = this.recvQ.shift(buf);
    if (n > 0) this.maybeWindowUpdate();
    return n;
  }

  /**
   * Our side will send no more (`shutdown(SHUT_WR)` or `close`): a FIN
   * goes out behind the queued bytes. ESTABLISHED -> FIN_WAIT1,
   * CLOSE_WAIT -> LAST_ACK, SYN_SENT -> CLOSED (nothing to say yet).
   */
  closeSend(): void {
    this.shutdown |= SEND_SHUTDOWN;
    if (this.finSeq >= 0) return;
    if (this.state === "SYN_SENT") return this.#done();
    if (this.state === "ESTABLISHED" || this.state === "SYN_RECV") this.state = "FIN_WAIT1";
    else if (this.state === "CLOSE_WAIT") this.state = "LAST_ACK";
    else return;
    this.finSeq = this.sndBuf.end;
    this.output();
  }

  /**
   * `close` with bytes we never read (or a socket aborted by `sim.reset`):
   * RST out, any state -> CLOSED (Linux's tcp_close "data was lost").
   */
  resetNow(): void {
    if (this.state === "CLOSED" || this.state === "TIME_WAIT") return this.#done();
    if (this.state !== "SYN_SENT") this.emit(RST | ACK, this.sndNxt, this.rcvNxt);
    this.#done();
  }

  // ---- Segments in ------------------------------------------------------

  /** Handles a segment addressed to this connection. */
  input(seg: Segment): void {
    this.#lastHeard = this.host.nowNs();
    this.#keepProbes = 0;
    if (seg.flags & RST) return this.#onRst(seg);
    switch (this.state) {
      case "SYN_SENT":
        if ((seg.flags & (SYN | ACK)) !== (SYN | ACK) || seg.ack !== this.iss + 1) return;
        // SYN_SENT -> ESTABLISHED: our SYN is acknowledged and theirs arrived.
        this.handshakeRtt();
        this.rcvNxt = seg.seq + 1;
        this.sndUna = seg.ack;
        this.sndWnd = seg.wnd;
        this.stopRto();
        this.state = "ESTABLISHED";
        this.sendAck();
        this.#armKeepalive();
        this.owner?.wake(0, true);
        this.output();
        return;
      case "SYN_RECV":
        if (seg.flags & SYN) return this.emit(SYN | ACK, this.iss, this.rcvNxt); // their SYN again
        if (!(seg.flags & ACK) || seg.ack !== this.iss + 1) return;
        // SYN_RECV -> ESTABLISHED: the handshake's last ACK; the listener may hand it out.
        this.handshakeRtt();
        this.sndUna = seg.ack;
        this.sndWnd = seg.wnd;
        this.stopRto();
        this.state = "ESTABLISHED";
        this.#armKeepalive();
        this.onEstablished?.(this);
        this.onEstablished = null;
        break;
      case "TIME_WAIT":
        // A retransmitted FIN: acknowledge it again (the timer keeps running).
        if (seg.flags & FIN) this.sendAck();
        return;
      case "CLOSED":
        return;
    }
    if (seg.flags & SYN) return this.sendAck(); // stale SYN-ACK: our ACK was lost
    if (seg.flags & ACK) this.onAck(seg);
    if ((this.state as TcpState) === "CLOSED") return;
    this.#onData(seg);
  }

  #onRst(seg: Segment): void {
    if (this.state === "SYN_SENT") {
      // SYN_SENT -> CLOSED: RST answers our SYN (a port with no listener).
      if (!(seg.flags & ACK) || seg.ack !== this.iss + 1) return;
      return this.abort(ECONNREFUSED);
    }
    // Linux's tcp_validate_incoming: a reset counts only inside the window.
    if (seg.seq < this.rcvNxt || seg.seq > this.rcvNxt + Math.max(this.window, 1)) return;
    if (this.state === "SYN_RECV" || this.state === "TIME_WAIT") return this.#done();
    // Any synchronized state -> CLOSED: ECONNRESET, or EPIPE in CLOSE_WAIT (tcp_reset).
    this.abort(this.state === "CLOSE_WAIT" ? EPIPE : ECONNRESET);
  }

  /** Our FIN was acknowledged: FIN_WAIT1 -> FIN_WAIT2, CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED. */
  protected ackedFin(): void {
    if (this.finSeq < 0 || this.sndUna <= this.finSeq) return;
    if (this.state === "FIN_WAIT1") {
      this.state = "FIN_WAIT2";
      if (this.owner === null) this.#finTimeout();
    } else if (this.state === "CLOSING") this.#enterTimeWait();
    else if (this.state === "LAST_ACK") this.#done();
  }

  #onData(seg: Segment): void {
    let data = seg.data;
    let seq = seg.seq;
    const hasFin = (seg.flags & FIN) !== 0;
    if (data.length === 0 && !hasFin) {
      // A pure ACK at the expected place needs no answer; a probe (old seq) does.
      if (seq !== this.rcvNxt) this.sendAck();
      return;
    }
    if (seq < this.rcvNxt) {
      // Duplicate or overlapping: keep only the new part.
      const skip = Math.min(this.rcvNxt - seq, data.length);
      data = data.subarray(skip);
      seq += skip;
    }
    if (seq !== this.rcvNxt) return this.sendAck(); // out of order: drop, ACK what we have
    if (data.length > 0) {
      if (this.shutdown & RCV_SHUTDOWN && this.owner === null) {
        // Data for an orphan nobody will read: reset (tcp_rcv_state_process).
        return this.resetNow();
      }
      const n = this.recvQ.push(data); // bytes beyond the window are dropped
      this.rcvNxt += n;
      if (n > 0) this.owner?.wake(POLL_IN, false);
      if (n < data.length) return this.sendAck();
    }
    if (hasFin && seq + data.length === this.rcvNxt) this.#onFin();
    this.sendAck();
  }

  /** The peer's FIN, in order. */
  #onFin(): void {
    this.rcvNxt++;
    this.shutdown |= RCV_SHUTDOWN;
    switch (this.state) {
      case "ESTABLISHED":
        this.state = "CLOSE_WAIT"; // ESTABLISHED -> CLOSE_WAIT: the peer will send no more
        break;
      case "FIN_WAIT1":
        // FIN_WAIT1 -> CLOSING (ours not yet acknowledged), or TIME_WAIT when it is.
        if (this.sndUna > this.finSeq) this.#enterTimeWait();
        else this.state = "CLOSING";
        break;
      case "FIN_WAIT2":
        this.#enterTimeWait(); // FIN_WAIT2 -> TIME_WAIT
        break;
    }
    this.owner?.wake(0, true);
  }

  // ---- Keepalive, orphans, TIME_WAIT, the end --------------------------

  /** Keepalive: after `idle` without a segment, `probes` probes `interval` apart, then ETIMEDOUT. */
  #armKeepalive(): void {
    if (this.owner === null || !this.owner.keepAlive || this.#keep !== undefined) return;
    const ka = this.host.knobs.keepalive;
    const idleNs = ka.idleMs * MS;
    const wait = this.#keepProbes === 0
      ? Math.max(0, this.#lastHeard + idleNs - this.host.nowNs()) / MS
      : ka.intervalMs;
    this.#keep = this.host.after(wait, () => {
      this.#keep = undefined;
      if (this.state === "CLOSED" || this.state === "TIME_WAIT") return;
      if (this.owner === null || !this.owner.keepAlive) return;
      if (this.#keepProbes === 0 && this.host.nowNs() < this.#lastHeard + idleNs) {
        return this.#armKeepalive(); // heard from the peer meanwhile
      }
      if (this.#keepProbes >= ka.probes) return this.abort(ETIMEDOUT);
      this.#keepProbes++;
      this.emit(ACK, this.sndUna - 1, this.rcvNxt);
      this.#armKeepalive();
    });
  }

  /** `SO_KEEPALIVE` was switched on or off. */
  keepaliveChanged(): void {
    if (this.state === "ESTABLISHED" || this.state === "CLOSE_WAIT") this.#armKeepalive();
  }

  /** The socket was closed: the connection lives on without it. */
  orphan(): void {
    this.owner = null;
    if (this.state === "FIN_WAIT2") this.#finTimeout();
  }

  /** An orphan does not wait forever for the peer's FIN (tcp_fin_timeout, 60 s): FIN_WAIT2 -> CLOSED. */
  #finTimeout(): void {
    this.host.cancel(this.#timeWait);
    this.#timeWait = this.host.after(this.host.knobs.timeWaitMs, () => this.#done());
  }

  /** -> TIME_WAIT for `timeWaitMs`, then CLOSED (the port stays in use meanwhile). */
  #enterTimeWait(): void {
    this.state = "TIME_WAIT";
    this.shutdown = SHUTDOWN_MASK;
    this.#stopTimers();
    this.#timeWait = this.host.after(this.host.knobs.timeWaitMs, () => this.#done());
  }

  #stopTimers(): void {
    this.stopSendTimers();
    this.host.cancel(this.#keep);
    this.#keep = undefined;
  }

  /** Error -> CLOSED: the socket reports `errno` (tcp_done after tcp_reset / tcp_write_err). */
  protected abort(errno: number): void {
    this.owner?.fail(errno);
    this.#done();
  }

  /** Any state -> CLOSED: timers stop, the ports are freed, both directions shut. */
  #done(): void {
    if (this.state === "CLOSED" && this.shutdown === SHUTDOWN_MASK) return;
    this.state = "CLOSED";
    this.shutdown = SHUTDOWN_MASK;
    this.#stopTimers();
    this.host.cancel(this.#timeWait);
    this.host.forget(this);
    this.onGone?.(this);
    this.onGone = this.onEstablished = null;
    this.owner?.wake(0, true);
  }

  /** The host lost power: every timer stops and nothing is sent. */
  vanish(): void {
    this.#stopTimers();
    this.host.cancel(this.#timeWait);
    this.state = "CLOSED";
    this.owner = null;
  }
}
