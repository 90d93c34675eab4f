/**
 * The simulated TCP socket: a third kind of socket description beside the
 * Deno and native ones, so that epoll (LT, ET, ONESHOT, EXCLUSIVE, RDHUP,
 * nesting) and kqueue filters treat it as they treat the others. It holds
 * a listener's accept queue or one connection's {@linkcode Tcb}; readiness
 * is Linux's `tcp_poll`:
 *
 * - `EPOLLHUP` when both directions are shut or the socket is CLOSED
 *   (a fresh socket included, as on Linux);
 * - `EPOLLIN | EPOLLRDHUP` once the receive side is shut (the peer's FIN,
 *   our `SHUT_RD`, a reset);
 * - outside SYN_SENT / SYN_RECV: `EPOLLIN` while bytes are queued, and
 *   `EPOLLOUT` while free send space is at least half of what is queued
 *   (`sk_stream_wspace >= sk_stream_min_wspace`) or the send side is shut;
 * - `EPOLLERR` while an error is pending.
 *
 * Wake-ups follow Linux's: `EPOLLIN` per arriving segment
 * (`sk_data_ready`), `EPOLLOUT` when acknowledged bytes make a socket that
 * ran out of space writable again (`sk_write_space` after `SOCK_NOSPACE`),
 * every watcher on a state change (`sk_state_change`).
 *
 * @module
 */

import { EAGAIN, EALREADY, EINVAL, EISCONN, ENOTCONN, EPIPE } from "../../runtime/core/errno.ts";
import {
  AF_INET,
  AF_UNIX,
  EPOLLERR,
  EPOLLHUP,
  EPOLLRDHUP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_KEEPALIVE,
  SOL_SOCKET,
} from "../../runtime/core/constants.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { POLL_IN, POLL_OUT } from "../../runtime/core/_poll_masks.ts";
import { installDescription } from "../../runtime/core/fd_table.ts";
import { copyAddr, type SockAddr, validateAddr } from "../sockaddr.ts";
import { EmulatedSocket } from "../socket_state.ts";
import { RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, type Tcb, type TcbOwner } from "./_tcb.ts";
import type { Endpoint, Segment } from "./_segment.ts";
import type { Stack } from "./_stack.ts";

/** A simulated TCP socket of one host. */
export class SimSocket extends EmulatedSocket implements TcbOwner {
  readonly kind = "sim-tcp";
  readonly domain: number;
  readonly stack: Stack;
  /** The stack's life this socket belongs to: a crash makes it stale. */
  readonly epoch: number;
  /** The bound address, once bound. */
  local: Endpoint | null = null;
  tcb: Tcb | null = null;
  /** Listening: the backlog; -1 otherwise. */
  backlog = -1;
  readonly acceptQ: SimSocket[] = [];
  /** Children still in SYN_RECV. */
  readonly pending: Set<Tcb> = new Set();
  /** `SOCK_NOSPACE`: a write ran out of room; the next room raises `EPOLLOUT`. */
  #nospace = false;

  constructor(stack: Stack, domain: number) {
    super(stack.knobs.sndbuf, stack.knobs.rcvbuf);
    this.stack = stack;
    this.domain = domain;
    this.epoch = stack.epoch;
  }

  override get listening(): boolean {
    return this.backlog >= 0;
  }

  /** Whether the host crashed since this socket was made. */
  get stale(): boolean {
    return this.epoch !== this.stack.epoch;
  }

  /** The state `netstat` shows. */
  get state(): string {
    return this.listening ? "LISTEN" : this.tcb?.state ?? "CLOSED";
  }

  // ---- TcbOwner -------------------------------------------------------------

  wake(events: number, all: boolean): void {
    this.stack.poked();
    this.notify(events, all);
  }

  fail(errno: number): void {
    this.soError = errno;
  }

  writeSpace(): void {
    if (this.#nospace && this.#writable()) {
      this.#nospace = false;
      this.stack.poked();
      this.notify(POLL_OUT);
    }
  }

  // ---- Readiness ------------------------------------------------------------

  #writable(): boolean {
    const q = this.tcb!.sndBuf;
    return q.room >= q.length / 2 && q.room > 0;
  }

  poll(): number {
    if (this.listening) return this.acceptQ.length > 0 ? POLL_IN : 0;
    const t = this.tcb;
    let mask = 0;
    const shut = t === null ? 0 : t.shutdown;
    if (shut === SHUTDOWN_MASK || t === null || t.state === "CLOSED") mask |= EPOLLHUP;
    if (shut & RCV_SHUTDOWN) mask |= POLL_IN | EPOLLRDHUP;
    if (t === null) mask |= POLL_OUT;
    else if (t.state !== "SYN_SENT" && t.state !== "SYN_RECV") {
      if (t.recvQ.length > 0) mask |= POLL_IN;
      if (shut & SEND_SHUTDOWN || this.#writable()) mask |= POLL_OUT;
      else this.#nospace = true; // tcp_poll sets SOCK_NOSPACE: the next room wakes the poller
    }
    if (this.soError !== 0) mask |= EPOLLERR;
    return mask;
  }

  override counts(out: FilterCounts): void {
    const t = this.tcb;
    out.readable = this.listening ? this.acceptQ.length : t?.recvQ.length ?? 0;
    out.readEof = t !== null && (t.shutdown & RCV_SHUTDOWN) !== 0;
    out.writable = t === null || this.listening ? 0 : t.sndBuf.room;
    out.writeReady = t !== null && !this.listening && (this.poll() & POLL_OUT) !== 0;
    out.writeEof = t !== null && (t.shutdown & SEND_SHUTDOWN) !== 0;
    out.error = this.soError;
  }

  // ---- Calls ----------------------------------------------------------------

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad !== 0) return bad;
    if (this.local !== null || this.tcb !== null) return -EINVAL;
    if (addr.family === AF_UNIX) return -EINVAL;
    return this.stack.bind(this, addr.address, addr.port);
  }

  override listen(backlog: number): number {
    if (this.tcb !== null) return -EINVAL;
    if (this.local === null) {
      const r = this.stack.bind(this, this.domain === AF_INET ? "0.0.0.0" : "::", 0);
      if (r < 0) return r;
    }
    const wasListening = this.listening;
    this.backlog = Math.max(0, Math.min(Math.trunc(backlog), this.stack.knobs.somaxconn));
    if (!wasListening) {
      const r = this.stack.listen(this);
      if (r < 0) {
        this.backlog = -1;
        return r;
      }
    }
    return 0;
  }

  override accept(_flags: number): number {
    if (!this.listening) return -EINVAL;
    const child = this.acceptQ[0];
    if (child === undefined) return -EAGAIN;
    const fd = installDescription(child);
    if (fd >= 0) this.acceptQ.shift();
    return fd;
  }

  /** A SYN for this listener: a child in SYN_RECV, unless the backlog is full (the SYN is dropped). */
  onSyn(seg: Segment): void {
    if (this.acceptQ.length + this.pending.size > this.backlog) {
      this.stack.note(`listen overflow ${seg.dst.address}:${seg.dst.port}: SYN dropped`);
      return;
    }
    const child = new SimSocket(this.stack, this.domain);
    child.sndbuf = this.sndbuf;
    child.rcvbuf = this.rcvbuf;
    child.keepAlive = this.keepAlive;
    child.local = { address: seg.dst.address, port: seg.dst.port };
    const t = this.stack.newTcb(child, child.local, { ...seg.src });
    this.pending.add(t);
    t.onEstablished = () => {
      this.pending.delete(t);
      t.onGone = null;
      this.acceptQ.push(child);
      this.stack.poked();
      this.notify(POLL_IN);
    };
    t.onGone = () => this.pending.delete(t);
    t.acceptSyn(seg);
  }

  override connect(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad !== 0) return bad;
    if (this.listening) return -EISCONN;
    const t = this.tcb;
    if (t !== null) {
      if (t.state === "SYN_SENT") return -EALREADY;
      if (this.soError !== 0) return -this.takeError();
      return t.state === "CLOSED" ? -EINVAL : -EISCONN;
    }
    if (addr.family === AF_UNIX) return -EINVAL;
    return this.stack.connect(this, { address: addr.address, port: addr.port });
  }

  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    const t = this.tcb;
    if (t === null || t.state === "SYN_SENT" || t.state === "CLOSED") {
      if (!this.listening) return -ENOTCONN;
      if (how !== SHUT_WR) this.#closeListener(); // Linux: SHUT_RD on a listener stops it
      return 0;
    }
    if (how !== SHUT_WR) t.shutdown |= RCV_SHUTDOWN;
    if (how !== SHUT_RD) t.closeSend();
    this.notify(0, true);
    return 0;
  }

  override read(buf: Uint8Array): number {
    const t = this.tcb;
    if (t === null || this.listening) return -ENOTCONN;
    if (buf.length === 0) return 0;
    const n = t.read(buf);
    if (n > 0) return n;
    if (this.soError !== 0) return -this.takeError();
    if (t.shutdown & RCV_SHUTDOWN) return 0;
    return -EAGAIN;
  }

  override write(buf: Uint8Array): number {
    const t = this.tcb;
    if (t === null || this.listening) return -EPIPE;
    if (this.soError !== 0) return -this.takeError();
    if (t.shutdown & SEND_SHUTDOWN) return -EPIPE;
    if (t.state === "SYN_SENT" || t.state === "SYN_RECV") return -EAGAIN;
    if (buf.length === 0) return 0;
    const n = t.write(buf);
    if (n < buf.length) this.#nospace = true;
    return n === 0 ? -EAGAIN : n;
  }

  override getsockname(out: SockAddr): number {
    const l = this.local;
    const any = this.domain === AF_INET ? "0.0.0.0" : "::";
    const family = this.domain as typeof AF_INET;
    copyAddr({ family, address: l?.address ?? any, port: l?.port ?? 0 }, out);
    return 0;
  }

  override getpeername(out: SockAddr): number {
    const t = this.tcb;
    if (
      t === null || (t.state !== "ESTABLISHED" && t.state !== "CLOSE_WAIT" &&
        !t.state.startsWith("FIN_WAIT") && t.state !== "CLOSING" && t.state !== "LAST_ACK")
    ) {
      return -ENOTCONN;
    }
    copyAddr({ family: this.domain as typeof AF_INET, ...t.remote }, out);
    return 0;
  }

  protected override optionChanged(level: number, name: number): void {
    if (level === SOL_SOCKET && name === SO_KEEPALIVE) this.tcb?.keepaliveChanged();
  }

  /** `close`: FIN after the queued bytes, or RST when bytes were left unread. */
  protected override onRelease(): void {
    if (this.stale) return; // the host crashed: nothing is sent
    if (this.listening) return this.#closeListener();
    const t = this.tcb;
    if (t === null) return this.stack.unbind(this);
    if (t.recvQ.length > 0) t.resetNow();
    else {
      t.shutdown |= RCV_SHUTDOWN;
      t.closeSend();
    }
    t.orphan();
  }

  /** A listener closes: its unaccepted connections get RST (inet_csk_listen_stop). */
  #closeListener(): void {
    this.stack.unlisten(this);
    this.backlog = -1;
    for (const child of this.acceptQ.splice(0)) child.tcb?.resetNow();
    for (const t of [...this.pending]) t.resetNow();
  }
}
