/**
 * The `Socket` object: connect, read and write with `null` for would-block,
 * shutdown, addresses, options, errors as `ErrnoError`, and the post-close
 * guard (a closed `Socket` never touches the fd number's next owner).
 */

import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  EBADF,
  ECONNREFUSED,
  EINVAL,
  EPIPE,
  Epoll,
  EPOLLERR,
  EPOLLIN,
  EPOLLOUT,
  getsockopt,
  IPPROTO_TCP,
  Listener,
  pipe,
  read,
  SO_KEEPALIVE,
  Socket,
  SOL_SOCKET,
  TCP_NODELAY,
  write,
} from "../mod.ts";
import { closedPort, errno, LOOPBACK, readiness, sleep, waitFor } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A listener, a connected client and the accepted server side; `using` closes all three. */
async function connectedSockets(): Promise<
  { listener: Listener; client: Socket; server: Socket } & Disposable
> {
  const listener = Listener.listen({ family: AF_INET, address: LOOPBACK, port: 0 });
  let client: Socket | undefined;
  try {
    client = Socket.connect(listener.addr);
    assert.equal(await waitFor(client.fd, EPOLLOUT), EPOLLOUT);
    assert.equal(client.error, 0);
    await waitFor(listener.fd, EPOLLIN);
    const server = listener.accept();
    assert.ok(server instanceof Socket);
    const c = client;
    return {
      listener,
      client: c,
      server,
      [Symbol.dispose]() {
        server.close();
        c.close();
        listener.close();
      },
    };
  } catch (e) {
    client?.close();
    listener.close();
    throw e;
  }
}

Deno.test("Socket: bytes go both ways; read gives null while nothing is buffered", async () => {
  using s = await connectedSockets();
  const buf = new Uint8Array(16);
  assert.equal(s.server.read(buf), null);
  assert.equal(s.client.write(enc.encode("ping")), 4);
  assert.equal(await waitFor(s.server.fd, EPOLLIN), EPOLLIN);
  assert.equal(s.server.read(buf), 4);
  assert.equal(dec.decode(buf.subarray(0, 4)), "ping");
  assert.equal(s.server.write(enc.encode("pong")), 4);
  await waitFor(s.client.fd, EPOLLIN);
  assert.equal(s.client.read(buf), 4);
  assert.equal(dec.decode(buf.subarray(0, 4)), "pong");
  assert.equal(s.client.read(buf), null);
});

Deno.test("Socket: write gives null once the send buffer is full", async () => {
  using s = await connectedSockets();
  const chunk = new Uint8Array(1 << 20);
  let accepted = 0;
  let full = false;
  // The peer never reads: the userspace and kernel buffers fill up.
  for (let i = 0; i < 1000 && !full; i++) {
    const n = s.server.write(chunk);
    if (n === null) {
      if ((await readiness(s.server.fd, EPOLLOUT)) === 0) full = true;
      else await sleep(10);
    } else accepted += n;
  }
  assert.ok(full, `still writable after ${accepted} bytes`);
  assert.equal(s.server.write(chunk), null);
});

Deno.test("Socket: shutdown() sends FIN; the peer reads 0", async () => {
  using s = await connectedSockets();
  s.client.shutdown();
  await waitFor(s.server.fd, EPOLLIN);
  assert.equal(s.server.read(new Uint8Array(4)), 0);
  assert.throws(() => s.client.write(enc.encode("x")), errno(EPIPE));
});

Deno.test("Socket: localAddr and remoteAddr mirror the peer's", async () => {
  using s = await connectedSockets();
  assert.deepEqual(s.client.remoteAddr, s.listener.addr);
  assert.deepEqual(s.server.localAddr, s.listener.addr);
  assert.deepEqual(s.server.remoteAddr, s.client.localAddr);
});

Deno.test("Socket: setNoDelay and setKeepAlive set TCP_NODELAY and SO_KEEPALIVE", async () => {
  using s = await connectedSockets();
  s.client.setNoDelay();
  s.client.setKeepAlive();
  assert.equal(getsockopt(s.client.fd, IPPROTO_TCP, TCP_NODELAY), 1);
  assert.equal(getsockopt(s.client.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  s.client.setNoDelay(false);
  s.client.setKeepAlive(false);
  assert.equal(getsockopt(s.client.fd, IPPROTO_TCP, TCP_NODELAY), 0);
  assert.equal(getsockopt(s.client.fd, SOL_SOCKET, SO_KEEPALIVE), 0);
});

Deno.test("Socket.connect() to a closed port: EPOLLERR, then error gives ECONNREFUSED once", async () => {
  using sock = Socket.connect({ family: AF_INET, address: LOOPBACK, port: closedPort() });
  assert.ok((await waitFor(sock.fd, EPOLLOUT)) & EPOLLERR);
  assert.equal(sock.error, ECONNREFUSED);
  assert.equal(sock.error, 0);
  assert.equal(sock.read(new Uint8Array(4)), 0);
});

Deno.test("Socket.connect() with a bad address throws ErrnoError and keeps no fd", () => {
  const probe = pipeFds();
  close(probe[0]);
  close(probe[1]);
  assert.throws(
    () => Socket.connect({ family: AF_INET, address: "not an address", port: 1 }),
    errno(EINVAL),
  );
  const after = pipeFds();
  try {
    assert.deepEqual(after, probe, "the socket's fd was released");
  } finally {
    after.forEach((fd) => close(fd));
  }
});

Deno.test("Socket.close() is idempotent and closes the fd once", async () => {
  using s = await connectedSockets();
  const fd = s.client.fd;
  s.client.close();
  s.client.close();
  assert.equal(close(fd), -EBADF);
});

Deno.test("Socket after close() fails with EBADF even when its fd number is reused", async () => {
  using s = await connectedSockets();
  const sock = s.client;
  sock.close();
  assert.throws(() => sock.read(new Uint8Array(1)), errno(EBADF));
  // A pipe now holds the same fd number; the closed object must not reach it.
  const fds = pipeFds();
  try {
    assert.ok(fds.includes(sock.fd), `fd ${sock.fd} not reused by ${fds}`);
    const [r, w] = fds;
    assert.equal(write(w, enc.encode("x")), 1);
    const buf = new Uint8Array(1);
    assert.throws(() => sock.read(buf), errno(EBADF));
    assert.throws(() => sock.write(enc.encode("y")), errno(EBADF));
    assert.throws(() => sock.shutdown(), errno(EBADF));
    assert.throws(() => sock.error, errno(EBADF));
    assert.throws(() => sock.localAddr, errno(EBADF));
    assert.throws(() => sock.remoteAddr, errno(EBADF));
    assert.throws(() => sock.setNoDelay(), errno(EBADF));
    assert.throws(() => sock.setKeepAlive(), errno(EBADF));
    sock.close();
    // The pipe is untouched: its byte is still there, nothing else was written.
    assert.equal(read(r, buf), 1);
    assert.equal(dec.decode(buf), "x");
    assert.equal(await readiness(r), 0);
  } finally {
    fds.forEach((fd) => close(fd));
  }
});

Deno.test("Socket works with Epoll through its fd", async () => {
  using s = await connectedSockets();
  using ep = new Epoll();
  ep.add(s.server.fd, EPOLLIN, "server");
  assert.equal(s.client.write(enc.encode("hi")), 2);
  assert.deepEqual(await ep.wait(1, 5000), [{ events: EPOLLIN, data: "server" }]);
});

/** A fresh pipe's two fds (the lowest free numbers). */
function pipeFds(): number[] {
  const fds: number[] = [];
  assert.equal(pipe(fds), 0);
  return fds;
}
