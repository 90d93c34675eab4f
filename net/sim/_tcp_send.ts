/**
 * The send side of a simulated TCP connection, and its timers: the send
 * buffer and what the peer's window lets out (MSS segmentation), the
 * retransmission timer (RFC 6298's estimator with Karn's rule, go-back-N
 * on RTO with exponential backoff, `retries2` then `ETIMEDOUT`), fast
 * retransmit after three duplicate ACKs, zero-window probes, SYN
 * retransmission (`synRtoMs` doubling, `synRetries`), and the window
 * updates a read owes the peer. {@linkcode Tcb} adds the state machine's
 * receive side, closing, keepalive and TIME_WAIT on top.
 *
 * @module
 */

import { ETIMEDOUT } from "../../runtime/core/errno.ts";
import { ByteQueue } from "../../runtime/core/_byte_queue.ts";
import type { SimEvent } from "./_event_queue.ts";
import { ACK, type Endpoint, FIN, type Segment, SYN } from "./_segment.ts";
import { SendBuffer } from "./_send_buffer.ts";
import type { TcpKnobs } from "./_knobs.ts";
import type { Tcb } from "./_tcb.ts";

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

export const MS = 1_000_000;

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

/** The send side of one connection; {@linkcode Tcb} is the whole connection. */
export abstract class TcpSendSide {
  state: TcpState = "CLOSED";
  shutdown = 0;
  owner: TcbOwner | null = null;

  // Send side.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  readonly sndBuf: SendBuffer;
  /** Sequence number of our FIN once queued, else -1. */
  finSeq = -1;
  // Receive side (what our segments advertise).
  rcvNxt = 0;
  readonly recvQ: ByteQueue;
  #advertised = 0;

  // The retransmission timer and its state.
  #rtoNs: number;
  #srtt = -1;
  #rttvar = 0;
  #retries = 0;
  #rtoTimer: SimEvent | undefined;
  #rttSeq = -1;
  #rttAt = 0;
  #dupAcks = 0;
  #persist: SimEvent | undefined;
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
    this.#openedAt = host.nowNs();
  }

  /** Bytes queued to send (unacknowledged plus unsent): `ss -t`'s Send-Q. */
  get sendQ(): number {
    return this.sndBuf.length;
  }

  /** Our receive window now. */
  get window(): number {
    return this.recvQ.room;
  }

  /** Error -> CLOSED: the socket reports `errno`. */
  protected abstract abort(errno: number): void;
  /** Our FIN was acknowledged (`sndUna` moved past `finSeq`). */
  protected abstract ackedFin(): void;

  // ---- The handshake's timer --------------------------------------------

  /** The handshake's round trip is the first RTT sample, unless the SYN was sent again (Karn). */
  protected handshakeRtt(): void {
    if (this.#synSent === 0) this.#sample(this.host.nowNs() - this.#openedAt);
  }

  /** SYN (or SYN-ACK) retransmission: `synRtoMs` doubling, `synRetries`, then ETIMEDOUT. */
  protected armSyn(sent: number): void {
    const k = this.host.knobs;
    this.#synSent = sent;
    this.#rtoTimer = this.host.after(k.synRtoMs * 2 ** sent, () => {
      this.#rtoTimer = undefined;
      if (this.state !== "SYN_SENT" && this.state !== "SYN_RECV") return;
      if (sent >= k.synRetries) return this.abort(ETIMEDOUT); // SYN_SENT -> CLOSED (ETIMEDOUT)
      this.emit(this.state === "SYN_SENT" ? SYN : SYN | ACK, this.iss, this.rcvNxt);
      this.armSyn(sent + 1);
    });
  }

  // ---- ACKs in ----------------------------------------------------------

  /** The peer acknowledged up to `seg.ack` and advertised `seg.wnd`. */
  protected onAck(seg: Segment): void {
    if (seg.ack > this.sndNxt && seg.ack <= this.#sndMax()) this.sndNxt = seg.ack;
    if (seg.ack > this.sndNxt) return this.sendAck(); // acknowledges what we never sent
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
      if (this.sndUna === this.sndNxt) this.stopRto();
      else this.#armRto(true);
      this.ackedFin();
      if (this.state !== "CLOSED") this.owner?.writeSpace();
    } else if (seg.ack === this.sndUna) {
      const grew = seg.wnd > this.sndWnd;
      this.sndWnd = seg.wnd;
      if (seg.data.length === 0 && !grew && this.sndNxt > this.sndUna && !(seg.flags & FIN)) {
        // Three duplicate ACKs: resend the first unacknowledged segment at once.
        if (++this.#dupAcks === 3) this.#retransmitFirst();
      }
    }
    if (this.state !== "CLOSED") this.output();
  }

  // ---- Segments out -----------------------------------------------------

  /** Sends what the peer's window and our queue allow, then the FIN. */
  protected output(): void {
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
      this.emit(ACK, this.sndNxt, this.rcvNxt, data);
      this.sndNxt += n;
      this.#armRto(false);
    }
    if (this.finSeq >= 0 && this.sndNxt === this.finSeq && dataEnd === this.finSeq) {
      this.emit(FIN | ACK, this.finSeq, this.rcvNxt);
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
      this.emit(ACK, this.sndUna, this.rcvNxt, this.sndBuf.slice(this.sndUna, n));
    } else if (this.sndUna === this.finSeq) this.emit(FIN | ACK, this.finSeq, this.rcvNxt);
  }

  protected sendAck(): void {
    this.emit(ACK, this.sndNxt, this.rcvNxt);
  }

  protected emit(flags: number, seq: number, ack: number, data: Uint8Array = EMPTY): void {
    const wnd = this.window;
    this.#advertised = wnd;
    this.host.transmit({
      proto: "tcp",
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
  protected maybeWindowUpdate(): void {
    if (this.state === "CLOSED" || this.state === "SYN_SENT" || this.state === "SYN_RECV") return;
    const mss = this.host.knobs.mss;
    const wnd = this.window;
    if ((this.#advertised < mss && wnd >= mss) || wnd - this.#advertised >= 2 * mss) {
      this.sendAck();
    }
  }

  // ---- Retransmission ---------------------------------------------------

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

  protected stopRto(): void {
    this.host.cancel(this.#rtoTimer);
    this.#rtoTimer = undefined;
  }

  /** RTO: go back to the first unacknowledged byte, double the timer; ETIMEDOUT after `retries2`. */
  #onRto(): void {
    this.#rtoTimer = undefined;
    if (this.sndUna === this.sndNxt) return;
    if (this.#retries >= this.host.knobs.retries2) return this.abort(ETIMEDOUT);
    this.#retries++;
    this.#rttSeq = -1;
    this.#dupAcks = 0;
    this.sndNxt = this.sndUna;
    this.output();
    this.#armRto(true);
  }

  /** Zero window: probe with the RTO's backoff until the peer's window opens. */
  #armPersist(n: number): void {
    if (this.#persist !== undefined) return;
    const k = this.host.knobs;
    const delay = Math.min(Math.max(this.#rtoNs / MS, k.rtoMinMs) * 2 ** n, k.rtoMaxMs);
    this.#persist = this.host.after(delay, () => {
      this.#persist = undefined;
      if (this.state === "CLOSED" || this.sndWnd > 0) return this.output();
      if (this.sndNxt >= this.sndBuf.end) return;
      this.emit(ACK, this.sndUna - 1, this.rcvNxt); // an old sequence number: the peer must answer
      this.#armPersist(n + 1);
    });
  }

  /** Stops the retransmission and persist timers. */
  protected stopSendTimers(): void {
    this.stopRto();
    this.host.cancel(this.#persist);
    this.#persist = undefined;
  }
}

const EMPTY = new Uint8Array(0);
