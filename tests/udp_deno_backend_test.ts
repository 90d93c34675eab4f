/**
 * What only the Deno backend's datagram sockets do (they ride on
 * `Deno.listenDatagram`): the bounded receive queue under a flood, no ICMP
 * errors, the -EPROTONOSUPPORT answer (with its reason) where Deno has no
 * `listenDatagram`, and AF_UNIX datagram sockets that must be bound to send.
 * These tests pick the Deno backend themselves, so both suite runs run them.
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  AF_UNIX,
  close,
  connect,
  datagramBackendError,
  EAGAIN,
  EPOLLERR,
  EPOLLIN,
  getSocketBackend,
  getsockopt,
  recvfrom,
  send,
  sendto,
  setSocketBackend,
  setsockopt,
  SO_ERROR,
  SO_RCVBUF,
  SOCK_DGRAM,
  socket,
  SOL_SOCKET,
} from "../mod.ts";
import { OVERHEAD } from "../net/deno/datagram.ts";
import { readiness, recvWithin, sleep, udpBound, waitFor } from "./_helpers.ts";

/** Runs `fn` with the Deno backend selected, restoring the previous one. */
async function onDeno(fn: () => Promise<void> | void): Promise<void> {
  const before = getSocketBackend();
  setSocketBackend("deno");
  try {
    await fn();
  } finally {
    setSocketBackend(before);
  }
}

Deno.test("Deno backend: a datagram flood fills a bounded queue and the rest is dropped, as a full receive buffer drops", () =>
  onDeno(async () => {
    const a = udpBound(), b = udpBound();
    try {
      assert.equal(setsockopt(b.fd, SOL_SOCKET, SO_RCVBUF, 4096), 0);
      const rcvbuf = getsockopt(b.fd, SOL_SOCKET, SO_RCVBUF);
      const size = 512, sent = 3000;
      const flood = new Uint8Array(size);
      for (let i = 0; i < sent; i++) {
        const r = sendto(a.fd, flood, 0, b.addr);
        if (r === -EAGAIN) {
          await waitFor(a.fd, 0x4); // EPOLLOUT
          i--;
          continue;
        }
        assert.equal(r, size);
      }
      await waitFor(b.fd, EPOLLIN);
      await sleep(50); // let the pump fill what it may (ordering, not timing, is asserted)
      // Drained without yielding: exactly what the queue holds now.
      const buf = new Uint8Array(size);
      let held = 0;
      while (recvfrom(b.fd, buf, 0) === size) held++;
      const bound = Math.floor(rcvbuf / (size + OVERHEAD)) + 1;
      assert.ok(held > 0 && held <= bound, `held ${held}, bound ${bound}`);
      // What the kernel beneath kept comes next; the rest was dropped.
      let total = held;
      for (;;) {
        const n = recvfrom(b.fd, buf, 0);
        if (n === size) {
          total++;
          continue;
        }
        assert.equal(n, -EAGAIN);
        // Nothing more within 200 ms: the flood is over.
        if (!await waitFor(b.fd, EPOLLIN, 200).then(() => true, () => false)) break;
      }
      assert.ok(total < sent, `received ${total} of ${sent}: nothing was dropped`);
    } finally {
      close(a.fd);
      close(b.fd);
    }
  }));

Deno.test("Deno backend: a connected socket never hears of a closed peer port (no ICMP errors)", () =>
  onDeno(async () => {
    const gone = udpBound();
    const addr = gone.addr;
    close(gone.fd);
    const b = udpBound();
    const s = socket(AF_INET, SOCK_DGRAM, 0);
    try {
      assert.equal(connect(s, addr), 0);
      assert.equal(send(s, new Uint8Array([1]), 0), 1);
      // Then a datagram that does arrive: by then the first one was sent.
      assert.equal(connect(s, b.addr), 0);
      assert.equal(send(s, new Uint8Array([2]), 0), 1);
      assert.equal(await recvWithin(b.fd, new Uint8Array(4)), 1);
      assert.equal((await readiness(s)) & EPOLLERR, 0);
      assert.equal(getsockopt(s, SOL_SOCKET, SO_ERROR), 0);
    } finally {
      close(s);
      close(b.fd);
    }
  }));

Deno.test("Deno backend: AF_UNIX datagram sockets are EPROTONOSUPPORT (Deno's unixpacket cannot send while receiving)", () =>
  onDeno(() => {
    assert.equal(socket(AF_UNIX, SOCK_DGRAM, 0), -93); // EPROTONOSUPPORT
  }));

Deno.test("Deno backend: without Deno.listenDatagram, SOCK_DGRAM is EPROTONOSUPPORT and datagramBackendError() says why", async () => {
  assert.equal(datagramBackendError(), null, "deno.json asks for unstable net");
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code =
    `import { AF_INET, socket, SOCK_DGRAM, SOCK_STREAM, close, datagramBackendError } from "${mod}";
    const fd = socket(AF_INET, SOCK_DGRAM, 0);
    const s = socket(AF_INET, SOCK_STREAM, 0);
    close(s);
    console.log(JSON.stringify({ fd, stream: s >= 0, why: datagramBackendError() }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    env: { DENO_EPOLL_BACKEND: "deno" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(r.fd, -93); // EPROTONOSUPPORT
  assert.equal(r.stream, true);
  assert.match(r.why, /--unstable-net/);
});
