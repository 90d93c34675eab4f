/**
 * The Deno backend's read pump sizes its reads (net/deno/_data_channel.ts)
 * so that a read whose bytes are a whole message finds room to spare: Deno's
 * I/O driver (tokio) takes a read that filled its buffer as "maybe more",
 * and the next read then costs a system call that finds nothing, where a
 * short read is taken as "drained". A scripted `Deno.Conn` records the
 * buffer of every read it is given.
 */

import assert from "node:assert/strict";
import { scriptedChannel, ScriptedConn } from "./_helpers.ts";

/** Reads after which the script answers no more. */
const SCRIPT_READS = 200;
/** The messages' size. */
const MESSAGE = 1024;

Deno.test("a stream of 1 KiB messages, each read by the program as it arrives, is read into buffers with room to spare", async () => {
  // One message per read, as a peer that waits for each echo sends them.
  const conn = new ScriptedConn((view) => Math.min(view.length, MESSAGE), SCRIPT_READS);
  const ch = scriptedChannel(conn);
  try {
    while (conn.buffers.length <= SCRIPT_READS) await new Promise((r) => setTimeout(r, 0));
    // The first reads are the size's growth from the 32-byte probe.
    const settled = conn.buffers.slice(16, SCRIPT_READS);
    const full = settled.filter((n) => n <= MESSAGE);
    assert.deepEqual(
      full,
      [],
      `reads whose buffer a message fills: ${full.length} of ${settled.length}`,
    );
  } finally {
    ch.close(false);
  }
});
