/**
 * A scripted `Deno.Conn`, to drive the Deno backend's data channel
 * (net/deno/_data_channel.ts) without a socket: every read settles at
 * once, in a microtask, as Deno settles a read whose bytes are already in
 * the kernel, with the count the script gives; after `limit` reads the
 * next one waits until `close()` rejects it, as Deno's does.
 *
 * @module
 */

import { DataChannel } from "../../net/deno/_data_channel.ts";

/** A `Deno.Conn` whose reads the script answers (see the module doc). */
export class ScriptedConn {
  /** The length of every read's buffer, in order. */
  readonly buffers: number[] = [];
  #interrupt: ((err: Error) => void) | undefined;

  /**
   * @param answer The count a read of `view` settles with.
   * @param limit Reads answered before the script stops.
   */
  constructor(readonly answer: (view: Uint8Array) => number, readonly limit: number) {}

  /** Reads started so far. */
  get reads(): number {
    return this.buffers.length;
  }

  read(view: Uint8Array): Promise<number | null> {
    this.buffers.push(view.length);
    if (this.buffers.length > this.limit) {
      return new Promise((_, reject) => this.#interrupt = reject);
    }
    return Promise.resolve(this.answer(view));
  }
  write(b: Uint8Array): Promise<number> {
    return Promise.resolve(b.length);
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.#interrupt?.(new Deno.errors.Interrupted("closed"));
  }
  ref(): void {}
  unref(): void {}
}

/**
 * A data channel over `conn` whose owner reads what arrived after each
 * arrival, in a microtask, as a program's loop woken by it does.
 */
export function scriptedChannel(conn: ScriptedConn): DataChannel {
  const buf = new Uint8Array(65536);
  const owner = {
    ch: undefined as DataChannel | undefined,
    channelRaised(): void {
      queueMicrotask(() => owner.ch?.read(buf));
    },
  };
  owner.ch = new DataChannel(conn as unknown as Deno.Conn, owner, 131072, 262144);
  return owner.ch;
}
