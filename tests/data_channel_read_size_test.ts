/**
 * The Deno backend's read pump sizes its reads (net/deno/_data_channel.ts)
 * so that a read whose bytes are a whole message finds room to spare: Deno's
 * I/O driver (tokio) takes a read that filled its buffer as "maybe more",
 * and the next read then costs a system call that finds nothing, where a
 * short read is taken as "drained". A scripted `Deno.Conn` records the
 * buffer of every read it is given.
 */

import assert from "node:assert/strict";
import { DataChannel } from "../net/deno/_data_channel.ts";

/** Reads after which the script answers no more. */
const SCRIPT_READS = 200;

/** A `Deno.Conn` that delivers one `message`-byte message per read, in a microtask. */
class MessageConn {
  readonly buffers: number[] = [];
  #interrupt: ((err: Error) => void) | undefined;
  constructor(readonly message: number) {}
  read(view: Uint8Array): Promise<number | null> {
    this.buffers.push(view.length);
    if (this.buffers.length > SCRIPT_READS) {
      return new Promise((_, reject) => this.#interrupt = reject);
    }
    return Promise.resolve(Math.min(view.length, this.message));
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

Deno.test("a stream of 1 KiB messages, each read by the program as it arrives, is read into buffers with room to spare", async () => {
  const conn = new MessageConn(1024);
  const buf = new Uint8Array(65536);
  const owner = {
    ch: undefined as DataChannel | undefined,
    // The program's loop: woken by the arrival, it reads what is there.
    channelRaised(): void {
      queueMicrotask(() => owner.ch?.read(buf));
    },
  };
  const ch = owner.ch = new DataChannel(conn as unknown as Deno.Conn, owner, 131072, 262144);
  try {
    while (conn.buffers.length <= SCRIPT_READS) await new Promise((r) => setTimeout(r, 0));
    // The first reads are the size's growth from the 32-byte probe.
    const settled = conn.buffers.slice(16, SCRIPT_READS);
    const full = settled.filter((n) => n <= conn.message);
    assert.deepEqual(
      full,
      [],
      `reads whose buffer a message fills: ${full.length} of ${settled.length}`,
    );
  } finally {
    ch.close(false);
  }
});
