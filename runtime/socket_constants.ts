/**
 * Socket constants, with their Linux x86-64 values.
 *
 * @module
 */

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
