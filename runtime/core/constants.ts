/**
 * Linux constants (epoll, eventfd, sockets), with their x86-64 values. Every
 * module imports them from here; none retypes a value.
 *
 * Event masks are unsigned 32-bit numbers: {@linkcode EPOLLET} is
 * `0x80000000`, a positive number, and every mask this library returns is
 * normalised with `>>> 0`.
 *
 * @module
 */

/** Readable: bytes are buffered, the peer closed its write side, or (listening socket) a connection is pending. */
export const EPOLLIN = 0x001;
/** Urgent data. Never raised by this library (Deno has no out-of-band data). */
export const EPOLLPRI = 0x002;
/** Writable: a write would accept at least some bytes. */
export const EPOLLOUT = 0x004;
/** Error condition. Always reported; need not be requested. */
export const EPOLLERR = 0x008;
/** Hang-up: both directions are done. Always reported; need not be requested. */
export const EPOLLHUP = 0x010;
/** Same as {@linkcode EPOLLIN} for the descriptors of this library. */
export const EPOLLRDNORM = 0x040;
/** Priority band data. Never raised by this library. */
export const EPOLLRDBAND = 0x080;
/** Same as {@linkcode EPOLLOUT} for the descriptors of this library. */
export const EPOLLWRNORM = 0x100;
/** Priority data may be written (raised with {@linkcode EPOLLOUT} on sockets). */
export const EPOLLWRBAND = 0x200;
/** Unused on Linux; accepted and never raised. */
export const EPOLLMSG = 0x400;
/** The peer shut down its write side (stream half-close). */
export const EPOLLRDHUP = 0x2000;
/** Wake one of several epoll sets waiting on the same descriptor (`EPOLL_CTL_ADD` only). */
export const EPOLLEXCLUSIVE = 1 << 28;
/** Accepted and ignored, as Linux does for callers without `CAP_BLOCK_SUSPEND`. */
export const EPOLLWAKEUP = 1 << 29;
/** Disarm the interest after one delivered event, until `EPOLL_CTL_MOD` re-arms it. */
export const EPOLLONESHOT = 1 << 30;
/** Edge-triggered: report each new arrival once instead of the standing state. */
export const EPOLLET = 0x80000000;

/** `epollCtl` operation: register a descriptor. */
export const EPOLL_CTL_ADD = 1;
/** `epollCtl` operation: deregister a descriptor. */
export const EPOLL_CTL_DEL = 2;
/** `epollCtl` operation: change a registration's events and data. */
export const EPOLL_CTL_MOD = 3;

/** `epollCreate1` flag; accepted (there is no `exec` to close on). */
export const EPOLL_CLOEXEC = 0o2000000;

/** `eventfd` flag: reads return 1 and decrement, instead of draining the counter. */
export const EFD_SEMAPHORE = 1;
/** `eventfd` flag; accepted (every descriptor here is non-blocking). */
export const EFD_NONBLOCK = 0o4000;
/** `eventfd` flag; accepted (there is no `exec` to close on). */
export const EFD_CLOEXEC = 0o2000000;

// Sockets.

/** Unix domain sockets (`socketpair`, and Deno Unix sockets by path). */
export const AF_UNIX = 1;
/** IPv4. */
export const AF_INET = 2;
/** IPv6. */
export const AF_INET6 = 10;
/** Stream sockets, the only type this library provides. */
export const SOCK_STREAM = 1;
/** `socket`/`accept4` flag; accepted (every socket here is non-blocking). */
export const SOCK_NONBLOCK = 0o4000;
/** `socket`/`accept4` flag; accepted (there is no `exec` to close on). */
export const SOCK_CLOEXEC = 0o2000000;

/** `shutdown`: stop receiving. */
export const SHUT_RD = 0;
/** `shutdown`: stop sending (the peer reads end of stream). */
export const SHUT_WR = 1;
/** `shutdown`: both. */
export const SHUT_RDWR = 2;

/** Socket-level options (`getsockopt`/`setsockopt` level). */
export const SOL_SOCKET = 1;
/** Allow reuse of local addresses (Deno listeners always set it). */
export const SO_REUSEADDR = 2;
/** The socket type (read-only): {@linkcode SOCK_STREAM}. */
export const SO_TYPE = 3;
/** The pending error, e.g. of a failed connect (read-only; reading clears it). */
export const SO_ERROR = 4;
/** Send buffer size; Linux doubles the value set. */
export const SO_SNDBUF = 7;
/** Receive buffer size; Linux doubles the value set. */
export const SO_RCVBUF = 8;
/** TCP keep-alive probes (`setKeepAlive`). */
export const SO_KEEPALIVE = 9;
/** Several listeners on one port, load-balanced by the kernel (`reusePort`). */
export const SO_REUSEPORT = 15;
/** Whether the socket is listening (read-only). */
export const SO_ACCEPTCONN = 30;

/** TCP protocol level (`getsockopt`/`setsockopt` level). */
export const IPPROTO_TCP = 6;
/** Disable Nagle's algorithm (`setNoDelay`). */
export const TCP_NODELAY = 1;
