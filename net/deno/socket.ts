/**
 * A stream socket over Deno networking (TCP over IPv4/IPv6, and Unix
 * sockets by path), as one open description with two channels, the design
 * of Akaros's sockets-over-Plan-9 shim:
 *
 * - the data channel ({@linkcode DataChannel}, a `Deno.Conn`) once the
 *   socket is connected or accepted;
 * - the listen channel ({@linkcode ListenChannel}, a `Deno.Listener`) once
 *   it listens.
 *
 * Both channels report into this one description, so an epoll interest in
 * the socket hears both: a program may add a fresh socket to an epoll set
 * and call `listen` later, and it is still woken for connections.
 *
 * States (Miri's `SocketState`), private and changed only by `#to`:
 * `init -> bound -> listening`, `init|bound|failed -> connecting ->
 * connected | failed`, and `init -> connected` for an accepted socket.
 * `failed` is a failed connect; what happens to a connection after that
 * (FIN, reset, shutdown) is the data channel's own state machines.
 * Readiness follows Linux's `tcp_poll`:
 *
 * | state | mask |
 * |---|---|
 * | init, bound (never connected) | `OUT \| HUP` |
 * | listening | `IN` while a connection is pending |
 * | connecting | 0 |
 * | connected | the data channel's `readiness()`: `IN` bytes buffered; `IN \| RDHUP` after the peer's FIN or our `SHUT_RD`; `OUT` while the send buffer has room (always after our `SHUT_WR`); `HUP` once both directions are shut; after a reset `IN \| RDHUP \| OUT \| HUP`, and `ERR` until the error is taken |
 * | failed | `IN \| RDHUP \| OUT \| HUP`, and `ERR` until `SO_ERROR` is read |
 *
 * Invariants: `#data` exists exactly in `connected`, `#listen` exactly in
 * `listening`, `#connecting` exactly in `connecting`; `soError` is used only
 * by a failed connect (a connection's error lives in its channel).
 *
 * @module
 */

import {
  EAGAIN,
  EALREADY,
  ECONNREFUSED,
  EINPROGRESS,
  EINVAL,
  EISCONN,
  ENOTCONN,
  EPIPE,
} from "../../runtime/core/errno.ts";
import { EPOLLERR, EPOLLHUP } from "../../runtime/core/constants.ts";
import {
  AF_UNIX,
  IPPROTO_TCP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_SNDBUF,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../runtime/core/constants.ts";
import { EmulatedSocket } from "../socket_state.ts";
import { POLL_DEAD, POLL_IN, POLL_OUT } from "../../runtime/core/_poll_masks.ts";
import type { FilterCounts } from "../../runtime/core/description.ts";
import { installDescription } from "../../runtime/core/fd_table.ts";
import { anyAddr, copyAddr, type SockAddr, validateAddr } from "../sockaddr.ts";
import { errnoOf, fromDenoAddr } from "./_deno_map.ts";
import { type ChannelEvents, DataChannel } from "./_data_channel.ts";
import { ListenChannel, listenersClosed } from "./_listen_channel.ts";

/** Default receive buffer (Linux `tcp_rmem[1]`). */
export const DEFAULT_RCVBUF = 131072;
/**
 * Default send buffer. Linux starts at 16 KiB and autotunes up to 4 MiB; a
 * fixed 64 KiB here made 64 KiB messages stall on `EPOLLOUT` round trips.
 * Storage is allocated only as bytes are queued and released when idle.
 */
export const DEFAULT_SNDBUF = 262144;
/** Linux's `somaxconn` default: the largest backlog `listen` honours. */
export const SOMAXCONN = 4096;

type State = "init" | "bound" | "listening" | "connecting" | "connected" | "failed";

/** Every legal state change of a socket. */
const NEXT: Readonly<Record<State, readonly State[]>> = {
  // init -> bound: bind(). init -> listening: listen() autobinds. init -> connecting:
  // connect(). init -> connected: a socket made by accept() gets its connection at once.
  init: ["bound", "listening", "connecting", "connected"],
  // bound -> listening: listen(). bound -> connecting: connect().
  bound: ["listening", "connecting"],
  listening: [],
  // connecting -> connected: Deno.connect resolved. connecting -> failed: it rejected.
  connecting: ["connected", "failed"],
  connected: [],
  // failed -> connecting: connect() again after a failed connect.
  failed: ["connecting"],
};

/** The socket description. */
export class DenoSocket extends EmulatedSocket implements ChannelEvents {
  readonly kind: string;
  readonly domain: number;
  #state: State = "init";
  #bound: SockAddr | undefined;
  #data: DataChannel | undefined;
  #listen: ListenChannel | undefined;
  #connecting: AbortController | undefined;

  /**
   * @param domain AF_INET, AF_INET6 or AF_UNIX.
   * @param inherit The listener an accepted socket takes its options from.
   */
  constructor(domain: number, inherit?: DenoSocket) {
    super(inherit?.sndbuf ?? DEFAULT_SNDBUF, inherit?.rcvbuf ?? DEFAULT_RCVBUF);
    this.domain = domain;
    this.kind = domain === AF_UNIX ? "unix" : "tcp";
    if (inherit) {
      this.noDelay = inherit.noDelay;
      this.keepAlive = inherit.keepAlive;
    }
  }

  override get listening(): boolean {
    return this.#state === "listening";
  }

  /** The socket's one state transition. */
  #to(next: State): void {
    if (!NEXT[this.#state].includes(next)) {
      throw new Error(`socket: impossible transition ${this.#state} -> ${next}`);
    }
    this.#state = next;
  }

  channelRaised(events: number): void {
    this.notify(events);
  }

  /** A connection's error lives in its channel; a failed connect's in `soError`. */
  override takeError(): number {
    return this.#data ? this.#data.takeError() : super.takeError();
  }

  poll(): number {
    switch (this.#state) {
      case "connected": // first: the one every harvest of a connection asks about
        return this.#data!.readiness();
      case "init":
      case "bound":
        return POLL_OUT | EPOLLHUP;
      case "listening":
        return this.#listen!.pending > 0 ? POLL_IN : 0;
      case "connecting":
        return 0;
      case "failed":
        return POLL_DEAD | (this.soError ? EPOLLERR : 0);
    }
  }

  /**
   * kqueue: pending connections (listening), bytes buffered and send-buffer
   * room (connected), EOF after the peer's FIN, our shutdown or a failure,
   * with the pending error; silent while unconnected or connecting.
   */
  override counts(out: FilterCounts): void {
    const ch = this.#data;
    out.error = this.soError;
    out.readable = 0;
    out.readEof = false;
    out.writable = 0;
    out.writeReady = false;
    out.writeEof = false;
    if (this.#state === "listening") {
      out.readable = this.#listen!.pending;
    } else if (this.#state === "failed") {
      out.readEof = out.writeEof = true;
    } else if (ch !== undefined) {
      ch.counts(out);
    }
  }

  override read(buf: Uint8Array): number {
    // sock_read_iter: a read of nothing is 0 in every state, errors stay pending.
    if (buf.length === 0) return 0;
    const ch = this.#data;
    if (ch === undefined) return this.#state === "connecting" ? -EAGAIN : this.#readUnconnected();
    return ch.read(buf);
  }

  #readUnconnected(): number {
    if (this.#state === "failed") {
      const e = this.takeError();
      return e ? -e : 0;
    }
    return -ENOTCONN;
  }

  override write(buf: Uint8Array): number {
    const ch = this.#data;
    if (ch === undefined) {
      if (this.#state === "connecting") return -EAGAIN;
      if (this.#state === "failed" && this.soError) return -this.takeError();
      return this.domain === AF_UNIX ? -ENOTCONN : -EPIPE;
    }
    return ch.write(buf);
  }

  override bind(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    if (this.#state !== "init") return -EINVAL;
    this.#bound = { ...addr };
    this.#to("bound");
    return 0;
  }

  override listen(backlog: number): number {
    const limit = Math.min(
      Math.max(Number.isFinite(backlog) ? Math.trunc(backlog) : 0, 1),
      SOMAXCONN,
    );
    if (this.#state === "listening") {
      this.#listen!.setLimit(limit);
      return 0;
    }
    if (this.#state !== "init" && this.#state !== "bound") return -EINVAL;
    if (this.#bound === undefined && this.domain === AF_UNIX) return -EINVAL;
    const addr = this.#bound ?? anyAddr(this.domain);
    let listener: Deno.Listener;
    try {
      listener = addr.family === AF_UNIX
        ? Deno.listen({ transport: "unix", path: addr.path })
        : Deno.listen({
          transport: "tcp",
          hostname: addr.address,
          port: addr.port,
          tcpBacklog: limit,
          ...(this.reusePort ? { reusePort: true } : {}),
        } as Deno.TcpListenOptions);
    } catch (err) {
      return -errnoOf(err, EINVAL);
    }
    this.#listen = new ListenChannel(listener, this, limit);
    this.#to("listening");
    this.notify(0);
    return 0;
  }

  override accept(flags: number): number {
    if (this.#state !== "listening") return -EINVAL;
    const conn = this.#listen!.take();
    if (conn === undefined) return -EAGAIN;
    const sock = new DenoSocket(this.domain, this);
    const fd = installDescription(sock);
    if (fd < 0) {
      // Linux reserves the fd before dequeuing: the connection stays queued.
      this.#listen!.untake(conn);
      return fd;
    }
    this.#listen!.taken();
    sock.#attach(conn);
    void flags; // SOCK_NONBLOCK / SOCK_CLOEXEC: every socket here is non-blocking
    return fd;
  }

  override connect(addr: SockAddr): number {
    const bad = validateAddr(this.domain, addr);
    if (bad) return bad;
    switch (this.#state) {
      case "connecting":
        return -EALREADY;
      case "connected":
      case "listening":
        return -EISCONN;
    }
    const ac = new AbortController();
    this.#connecting = ac;
    this.soError = 0;
    this.#to("connecting");
    const opts = addr.family === AF_UNIX
      ? { transport: "unix" as const, path: addr.path }
      : { transport: "tcp" as const, hostname: addr.address, port: addr.port, signal: ac.signal };
    // A listener closed just before is refused, not reset: wait until Deno
    // has really closed it (see _listen_channel.ts).
    const closed = listenersClosed();
    const start = () => Deno.connect(opts as Deno.ConnectOptions) as Promise<Deno.Conn>;
    (closed === undefined ? start() : closed.then(() => {
      ac.signal.throwIfAborted();
      return start();
    })).then(
      (conn) => {
        if (ac.signal.aborted) {
          conn.close();
          return;
        }
        this.#connecting = undefined;
        this.#attach(conn);
        this.notify(POLL_OUT);
      },
      (err) => {
        if (ac.signal.aborted) return;
        this.#connecting = undefined;
        this.soError = errnoOf(err, ECONNREFUSED);
        this.#to("failed");
        this.notify(0);
      },
    );
    return -EINPROGRESS;
  }

  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
    if (this.#state === "listening") {
      if (how !== SHUT_WR) this.#listen!.close();
      return 0;
    }
    const ch = this.#data;
    if (ch === undefined) return -ENOTCONN;
    if (how !== SHUT_WR) ch.shutdownRead();
    if (how !== SHUT_RD) ch.shutdownWrite();
    this.notify(0);
    return 0;
  }

  override getsockname(out: SockAddr): number {
    let addr: SockAddr;
    if (this.#listen) addr = fromDenoAddr(this.#listen.listener.addr);
    else if (this.#data) addr = fromDenoAddr(this.#data.conn.localAddr);
    else if (this.#bound) addr = this.#bound;
    else if (this.domain === AF_UNIX) addr = { family: AF_UNIX, path: "" };
    else addr = anyAddr(this.domain);
    copyAddr(addr, out);
    return 0;
  }

  override getpeername(out: SockAddr): number {
    if (this.#data === undefined) return -ENOTCONN;
    copyAddr(fromDenoAddr(this.#data.conn.remoteAddr), out);
    return 0;
  }

  protected override optionChanged(level: number, name: number): void {
    const conn = this.#data?.conn as Deno.TcpConn | undefined;
    if (level === SOL_SOCKET && (name === SO_RCVBUF || name === SO_SNDBUF)) {
      this.#data?.resize(this.rcvbuf, this.sndbuf);
    } else if (conn && this.domain !== AF_UNIX) {
      if (level === IPPROTO_TCP && name === TCP_NODELAY) conn.setNoDelay(this.noDelay);
      if (level === SOL_SOCKET && name === SO_KEEPALIVE) conn.setKeepAlive(this.keepAlive);
    }
  }

  protected override onRelease(): void {
    this.#connecting?.abort();
    this.#connecting = undefined;
    this.#listen?.close();
    this.#data?.close(true);
  }

  #attach(conn: Deno.Conn): void {
    if (this.domain !== AF_UNIX) {
      const tcp = conn as Deno.TcpConn;
      if (this.noDelay) tcp.setNoDelay(true);
      if (this.keepAlive) tcp.setKeepAlive(true);
    }
    this.#data = new DataChannel(conn, this, this.rcvbuf, this.sndbuf);
    this.#to("connected");
  }
}
