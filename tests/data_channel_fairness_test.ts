/**
 * The Deno backend's read pump against a peer that always has bytes ready
 * (net/deno/_read_burst.ts), with a
 * scripted `Deno.Conn` whose reads fill their buffer at once, in a
 * microtask, as Deno settles a read whose bytes are already in the kernel.
 *
 * Microtasks all run before any timer, so a timer made before the channel
 * sees what the pump did without the event loop turning: without the bound
 * it read until the script ran out; with it, it stops after
 * {@linkcode READ_BURST} filled reads when another connection has a read in
 * flight and after {@linkcode LONE_READ_BURST} otherwise, and reads again
 * once the runtime has turned (its 0 ms timer).
 *
 * tests/hostile_fast_sender_test.ts is the end-to-end version.
 */

import assert from "node:assert/strict";
import { DataChannel } from "../net/deno/_data_channel.ts";
import { LONE_READ_BURST, READ_BURST } from "../net/deno/_read_burst.ts";

/** Reads the script serves before it answers no more (the pump would otherwise never stop). */
const SCRIPT_READS = 10_000;

/** A `Deno.Conn` that is always readable (or never, with `silent`). */
class ScriptedConn {
  reads = 0;
  /** Rejects the read left waiting, as `close()` does to Deno's. */
  #interrupt: ((err: Error) => void) | undefined;
  constructor(readonly silent = false) {}
  read(view: Uint8Array): Promise<number | null> {
    this.reads++;
    if (this.silent || this.reads > SCRIPT_READS) {
      return new Promise((_, reject) => this.#interrupt = reject);
    }
    return Promise.resolve(view.length); // a full buffer, in a microtask
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

/** A channel over `conn` whose owner drains it after each arrival, as a program's loop does. */
function channel(conn: ScriptedConn): DataChannel {
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

const macrotask = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("a connection that always has bytes ready pauses its reads for the runtime's poll after a bounded burst", async () => {
  const seen = macrotask(); // made before the channel's pause: fires first
  const conn = new ScriptedConn();
  const ch = channel(conn);
  try {
    await seen;
    assert.equal(conn.reads, LONE_READ_BURST, "reads before the event loop turned");
    // The runtime turned (the pump's 0 ms timer): it reads again, and pauses again.
    await new Promise<void>((r) => setTimeout(r, 20));
    assert.ok(conn.reads > LONE_READ_BURST, `no read after the pause (${conn.reads})`);
    assert.equal(conn.reads % LONE_READ_BURST, 0, `${conn.reads} reads: not whole bursts`);
  } finally {
    ch.close(false);
  }
});

Deno.test("while another connection waits for its bytes the burst is shorter", async () => {
  const seen = macrotask();
  const other = channel(new ScriptedConn(true)); // a read in flight that needs the runtime's poll
  const conn = new ScriptedConn();
  const ch = channel(conn);
  try {
    await seen;
    assert.equal(conn.reads, READ_BURST, "reads before the event loop turned");
  } finally {
    ch.close(false);
    other.close(false);
  }
});
