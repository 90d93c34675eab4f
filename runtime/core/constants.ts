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
/** Stream sockets (datagram sockets: {@linkcode SOCK_DGRAM}). */
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

// kqueue (FreeBSD's values).

/** kqueue filter: the descriptor has bytes (or connections, events, expirations) to read, or is at EOF. */
export const EVFILT_READ: number = -1;
/** kqueue filter: the descriptor's write side has room, or its reader is gone. */
export const EVFILT_WRITE: number = -2;
/** kqueue filter: a timer; `ident` is any number, `data` the period. */
export const EVFILT_TIMER: number = -7;
/** kqueue filter: a user event, fired by a change carrying {@linkcode NOTE_TRIGGER}. */
export const EVFILT_USER: number = -11;

/** kevent flag: add the knote, or modify it if it exists. */
export const EV_ADD = 0x1;
/** kevent flag: delete the knote and its pending event. */
export const EV_DELETE = 0x2;
/** kevent flag: report events again (re-evaluates the filter). */
export const EV_ENABLE = 0x4;
/** kevent flag: stop reporting events (the filter keeps running). */
export const EV_DISABLE = 0x8;
/** kevent flag: delete the knote when its event is retrieved. */
export const EV_ONESHOT = 0x10;
/** kevent flag: reset `data`/`fflags` on retrieval; report again on the next change (edge). */
export const EV_CLEAR = 0x20;
/** kevent flag: report the change's outcome in the event list, as an {@linkcode EV_ERROR} entry. */
export const EV_RECEIPT = 0x40;
/** kevent flag: disable the knote when its event is retrieved. */
export const EV_DISPATCH = 0x80;
/** kevent flag in a returned entry: the outcome of a change; `data` is the errno (0: success). */
export const EV_ERROR = 0x4000;
/** kevent flag in a returned event: end of file (writers gone, peer shut or closed). */
export const EV_EOF = 0x8000;

/** EVFILT_USER control: keep the user flags. */
export const NOTE_FFNOP = 0;
/** EVFILT_USER control: AND the change's flags into the user flags. */
export const NOTE_FFAND = 0x40000000;
/** EVFILT_USER control: OR the change's flags into the user flags. */
export const NOTE_FFOR = 0x80000000;
/** EVFILT_USER control: copy the change's flags into the user flags. */
export const NOTE_FFCOPY = 0xc0000000;
/** EVFILT_USER: the control bits of `fflags`. */
export const NOTE_FFCTRLMASK = 0xc0000000;
/** EVFILT_USER: the user-flag bits of `fflags` (bits 0-23). */
export const NOTE_FFLAGSMASK = 0xffffff;
/** EVFILT_USER: fire the event. */
export const NOTE_TRIGGER = 0x1000000;
/** EVFILT_TIMER unit: `data` is in seconds. */
export const NOTE_SECONDS = 0x1;
/** EVFILT_TIMER unit: `data` is in milliseconds (the default). */
export const NOTE_MSECONDS = 0x2;
/** EVFILT_TIMER unit: `data` is in microseconds. */
export const NOTE_USECONDS = 0x4;
/** EVFILT_TIMER unit: `data` is in nanoseconds. */
export const NOTE_NSECONDS = 0x8;
/** EVFILT_TIMER: `data` is an absolute `CLOCK_REALTIME` instant since the Epoch; expires once. */
export const NOTE_ABSTIME = 0x10;

// timerfd (Linux's values).

/** The wall clock (`Date.now()`); absolute timerfd times are measured against it. */
export const CLOCK_REALTIME = 0;
/** The monotonic clock (`performance.now()`). */
export const CLOCK_MONOTONIC = 1;
/** `timerfdSettime` flag: `value` is an absolute time on the timer's clock. */
export const TFD_TIMER_ABSTIME = 1;
/** `timerfdCreate` flag; accepted (every descriptor here is non-blocking). */
export const TFD_NONBLOCK = 0o4000;
/** `timerfdCreate` flag; accepted (there is no `exec` to close on). */
export const TFD_CLOEXEC = 0o2000000;

// Signals and process descriptors (signalfd, EVFILT_SIGNAL; Linux x86-64 numbers).

/** Hang-up: the terminal closed, or (by convention) reload the configuration. */
export const SIGHUP = 1;
/** Interrupt from the keyboard (Ctrl-C). */
export const SIGINT = 2;
/** Quit from the keyboard (Ctrl-\). */
export const SIGQUIT = 3;
/** User-defined signal 1. */
export const SIGUSR1 = 10;
/** User-defined signal 2. */
export const SIGUSR2 = 12;
/** Termination request: what `kill` and service managers send to stop a server. */
export const SIGTERM = 15;
/** The terminal's window size changed. */
export const SIGWINCH = 28;
/** kqueue filter: a signal arrived; `ident` is its number, `data` the arrivals since the last retrieval. */
export const EVFILT_SIGNAL: number = -6;
/** `signalfd` flag; accepted (every descriptor here is non-blocking). */
export const SFD_NONBLOCK = 0o4000;
/** `signalfd` flag; accepted (there is no `exec` to close on). */
export const SFD_CLOEXEC = 0o2000000;
/** The size of one `signalfd_siginfo` record that `read` on a signalfd returns. */
export const SIGNALFD_SIGINFO_SIZE = 128;

// Datagram sockets (issue 17; Linux's values).

/** Datagram sockets: one `sendto` is one datagram, one `recvfrom` takes at most one. */
export const SOCK_DGRAM = 2;
/** The UDP protocol (`socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)`). */
export const IPPROTO_UDP = 17;
/** No address family: `connect` with it dissolves a datagram socket's default peer. */
export const AF_UNSPEC = 0;
/** `recv` flag: look at the next datagram and leave it queued. */
export const MSG_PEEK = 0x2;
/** `recv` flag in: return the datagram's real length; out (`recvmmsg`): the datagram was cut. */
export const MSG_TRUNC = 0x20;
/** `send`/`recv` flag: do not block (every socket here is non-blocking anyway). */
export const MSG_DONTWAIT = 0x40;
/** `send` flag: no `SIGPIPE` (this library never raises it; accepted). */
export const MSG_NOSIGNAL = 0x4000;
/** Allow sending to a broadcast address (`SOL_SOCKET`). */
export const SO_BROADCAST = 6;
