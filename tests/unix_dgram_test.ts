/**
 * AF_UNIX datagram sockets made by `socket()` (native backend: kernel
 * sockets; the Deno backend answers -EPROTONOSUPPORT, tested in
 * udp_deno_backend_test.ts): paths, unnamed senders, abstract names, names
 * nobody bound, and the receiver's queue limit (`max_dgram_qlen`) that
 * blocks a connected writer and takes its EPOLLOUT away until the receiver
 * reads.
 */

import assert from "node:assert/strict";
import {
  AF_UNIX,
  bind,
  close,
  connect,
  EAGAIN,
  ECONNREFUSED,
  ENOENT,
  EPOLLOUT,
  recv,
  recvfrom,
  send,
  sendto,
  SOCK_DGRAM,
  type SockAddr,
  socket,
} from "../mod.ts";
import { NATIVE, readiness, waitFor } from "./_helpers.ts";

function unixTest(name: string, fn: (dir: string) => Promise<void> | void): void {
  Deno.test({
    name,
    ignore: !NATIVE,
    async fn() {
      const dir = await Deno.makeTempDir();
      try {
        await fn(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

unixTest("a datagram to a bound path arrives with the sender's path", (dir) => {
  const a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    const pa = { family: AF_UNIX, path: `${dir}/a` } as const;
    const pb = { family: AF_UNIX, path: `${dir}/b` } as const;
    assert.equal(bind(a, pa), 0);
    assert.equal(bind(b, pb), 0);
    assert.equal(sendto(a, new Uint8Array([1, 2, 3]), 0, pb), 3);
    const from = {} as SockAddr;
    assert.equal(recvfrom(b, new Uint8Array(8), 0, from), 3);
    assert.deepEqual(from, pa);
  } finally {
    close(a);
    close(b);
  }
});

unixTest("an unbound sender is unnamed: its datagrams come from the empty path", (dir) => {
  const a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    const pb = { family: AF_UNIX, path: `${dir}/b` } as const;
    assert.equal(bind(b, pb), 0);
    assert.equal(sendto(a, new Uint8Array(0), 0, pb), 0);
    const from = { family: AF_UNIX, path: "stale" } as SockAddr;
    assert.equal(recvfrom(b, new Uint8Array(8), 0, from), 0);
    assert.deepEqual(from, { family: AF_UNIX, path: "" });
  } finally {
    close(a);
    close(b);
  }
});

unixTest("a name nobody bound: ENOENT for a path, ECONNREFUSED for an abstract name", (dir) => {
  const a = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    assert.equal(
      sendto(a, new Uint8Array(1), 0, { family: AF_UNIX, path: `${dir}/nobody` }),
      -ENOENT,
    );
    const abstract = `\0deno-epoll-nobody-${Deno.pid}-${Math.random()}`;
    assert.equal(
      sendto(a, new Uint8Array(1), 0, { family: AF_UNIX, path: abstract }),
      -ECONNREFUSED,
    );
  } finally {
    close(a);
  }
});

unixTest(
  "a connected writer fills the receiver's queue (max_dgram_qlen): EAGAIN, no EPOLLOUT, until the receiver reads",
  async (dir) => {
    const w = socket(AF_UNIX, SOCK_DGRAM, 0), r = socket(AF_UNIX, SOCK_DGRAM, 0);
    try {
      const pr = { family: AF_UNIX, path: `${dir}/r` } as const;
      assert.equal(bind(r, pr), 0);
      assert.equal(connect(w, pr), 0);
      let sent = 0;
      while (send(w, new Uint8Array([sent & 0xff]), 0) === 1) sent++;
      assert.equal(send(w, new Uint8Array(1), 0), -EAGAIN);
      const qlen = Number(Deno.readTextFileSync("/proc/sys/net/unix/max_dgram_qlen"));
      assert.equal(sent, qlen + 1, "the queue takes max_dgram_qlen + 1 datagrams");
      assert.equal((await readiness(w)) & EPOLLOUT, 0);
      assert.equal(recv(r, new Uint8Array(1), 0), 1);
      assert.equal((await waitFor(w, EPOLLOUT)) & EPOLLOUT, EPOLLOUT);
      assert.equal(send(w, new Uint8Array(1), 0), 1);
    } finally {
      close(w);
      close(r);
    }
  },
);
