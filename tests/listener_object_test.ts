/**
 * The `Listener` object: listen and the bound address, accept with `null`
 * for none pending, the options (`noDelay`, `reusePort`), errors as
 * `ErrnoError`, and the post-close guard (a closed `Listener` never touches
 * the fd number's next owner).
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  EADDRINUSE,
  EBADF,
  Epoll,
  EPOLLIN,
  getsockopt,
  IPPROTO_TCP,
  Listener,
  pipe,
  read,
  Socket,
  TCP_NODELAY,
  write,
} from "../mod.ts";
import { errno, LOOPBACK, readiness, waitFor } from "./_helpers.ts";

const ANY_PORT = { family: AF_INET, address: LOOPBACK, port: 0 } as const;

Deno.test("Listener.listen() binds a free port and reports it in addr", () => {
  using listener = Listener.listen(ANY_PORT);
  const addr = listener.addr;
  assert.ok(addr.family === AF_INET);
  assert.equal(addr.address, LOOPBACK);
  assert.ok(addr.port > 0);
});

Deno.test("Listener.accept() gives null while none is pending, then a Socket per connection", async () => {
  using listener = Listener.listen(ANY_PORT);
  assert.equal(listener.accept(), null);
  using a = Socket.connect(listener.addr);
  using b = Socket.connect(listener.addr);
  const accepted: Socket[] = [];
  try {
    while (accepted.length < 2) {
      await waitFor(listener.fd, EPOLLIN);
      for (let s = listener.accept(); s !== null; s = listener.accept()) accepted.push(s);
    }
    assert.equal(accepted.length, 2);
    assert.ok(accepted.every((s) => s instanceof Socket));
    const peers = accepted.map((s) => JSON.stringify(s.remoteAddr)).sort();
    assert.deepEqual(peers, [a.localAddr, b.localAddr].map((x) => JSON.stringify(x)).sort());
    assert.equal(listener.accept(), null);
  } finally {
    accepted.forEach((s) => s.close());
  }
});

Deno.test("Listener noDelay option: accepted sockets inherit TCP_NODELAY", async () => {
  using listener = Listener.listen(ANY_PORT, { noDelay: true });
  using client = Socket.connect(listener.addr);
  await waitFor(listener.fd, EPOLLIN);
  using conn = listener.accept();
  assert.ok(conn !== null);
  assert.equal(getsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY), 1);
  assert.equal(getsockopt(client.fd, IPPROTO_TCP, TCP_NODELAY), 0);
});

Deno.test("Listener reusePort option: two listeners share a port; without it EADDRINUSE", () => {
  using first = Listener.listen(ANY_PORT, { reusePort: true });
  using second = Listener.listen(first.addr, { reusePort: true });
  assert.deepEqual(second.addr, first.addr);
  assert.throws(() => Listener.listen(first.addr), errno(EADDRINUSE));
});

Deno.test("Listener.listen() on a port in use throws EADDRINUSE and keeps no fd", () => {
  using holder = Listener.listen(ANY_PORT);
  const probe = pipeFds();
  probe.forEach((fd) => close(fd));
  assert.throws(() => Listener.listen(holder.addr), errno(EADDRINUSE));
  const after = pipeFds();
  try {
    assert.deepEqual(after, probe, "the socket's fd was released");
  } finally {
    after.forEach((fd) => close(fd));
  }
});

Deno.test("Listener.close() is idempotent and closes the fd once", () => {
  const listener = Listener.listen(ANY_PORT);
  const fd = listener.fd;
  listener.close();
  listener.close();
  assert.equal(close(fd), -EBADF);
});

Deno.test("Listener after close() fails with EBADF even when its fd number is reused", async () => {
  const listener = Listener.listen(ANY_PORT);
  listener.close();
  assert.throws(() => listener.accept(), errno(EBADF));
  // A pipe now holds the same fd number; the closed object must not reach it.
  const fds = pipeFds();
  try {
    assert.ok(fds.includes(listener.fd), `fd ${listener.fd} not reused by ${fds}`);
    const [r, w] = fds;
    assert.equal(write(w, new Uint8Array([7])), 1);
    assert.throws(() => listener.accept(), errno(EBADF));
    assert.throws(() => listener.addr, errno(EBADF));
    listener.close();
    // The pipe is untouched: its byte is still there.
    const buf = new Uint8Array(1);
    assert.equal(read(r, buf), 1);
    assert.equal(buf[0], 7);
    assert.equal(await readiness(r), 0);
  } finally {
    fds.forEach((fd) => close(fd));
  }
});

Deno.test("Listener works with Epoll through its fd", async () => {
  using listener = Listener.listen(ANY_PORT);
  using ep = new Epoll();
  ep.add(listener.fd, EPOLLIN, "listener");
  using client = Socket.connect(listener.addr);
  assert.deepEqual(await ep.wait(1, 5000), [{ events: EPOLLIN, data: "listener" }]);
  using conn = listener.accept();
  assert.ok(conn !== null);
  assert.deepEqual(conn.remoteAddr, client.localAddr);
});

/** A fresh pipe's two fds (the lowest free numbers). */
function pipeFds(): number[] {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  return fds;
}
