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
 * @module
 */

import { ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT } from "../../runtime/core/errno.ts";
import { ByteQueue } from "../../runtime/core/_byte_queue.ts";
import { POLL_IN } from "../../runtime/core/_poll_masks.ts";
import type { SimEvent } from "./_event_queue.ts";
import { ACK, type Endpoint, FIN, RST, type Segment, SYN } from "./_segment.ts";
import { SendBuffer } from "./_send_buffer.ts";
import type { TcpKnobs } from "./_knobs.ts";

/** Linux's state names, as `netstat` shows them. */
export type TcpState =
  | "CLOSED"
  | "SYN_SENT"
  | "SYN_RECV"
  | "ESTABLISHED"
  | "FIN_WAIT1"
  | "FIN_WAIT2"
  | "CLOSE_WAIT"
  | "CLOSING"
  | "LAST_ACK"
  | "TIME_WAIT";

/** `sk_shutdown` bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
export const SHUTDOWN_MASK = 3;

const MS = 1_000_000;

/** What a connection needs from its host's stack. */
export interface TcpHost {
  readonly knobs: TcpKnobs;
  nowNs(): number;
  transmit(seg: Segment): void;
  after(ms: number, fn: () => void): SimEvent;
  cancel(ev: SimEvent | undefined): void;
  /** The connection reached CLOSED: free its ports. */
  forget(tcb: Tcb): void;
}

/** What a connection tells its socket (absent once the socket is closed). */
export interface TcbOwner {
  /** Readiness may have changed (`all`: a state change, wake every watcher). */
  wake(events: number, all: boolean): void;
  /** Records a connection error for `SO_ERROR`, reads and writes (the wake follows). */
  fail(errno: number): void;
  /** Acknowledged bytes freed send-buffer space (`sk_write_space`). */
  writeSpace(): void;
  readonly keepAlive: boolean;
}

/** One connection. */
export class Tcb {
  state: TcpState = "CLOSED";
  shutdown = 0;
  owner: TcbOwner | null = null;
  /** A listener's child until accepted: its completion callback. */
  onEstablished: ((t: Tcb) => void) | null = null;
  /** A listener's child until accepted: called if it closes first. */
  onGone: ((t: Tcb) => void) | null = null;

  // Send side.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  readonly sndBuf: SendBuffer;
  /** Sequence number of our FIN once queued, else -1. */
  finSeq = -1;
  // Receive side.
  rcvNxt = 0;
  readonly recvQ: ByteQueue;
  #advertised = 0;

  // Timers and their state.
  #rtoNs: number;
  #srtt = -1;
  #rttvar = 0;
  #retries = 0;
  #rtoTimer: SimEvent | undefined;
  #rttSeq = -1;
  #rttAt = 0;
  #dupAcks = 0;
  #persist: SimEvent | undefined;
  #keep: SimEvent | undefined;
  #keepProbes = 0;
  #lastHeard = 0;
  #timeWait: SimEvent | undefined;
  #openedAt: number;
  #synSent = 0;

  constructor(
    readonly host: TcpHost,
    readonly local: Endpoint,
    readonly remote: Endpoint,
    sndbuf: number,
    rcvbuf: number,
    iss: number,
  ) {
    this.sndBuf = new SendBuffer(sndbuf, iss + 1);
    this.recvQ = new ByteQueue(rcvbuf);
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.#rtoNs = 1000 * MS; // TCP_TIMEOUT_INIT
    this.#lastHeard = host.nowNs();
    this.#openedAt = this.#lastHeard;
  }

  /** Bytes queued to send (unacknowledged plus unsent): `ss -t`'s Send-Q. */
  get sendQ(): number {
    return this.sndBuf.length;
  }

  /** Our receive window now. */
  get window(): number {
    return this.recvQ.room;
  }

  // ---- Opening ----------------------------------------------------------

  /** Active open: CLOSED -> SYN_SENT, SYN out, SYN timer armed. */
  connect(): void {
    this.state = "SYN_SENT";
    this.#emit(SYN, this.iss, 0);
    this.sndNxt = this.iss + 1;
    this.#armSyn(0);
  }

  /** Passive open from a listener's SYN: CLOSED -> SYN_RECV, SYN-ACK out. */
  acceptSyn(seg: Segment): void {
    this.rcvNxt = seg.seq + 1;
    this.sndWnd = seg.wnd;
    this.state = "SYN_RECV";
    this.#emit(SYN | ACK, this.iss, this.rcvNxt);
    this.sndNxt = this.iss + 1;
    this.#armSyn(0);
  }

  /** The handshake's round trip is the first RTT sample, unless the SYN was sent again (Karn). */
  #handshakeRtt(): void {
    if (this.#synSent === 0) this.#sample(this.host.nowNs() - this.#openedAt);
  }

  /** SYN (or SYN-ACK) retransmission: `synRtoMs` doubling, `synRetries`, then ETIMEDOUT. */
  #armSyn(sent: number): void {
    const k = this.host.knobs;
    this.#synSent = sent;
    this.#rtoTimer = this.host.after(k.synRtoMs * 2 ** sent, () => {
      this.#rtoTimer = undefined;
      if (this.state !== "SYN_SENT" && this.state !== "SYN_RECV") return;
      if (sent >= k.synRetries) return this.#abort(ETIMEDOUT); // SYN_SENT -> CLOSED (ETIMEDOUT)
      this.#emit(this.state === "SYN_SENT" ? SYN : SYN | ACK, this.iss, this.rcvNxt);
      this.#armSyn(sent + 1);
    });
  }

  // ---- User calls -------------------------------------------------------

  /** Queues bytes (up to the free send buffer) and sends what the window allows. */
  write(buf: Uint8Array): number {
    const n = this.sndBuf.push(buf);
    if (n > 0) this.#output();
    return n;
  }

  /** Reads queued bytes; opens the window again when it grew enough. */
  read(buf: Uint8Array): number {
    const n = this.recvQ.shift(buf);
    if (n > 0) this.#maybeWindowUpdate();
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
    this.#output();
  }

  /**
   * `close` with bytes we never read (or a socket aborted by `sim.reset`):
   * RST out, any state -> CLOSED (Linux's tcp_close "data was lost").
   */
  resetNow(): void {
    if (this.state === "CLOSED" || this.state === "TIME_WAIT") return this.#done();
    if (this.state !== "SYN_SENT") this.#emit(RST | ACK, this.sndNxt, this.rcvNxt);
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
        this.#handshakeRtt();
        this.rcvNxt = seg.seq + 1;
        this.sndUna = seg.ack;
        this.sndWnd = seg.wnd;
        this.#stopRto();
        this.state = "ESTABLISHED";
        this.#sendAck();
        this.#armKeepalive();
        this.owner?.wake(0, true);
        this.#output();
        return;
      case "SYN_RECV":
        if (seg.flags & SYN) return this.#emit(SYN | ACK, this.iss, this.rcvNxt); // their SYN again
        if (!(seg.flags & ACK) || seg.ack !== this.iss + 1) return;
        // SYN_RECV -> ESTABLISHED: the handshake's last ACK; the listener may hand it out.
        this.#handshakeRtt();
        this.sndUna = seg.ack;
        this.sndWnd = seg.wnd;
        this.#stopRto();
        this.state = "ESTABLISHED";
        this.#armKeepalive();
        this.onEstablished?.(this);
        this.onEstablished = null;
        break;
      case "TIME_WAIT":
        // A retransmitted FIN: acknowledge it again (the timer keeps running).
        if (seg.flags & FIN) this.#sendAck();
        return;
      case "CLOSED":
        return;
    }
    if (seg.flags & SYN) return this.#sendAck(); // stale SYN-ACK: our ACK was lost
    if (seg.flags & ACK) this.#onAck(seg);
    if ((this.state as TcpState) === "CLOSED") return;
    this.#onData(seg);
  }

  #onRst(seg: Segment): void {
    if (this.state === "SYN_SENT") {
      // SYN_SENT -> CLOSED: RST answers our SYN (a port with no listener).
      if (!(seg.flags & ACK) || seg.ack !== this.iss + 1) return;
      return this.#abort(ECONNREFUSED);
    }
    // Linux's tcp_validate_incoming: a reset counts only inside the window.
    if (seg.seq < this.rcvNxt || seg.seq > this.rcvNxt + Math.max(this.window, 1)) return;
    if (this.state === "SYN_RECV" || this.state === "TIME_WAIT") return this.#done();
    // Any synchronized state -> CLOSED: ECONNRESET, or EPIPE in CLOSE_WAIT (tcp_reset).
    this.#abort(this.state === "CLOSE_WAIT" ? EPIPE : ECONNRESET);
  }

  #onAck(seg: Segment): void {
    if (seg.ack > this.sndNxt && seg.ack <= this.#sndMax()) this.sndNxt = seg.ack;
    if (seg.ack > this.sndNxt) return this.#sendAck(); // acknowledges what we never sent
    const now = this.host.nowNs();
    if (seg.ack > this.sndUna) {
      // New data acknowledged: free the send buffer, take an RTT sample (Karn).
      const dataEnd = this.sndBuf.end;
      this.sndBuf.ackTo(Math.min(seg.ack, dataEnd));
      if (this.#rttSeq >= 0 && seg.ack > this.#rttSeq) {
        this.#sample(now - this.#rttAt);
        this.#rttSeq = -1;
      }
      this.sndUna = seg.ack;
      this.sndWnd = seg.wnd;
      this.#retries = 0;
      this.#dupAcks = 0;
      if (this.sndUna === this.sndNxt) this.#stopRto();
      else this.#armRto(true);
      this.#ackedFin();
      if (this.state !== "CLOSED") this.owner?.writeSpace();
    } else if (seg.ack === this.sndUna) {
      const grew = seg.wnd > this.sndWnd;
      this.sndWnd = seg.wnd;
      if (seg.data.length === 0 && !grew && this.sndNxt > this.sndUna && !(seg.flags & FIN)) {
        // Three duplicate ACKs: resend the first unacknowledged segment at once.
        if (++this.#dupAcks === 3) this.#retransmitFirst();
      }
    }
    if (this.state !== "CLOSED") this.#output();
  }

  /** Our FIN was acknowledged: FIN_WAIT1 -> FIN_WAIT2, CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED. */
  #ackedFin(): void {
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
      if (seq !== this.rcvNxt) this.#sendAck();
      return;
    }
    if (seq < this.rcvNxt) {
      // Duplicate or overlapping: keep only the new part.
      const skip = Math.min(this.rcvNxt - seq, data.length);
      data = data.subarray(skip);
      seq += skip;
    }
    if (seq !== this.rcvNxt) return this.#sendAck(); // out of order: drop, ACK what we have
    if (data.length > 0) {
      if (this.shutdown & RCV_SHUTDOWN && this.owner === null) {
        // Data for an orphan nobody will read: reset (tcp_rcv_state_process).
        return this.resetNow();
      }
      const n = this.recvQ.push(data); // bytes beyond the window are dropped
      this.rcvNxt += n;
      if (n > 0) this.owner?.wake(POLL_IN, false);
      if (n < data.length) return this.#sendAck();
    }
    if (hasFin && seq + data.length === this.rcvNxt) this.#onFin();
    this.#sendAck();
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

  // ---- Segments out -----------------------------------------------------

  /** Sends what the peer's window and our queue allow, then the FIN. */
  #output(): void {
    if (this.state === "SYN_SENT" || this.state === "SYN_RECV" || this.state === "CLOSED") return;
    const mss = this.host.knobs.mss;
    const dataEnd = this.sndBuf.end;
    const limit = this.sndUna + this.sndWnd;
    while (this.sndNxt < dataEnd && this.sndNxt < limit) {
      const n = Math.min(mss, dataEnd - this.sndNxt, limit - this.sndNxt);
      const data = this.sndBuf.slice(this.sndNxt, n);
      if (this.#rttSeq < 0) {
        this.#rttSeq = this.sndNxt;
        this.#rttAt = this.host.nowNs();
      }
      this.#emit(ACK, this.sndNxt, this.rcvNxt, data);
      this.sndNxt += n;
      this.#armRto(false);
    }
    if (this.finSeq >= 0 && this.sndNxt === this.finSeq && dataEnd === this.finSeq) {
      this.#emit(FIN | ACK, this.finSeq, this.rcvNxt);
      this.sndNxt = this.finSeq + 1;
      this.#armRto(false);
    }
    if (this.sndNxt < dataEnd && this.sndWnd === 0 && this.sndNxt === this.sndUna) {
      this.#armPersist(0);
    }
  }

  #sndMax(): number {
    return this.finSeq >= 0 ? this.finSeq + 1 : this.sndBuf.end;
  }

  #retransmitFirst(): void {
    const dataEnd = this.sndBuf.end;
    this.#rttSeq = -1;
    if (this.sndUna < dataEnd) {
      const n = Math.min(this.host.knobs.mss, dataEnd - this.sndUna);
      this.#emit(ACK, this.sndUna, this.rcvNxt, this.sndBuf.slice(this.sndUna, n));
    } else if (this.sndUna === this.finSeq) this.#emit(FIN | ACK, this.finSeq, this.rcvNxt);
  }

  #sendAck(): void {
    this.#emit(ACK, this.sndNxt, this.rcvNxt);
  }

  #emit(flags: number, seq: number, ack: number, data: Uint8Array = EMPTY): void {
    const wnd = this.window;
    this.#advertised = wnd;
    this.host.transmit({
      src: this.local,
      dst: this.remote,
      flags,
      seq,
      ack,
      wnd,
      data,
      from: "",
      to: "",
    });
  }

  /** After a read: tell the peer the window opened, when it was nearly shut or grew by 2 MSS. */
  #maybeWindowUpdate(): void {
    if (this.state === "CLOSED" || this.state === "SYN_SENT" || this.state === "SYN_RECV") return;
    const mss = this.host.knobs.mss;
    const wnd = this.window;
    if ((this.#advertised < mss && wnd >= mss) || wnd - this.#advertised >= 2 * mss) {
      this.#sendAck();
    }
  }

  // ---- Timers -----------------------------------------------------------

  #sample(rttNs: number): void {
    if (this.#srtt < 0) {
      this.#srtt = rttNs;
      this.#rttvar = rttNs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttNs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttNs;
    }
    const k = this.host.knobs;
    const rto = this.#srtt + Math.max(k.rtoMinMs * MS, 4 * this.#rttvar);
    this.#rtoNs = Math.round(Math.min(rto, k.rtoMaxMs * MS));
  }

  /** Arms the retransmission timer (kept when already armed, unless `restart`). */
  #armRto(restart: boolean): void {
    if (this.#rtoTimer !== undefined && !restart) return;
    this.host.cancel(this.#rtoTimer);
    const backoff = Math.min(this.#rtoNs * 2 ** this.#retries, this.host.knobs.rtoMaxMs * MS);
    this.#rtoTimer = this.host.after(backoff / MS, () => this.#onRto());
  }

  #stopRto(): void {
    this.host.cancel(this.#rtoTimer);
    this.#rtoTimer = undefined;
  }

  /** RTO: go back to the first unacknowledged byte, double the timer; ETIMEDOUT after `retries2`. */
  #onRto(): void {
    this.#rtoTimer = undefined;
    if (this.sndUna === this.sndNxt) return;
    if (this.#retries >= this.host.knobs.retries2) return this.#abort(ETIMEDOUT);
    this.#retries++;
    this.#rttSeq = -1;
    this.#dupAcks = 0;
    this.sndNxt = this.sndUna;
    this.#output();
    this.#armRto(true);
  }

  /** Zero window: probe with the RTO's backoff until the peer's window opens. */
  #armPersist(n: number): void {
    if (this.#persist !== undefined) return;
    const k = this.host.knobs;
    const delay = Math.min(Math.max(this.#rtoNs / MS, k.rtoMinMs) * 2 ** n, k.rtoMaxMs);
    this.#persist = this.host.after(delay, () => {
      this.#persist = undefined;
      if (this.state === "CLOSED" || this.sndWnd > 0) return this.#output();
      if (this.sndNxt >= this.sndBuf.end) return;
      this.#emit(ACK, this.sndUna - 1, this.rcvNxt); // an old sequence number: the peer must answer
      this.#armPersist(n + 1);
    });
  }

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
      if (this.#keepProbes >= ka.probes) return this.#abort(ETIMEDOUT);
      this.#keepProbes++;
      this.#emit(ACK, this.sndUna - 1, this.rcvNxt);
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
    this.#stopRto();
    this.host.cancel(this.#persist);
    this.host.cancel(this.#keep);
    this.#persist = this.#keep = undefined;
  }

  /** Error -> CLOSED: the socket reports `errno` (tcp_done after tcp_reset / tcp_write_err). */
  #abort(errno: number): void {
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

const EMPTY = new Uint8Array(0);
