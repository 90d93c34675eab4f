// The libc binding (net/native/libc.ts): POSIX-shaped calls against the real
// kernel. Skips (ignored, with the reason in the name) where FFI is unavailable.
import assert from "node:assert/strict";
import { type Libc, type NativeEvent, openLibc } from "../net/native/libc.ts";
import {
  AF_INET,
  AF_UNIX,
  EFD_NONBLOCK,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  SHUT_WR,
  SO_ERROR,
  SO_RCVBUF,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../runtime/core/constants.ts";
import { EAGAIN, EBADF, EEXIST, EINVAL, ENOENT, ENOTCONN } from "../runtime/core/errno.ts";
import type { SockAddr } from "../net/sockaddr.ts";

// Loaded at module scope: the binding stays open for the process, and the
// resource sanitizer only checks what a test opens.
const opened = openLibc();
const ignore = typeof opened === "string";
const suffix = ignore ? ` (skipped: ${opened})` : "";
const libc = opened as Libc;
const O_NONBLOCK = 0o4000;
const F_GETFL = 3;

function t(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name: name + suffix, ignore, fn });
}

t("openLibc returns the same binding every time", () => {
  assert.equal(openLibc(), libc);
  assert.equal(libc.epollEventSize, libc.arch === "x86_64" ? 12 : 16);
});

t("pipe2 moves bytes, read returns -EAGAIN when empty and 0 at end of stream", () => {
  const fds: number[] = [];
  assert.equal(libc.pipe2(fds, O_NONBLOCK), 0);
  try {
    const buf = new Uint8Array(8);
    assert.equal(libc.read(fds[0], buf), -EAGAIN);
    assert.equal(libc.write(fds[1], new Uint8Array([1, 2, 3])), 3);
    assert.equal(libc.read(fds[0], buf), 3);
    assert.deepEqual([...buf.subarray(0, 3)], [1, 2, 3]);
    assert.equal(libc.close(fds[1]), 0);
    assert.equal(libc.read(fds[0], buf), 0);
  } finally {
    libc.close(fds[0]);
  }
});

t("close, dup and read of a closed fd return -EBADF", () => {
  const fds: number[] = [];
  assert.equal(libc.pipe2(fds, 0), 0);
  const d = libc.dup(fds[0]);
  assert.ok(d >= 0);
  assert.equal(libc.close(d), 0);
  // Not `d` again: test files run on parallel threads of one process, so the
  // number may already belong to another test's fd. This one is never open.
  const closed = 0x7fff_fff0;
  assert.equal(libc.close(closed), -EBADF);
  assert.equal(libc.dup(closed), -EBADF);
  assert.equal(libc.read(closed, new Uint8Array(1)), -EBADF);
  assert.equal(libc.fcntl(fds[0], F_GETFL, 0) & O_NONBLOCK, 0);
  libc.close(fds[0]);
  libc.close(fds[1]);
});

t("socketpair gives two connected sockets; shutdown(SHUT_WR) reads as end of stream", () => {
  const sv: number[] = [];
  assert.equal(libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  try {
    assert.equal(libc.getsockoptInt(sv[0], SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    assert.equal(libc.write(sv[0], new Uint8Array([9])), 1);
    assert.equal(libc.shutdown(sv[0], SHUT_WR), 0);
    const buf = new Uint8Array(4);
    assert.equal(libc.read(sv[1], buf), 1);
    assert.equal(libc.read(sv[1], buf), 0);
  } finally {
    libc.close(sv[0]);
    libc.close(sv[1]);
  }
});

t("epoll_ctl and epoll_wait carry EPOLLET as an unsigned mask and a 53-bit data token", () => {
  const ep = libc.epoll_create1(0);
  const efd = libc.eventfd(0, EFD_NONBLOCK);
  assert.ok(ep >= 0 && efd >= 0);
  try {
    const token = 2 ** 40 + 12345;
    assert.equal(libc.epoll_ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLOUT | EPOLLET, token), 0);
    assert.equal(libc.epoll_ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 1), -EEXIST);
    const out: NativeEvent[] = [];
    assert.equal(libc.epoll_wait(ep, out, 8, 0), 1);
    assert.equal(out[0].events, EPOLLOUT);
    assert.equal(out[0].data, token);
    assert.equal(libc.epoll_wait(ep, out, 8, 0), 0, "edge-triggered: no new edge");
    const one = new Uint8Array(8);
    new DataView(one.buffer).setBigUint64(0, 1n, true);
    assert.equal(libc.write(efd, one), 8);
    assert.equal(libc.epoll_wait(ep, out, 8, 0), 1);
    assert.equal(out[0].events, EPOLLIN | EPOLLOUT);
    assert.equal(libc.epoll_ctl(ep, EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLET, 0xffffffff), 0);
    assert.equal(libc.epoll_wait(ep, out, 8, 0), 1);
    assert.equal(out[0].data, 0xffffffff);
    assert.equal(libc.epoll_wait(ep, out, 0, 0), -EINVAL);
    assert.equal(libc.epoll_ctl(ep, EPOLL_CTL_DEL, efd, 0, 0), 0);
    assert.equal(libc.epoll_ctl(ep, EPOLL_CTL_DEL, efd, 0, 0), -ENOENT);
  } finally {
    libc.close(efd);
    libc.close(ep);
  }
});

t("epoll_wait_parked runs off the JS thread and an eventfd write wakes it", async () => {
  const ep = libc.epoll_create1(0);
  const efd = libc.eventfd(0, EFD_NONBLOCK);
  try {
    libc.epoll_ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 7);
    const out: NativeEvent[] = [];
    const parked = libc.epoll_wait_parked(ep, out, 4, 10_000);
    assert.equal(await libc.epoll_wait_parked(ep, out, 4, 0), -EINVAL, "one at a time");
    let ranMeanwhile = false;
    await Promise.resolve().then(() => (ranMeanwhile = true));
    const one = new Uint8Array(8);
    one[0] = 1;
    assert.equal(libc.write(efd, one), 8);
    assert.equal(await parked, 1);
    assert.ok(ranMeanwhile);
    assert.deepEqual(out[0], { events: EPOLLIN, data: 7 });
    assert.equal(await libc.epoll_wait_parked(ep, out, 4, 0), 1, "usable again");
  } finally {
    libc.close(efd);
    libc.close(ep);
  }
});

t(
  "a TCP listener accepts a non-blocking connect over loopback; names and options are the kernel's",
  () => {
    const l = libc.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const c = libc.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const ep = libc.epoll_create1(0);
    let a = -1;
    try {
      assert.equal(libc.bind(l, { family: AF_INET, address: "127.0.0.1", port: 0 }), 0);
      assert.equal(libc.listen(l, 16), 0);
      const name: SockAddr = { family: AF_INET, address: "", port: 0 };
      assert.equal(libc.getsockname(l, name), 0);
      assert.equal(name.family, AF_INET);
      assert.ok(name.family === AF_INET && name.port > 0 && name.address === "127.0.0.1");
      assert.equal(libc.getpeername(c, { ...name }), -ENOTCONN);
      const r = libc.connect(c, name);
      assert.ok(r === 0 || r === -115, `connect: ${r}`);
      libc.epoll_ctl(ep, EPOLL_CTL_ADD, l, EPOLLIN, 1);
      libc.epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLOUT | EPOLLRDHUP | EPOLLET, 2);
      const out: NativeEvent[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < 1000 && seen.size < 2; i++) {
        const n = libc.epoll_wait(ep, out, 4, 10);
        for (let k = 0; k < n; k++) seen.add(out[k].data);
      }
      assert.deepEqual([...seen].sort(), [1, 2]);
      assert.equal(libc.getsockoptInt(c, SOL_SOCKET, SO_ERROR), 0);
      const peer: SockAddr = { family: AF_UNIX, path: "" };
      a = libc.accept4(l, SOCK_NONBLOCK, peer);
      assert.ok(a >= 0);
      assert.equal(peer.family, AF_INET);
      assert.ok(libc.getsockoptInt(a, SOL_SOCKET, SO_RCVBUF) > 0);
      assert.equal(libc.accept4(l, SOCK_NONBLOCK), -EAGAIN);
      assert.equal(libc.write(c, new TextEncoder().encode("hi")), 2);
      const buf = new Uint8Array(8);
      let n = -EAGAIN;
      for (let i = 0; i < 1000 && n === -EAGAIN; i++) {
        libc.epoll_wait(ep, out, 4, 1);
        n = libc.read(a, buf);
      }
      assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "hi");
    } finally {
      if (a >= 0) libc.close(a);
      libc.close(c);
      libc.close(l);
      libc.close(ep);
    }
  },
);

t("bind to a bad address returns -EINVAL without reaching the kernel", () => {
  const s = libc.socket(AF_INET, SOCK_STREAM, 0);
  try {
    assert.equal(libc.bind(s, { family: AF_INET, address: "1.2.3", port: 0 }), -EINVAL);
    assert.equal(libc.bind(s, { family: AF_INET, address: "1.2.3.4", port: 70000 }), -EINVAL);
  } finally {
    libc.close(s);
  }
});
