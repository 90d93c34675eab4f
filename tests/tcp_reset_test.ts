/**
 * TCP reset: a peer that resets mid-stream (RST in ESTABLISHED) and one that
 * closes with unread bytes after its FIN (RST in CLOSE_WAIT). Linux keeps the
 * error in one slot (`sk_err`): read, write and `SO_ERROR` each may take it,
 * once.
 */

import assert from "node:assert/strict";
import {
  ECONNRESET,
  EPIPE,
  EPOLLERR,
  EPOLLHUP,
  EPOLLRDHUP,
  getsockopt,
  read,
  SO_ERROR,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import {
  acceptedPair,
  NATIVE,
  readExactly,
  readiness,
  TCP_DEAD,
  waitFor,
  withPeerReset,
} from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Runs `body` with a library-side connection that its peer reset
 * mid-stream, once the reset has arrived; closes everything afterwards.
 */
async function withResetConnection(body: (fd: number) => Promise<void> | void): Promise<void> {
  await withPeerReset(async (sfd) => {
    // Only ERR|HUP asked: the wait ends on the reset itself.
    assert.equal(await waitFor(sfd, 0), EPOLLERR | EPOLLHUP);
    await body(sfd);
  });
}

Deno.test("peer reset mid-stream: ERR|HUP, read -ECONNRESET once, then EOF and -EPIPE", async () => {
  await withResetConnection(async (sfd) => {
    assert.equal(await readiness(sfd), TCP_DEAD);
    const buf = new Uint8Array(64);
    assert.equal(read(sfd, buf), -ECONNRESET);
    // The error was consumed by read: no ERR, SO_ERROR 0, EOF, then EPIPE.
    assert.equal(await readiness(sfd), TCP_DEAD & ~EPOLLERR);
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0);
    assert.equal(read(sfd, buf), 0);
    assert.equal(read(sfd, buf), 0);
    assert.equal(write(sfd, enc.encode("x")), -EPIPE);
    assert.equal(write(sfd, enc.encode("x")), -EPIPE);
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0);
  });
});

Deno.test("peer reset: SO_ERROR consumes the error (then read 0, write -EPIPE)", async () => {
  await withResetConnection(async (sfd) => {
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), ECONNRESET);
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0);
    assert.equal(await readiness(sfd), TCP_DEAD & ~EPOLLERR);
    // Linux: sk_err is one slot; once read, recv sees RCV_SHUTDOWN and returns 0.
    assert.equal(read(sfd, new Uint8Array(8)), 0);
    assert.equal(write(sfd, enc.encode("x")), -EPIPE);
  });
});

Deno.test("peer reset: first write gives -ECONNRESET, later writes -EPIPE", async () => {
  await withResetConnection(async (sfd) => {
    assert.equal(write(sfd, enc.encode("x")), -ECONNRESET);
    assert.equal(write(sfd, enc.encode("x")), -EPIPE);
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0);
    assert.equal(read(sfd, new Uint8Array(8)), 0);
    assert.equal(await readiness(sfd), TCP_DEAD & ~EPOLLERR);
  });
});

Deno.test("peer FIN then RST (a Deno peer closing with unread bytes): EOF, then EPIPE", async () => {
  using pair = await acceptedPair();
  const { fd: sfd, peer } = pair;
  assert.equal(write(sfd, enc.encode("never read")), 10);
  assert.equal(dec.decode(await readExactly(peer, 4)), "neve");
  // Deno's close shuts the write side (FIN), then closes with 6 bytes unread (RST).
  peer.close();
  if (NATIVE) {
    // The kernel hears both at once: ERR|HUP (SO_ERROR EPIPE), reads at EOF (the FIN
    // came first), and the write reports the error it consumes.
    assert.equal(await waitFor(sfd, 0), EPOLLERR | EPOLLHUP);
    assert.equal(await readiness(sfd), TCP_DEAD);
    assert.equal(read(sfd, new Uint8Array(8)), 0);
    assert.equal(write(sfd, enc.encode("x")), -EPIPE);
    assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0, "the error was reported once");
    assert.equal(await readiness(sfd), TCP_DEAD & ~EPOLLERR);
    assert.equal(read(sfd, new Uint8Array(8)), 0);
    return;
  }
  assert.equal(await waitFor(sfd, EPOLLRDHUP), EPOLLRDHUP);
  assert.equal(read(sfd, new Uint8Array(8)), 0);
  // Linux already knows of the RST here (ERR|HUP, SO_ERROR EPIPE); the library
  // learns it from its next Deno write, so the first write is still accepted.
  assert.equal(write(sfd, enc.encode("x")), 1);
  assert.equal(await waitFor(sfd, 0), EPOLLERR | EPOLLHUP);
  assert.equal(await readiness(sfd), TCP_DEAD);
  // tcp_reset in CLOSE_WAIT sets EPIPE; the FIN keeps reads at EOF.
  assert.equal(read(sfd, new Uint8Array(8)), 0);
  assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), EPIPE);
  assert.equal(await readiness(sfd), TCP_DEAD & ~EPOLLERR);
  assert.equal(write(sfd, enc.encode("x")), -EPIPE);
  assert.equal(write(sfd, enc.encode("x")), -EPIPE);
  assert.equal(read(sfd, new Uint8Array(8)), 0);
  assert.equal(getsockopt(sfd, SOL_SOCKET, SO_ERROR), 0, "the error was reported once");
});
