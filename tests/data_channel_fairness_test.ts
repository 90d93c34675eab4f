/**
 * The Deno backend's read pump against a peer that always has bytes ready
 * (net/deno/_read_burst.ts), with a scripted `Deno.Conn` whose reads fill
 * their buffer at once, in a microtask, as Deno settles a read whose bytes
 * are already in the kernel.
 *
 * Microtasks all run before any timer, so a timer made before the channel
 * sees what the pump did without the event loop turning: without the bound
 * it read until the script ran out; with it, it stops after
 * {@linkcode READ_BURST} filled reads and reads again once the runtime has
 * turned (its 0 ms timer). A pause in which nobody else's read settled
 * doubles the next burst, up to {@linkcode MAX_READ_BURST}; one in which
 * another connection's read settled keeps it short.
 *
 * tests/hostile_fast_sender_test.ts is the end-to-end version.
 */

import assert from "node:assert/strict";
import { MAX_READ_BURST, READ_BURST, ReadBurst } from "../net/deno/_read_burst.ts";
import { scriptedChannel, ScriptedConn } from "./_helpers.ts";

/** Reads the script serves before it answers no more (the pump would otherwise never stop). */
const SCRIPT_READS = 10_000;

/** A `Deno.Conn` that is always readable, until the script runs out: every read fills its buffer. */
const alwaysReadable = () => new ScriptedConn((view) => view.length, SCRIPT_READS);

const macrotask = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("a connection that always has bytes ready pauses its reads for the runtime's poll after a bounded burst", async () => {
  const seen = macrotask(); // made before the channel's pause: fires first
  const conn = alwaysReadable();
  const ch = scriptedChannel(conn);
  try {
    await seen;
    assert.equal(conn.reads, READ_BURST, "reads before the event loop turned");
    // The runtime turned (the pump's 0 ms timer): it reads again.
    await new Promise<void>((r) => setTimeout(r, 20));
    assert.ok(conn.reads > READ_BURST, `no read after the pause (${conn.reads})`);
  } finally {
    ch.close(false);
  }
});

/** Settles `n` filled reads of `b`; returns whether the last one began a pause. */
function fill(b: ReadBurst, n: number): boolean {
  let paused = false;
  for (let i = 0; i < n; i++) paused = b.settled(64, 64);
  return paused;
}

/** Resolves once `b`'s pause has ended. */
async function pauseEnds(b: ReadBurst): Promise<void> {
  while (b.paused) await macrotask();
}

Deno.test("while no other read settles during its pauses, a burst doubles up to a bound", async () => {
  let resumed = 0;
  const b = new ReadBurst(() => resumed++);
  const bounds = [];
  for (let i = 0; i < 7; i++) {
    bounds.push(b.bound);
    assert.equal(fill(b, b.bound - 1), false, "paused before its bound");
    assert.equal(fill(b, 1), true, "no pause at its bound");
    await pauseEnds(b);
  }
  assert.equal(resumed, 7);
  assert.deepEqual(bounds, [1, 2, 4, 8, 16, 16, 16].map((k) => k * READ_BURST));
  assert.equal(MAX_READ_BURST, 16 * READ_BURST);
  // A read that does not fill its buffer ends the burst: the count starts again.
  assert.equal(fill(b, b.bound - 1), false);
  assert.equal(b.settled(10, 64), false);
  assert.equal(fill(b, b.bound - 1), false);
  b.cancel();
});

Deno.test("a read of another connection settling during a pause sets the burst back to its shortest", async () => {
  const b = new ReadBurst(() => {});
  const other = new ReadBurst(() => {});
  for (let i = 0; i < 3; i++) {
    fill(b, b.bound);
    await pauseEnds(b);
  }
  assert.equal(b.bound, 8 * READ_BURST);
  fill(b, b.bound);
  other.settled(1, 64); // the poll the pause waits for brought another connection its bytes
  await pauseEnds(b);
  assert.equal(b.bound, READ_BURST);
});

Deno.test("a closed connection's pause is cancelled and does not resume it", async () => {
  let resumed = 0;
  const b = new ReadBurst(() => resumed++);
  fill(b, b.bound);
  assert.ok(b.paused);
  b.cancel();
  assert.equal(b.paused, false);
  await new Promise<void>((r) => setTimeout(r, 10));
  assert.equal(resumed, 0);
});
