/**
 * What the emulated datagram sockets (the in-memory pair, the Deno
 * backend's UDP) share: a FIFO of datagrams, and the copy of one into a
 * receive buffer with `recv(2)`'s rules (the rest of a longer datagram is
 * discarded, `MSG_TRUNC` returns the real length, the `MSG_TRUNC` out-flag
 * says it was cut). What bounds the queue is each kind's own rule.
 *
 * @module
 */

import {
  EPOLLIN,
  EPOLLPRI,
  EPOLLRDBAND,
  EPOLLRDNORM,
  MSG_TRUNC,
} from "../runtime/core/constants.ts";
import type { RecvMessage } from "./socket_description.ts";

/** Out-of-band data: no datagram socket has it (`-EOPNOTSUPP`); other unknown flags are ignored. */
export const MSG_OOB = 1;
/** The key a datagram's arrival wakes the receiver with (`sock_def_readable`). */
export const READABLE_KEY = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND;

/** A FIFO of datagrams: O(1) at both ends, its storage compacted as it drains. */
export class DatagramQueue<T extends { bytes: Uint8Array }> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Datagrams queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Storage slots held, taken ones included (bounded by twice the length, or 1,024). */
  get slots(): number {
    return this.#items.length;
  }

  /** The oldest datagram (the next a receive takes), if any. */
  get first(): T | undefined {
    return this.#items[this.#head];
  }

  push(d: T): void {
    this.#items.push(d);
  }

  /** Takes the oldest datagram. */
  shift(): T | undefined {
    const q = this.#items;
    const d = q[this.#head];
    q[this.#head++] = undefined;
    if (this.#head === q.length) {
      q.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= q.length) {
      q.splice(0, this.#head);
      this.#head = 0;
    }
    return d;
  }

  /** Drops every datagram. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * Copies `bytes` into `buf` as a datagram receive does, and fills `msg`'s
 * `length` and `flags` when given.
 *
 * @returns What the receive returns: the bytes stored, or with `MSG_TRUNC`
 * in `flags` the datagram's real length.
 */
export function deliver(
  bytes: Uint8Array,
  buf: Uint8Array,
  flags: number,
  msg: RecvMessage | null,
): number {
  const len = bytes.length;
  const cut = len > buf.length;
  buf.set(cut ? bytes.subarray(0, buf.length) : bytes);
  const n = flags & MSG_TRUNC ? len : cut ? buf.length : len;
  if (msg !== null) {
    msg.length = n;
    msg.flags = cut ? MSG_TRUNC : 0;
  }
  return n;
}
