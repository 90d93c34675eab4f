/**
 * The listen channel of a socket: a `Deno.Listener` with an accept pump that
 * keeps one `accept()` in flight and fills a bounded queue of connections
 * the program has not yet taken with `accept`.
 *
 * Each accepted connection is an arrival (`EPOLLIN`). When the queue is full
 * the pump stops and further connections wait in the kernel's backlog. An
 * accept that fails (e.g. the process ran out of descriptors) is retried
 * after a short back-off instead of ending the loop (Deno issue #10148).
 *
 * @module
 */

import type { ChannelEvents } from "./_data_channel.ts";
import { EPOLLIN, EPOLLRDNORM } from "../../runtime/core/constants.ts";

const IN = EPOLLIN | EPOLLRDNORM;
/** Delay before retrying after a failed accept. */
const RETRY_MS = 20;

/** A listening socket over a `Deno.Listener`. */
export class ListenChannel {
  readonly listener: Deno.Listener;
  /** Most connections held for `accept`. */
  limit: number;
  #queue: Deno.Conn[] = [];
  #head = 0;
  #owner: ChannelEvents;
  #accepting = false;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(listener: Deno.Listener, owner: ChannelEvents, limit: number) {
    this.listener = listener;
    this.#owner = owner;
    this.limit = Math.max(1, limit);
    this.#pump();
  }

  /** Connections waiting for `accept`. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Takes the oldest pending connection. */
  take(): Deno.Conn | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const conn = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined as unknown as Deno.Conn;
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#pump();
    return conn;
  }

  /** Puts back a connection `take` returned (the program could not get an fd). */
  untake(conn: Deno.Conn): void {
    if (this.#head > 0) this.#queue[--this.#head] = conn;
    else this.#queue.unshift(conn);
  }

  /** Sets the queue bound (a second `listen` changes the backlog). */
  setLimit(limit: number): void {
    this.limit = Math.max(1, limit);
    this.#pump();
  }

  /** Closes the listener and every connection not yet accepted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    try {
      this.listener.close();
    } catch {
      // already closed
    }
    for (let i = this.#head; i < this.#queue.length; i++) {
      try {
        this.#queue[i].close();
      } catch {
        // already closed
      }
    }
    this.#queue = [];
    this.#head = 0;
  }

  #pump(): void {
    if (this.#accepting || this.#closed || this.#retry !== undefined) return;
    if (this.pending >= this.limit) return;
    this.#accepting = true;
    this.listener.accept().then(
      (conn) => this.#onAccept(conn),
      () => this.#onError(),
    );
  }

  #onAccept(conn: Deno.Conn): void {
    this.#accepting = false;
    if (this.#closed) {
      conn.close();
      return;
    }
    this.#queue.push(conn);
    this.#owner.channelRaised(IN);
    this.#pump();
  }

  #onError(): void {
    this.#accepting = false;
    if (this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#pump();
    }, RETRY_MS);
  }
}
