/**
 * Readiness masks that several kinds of description report together, as
 * Linux's `poll` methods write them (`tcp_poll`, `unix_poll`): named once
 * here instead of or-ed again in each kind.
 *
 * @module
 */

import { EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRNORM } from "./constants.ts";

/** Bytes to read: `EPOLLIN | EPOLLRDNORM`. */
export const POLL_IN = EPOLLIN | EPOLLRDNORM;
/** Room to write: `EPOLLOUT | EPOLLWRNORM`. */
export const POLL_OUT = EPOLLOUT | EPOLLWRNORM;
/**
 * A TCP connection that is over (reset, or a failed connect): readable
 * (EOF), writable (a write fails at once), hung up. `EPOLLERR` joins it
 * while the error is pending.
 */
export const POLL_DEAD = POLL_IN | EPOLLRDHUP | POLL_OUT | EPOLLHUP;
