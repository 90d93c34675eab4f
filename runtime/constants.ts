/**
 * epoll and eventfd constants, with their Linux x86-64 values.
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
