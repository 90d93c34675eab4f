// Kernels (runtime/core/kernel.ts): independent descriptor tables and limits;
// ambient calls that follow awaits; the object layer bound to the kernel it was
// made in; kernelCalls() covering every call of mod.ts; the socket backend per
// kernel. A kernel's clock: kernel_clock_test.ts; its shutdown:
// kernel_shutdown_test.ts.

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  AF_INET,
  close,
  currentKernel,
  EBADF,
  EMFILE,
  ENETUNREACH,
  epollCreate1,
  EPOLLIN,
  epollWait,
  EV_ADD,
  EV_ONESHOT,
  eventfd,
  EVFILT_TIMER,
  getDescriptorLimit,
  getSocketBackend,
  type InetSockAddr,
  Kernel,
  kernelCalls,
  read,
  setDescriptorLimit,
  setSocketBackend,
  SOCK_STREAM,
  socket,
  write,
} from "../mod.ts";
import { registerSocketBackend } from "../net/socket_backend.ts";
import { connectLoopback, LOOPBACK, turn } from "./_helpers.ts";

Deno.test("two kernels number their fds independently, each from its lowest free fd", () => {
  const a = new Kernel({ name: "a" });
  const b = new Kernel({ name: "b" });
  try {
    const mine = eventfd(0, 0); // the default kernel's
    assert.equal(a.run(() => eventfd(0, 0)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 1);
    assert.equal(b.run(() => eventfd(0, 0)), 0);
    assert.equal(a.openDescriptors, 2);
    assert.equal(b.openDescriptors, 1);
    // fd 0 of b is not fd 0 of a: closing it in b leaves a's alone.
    assert.equal(b.run(() => close(0)), 0);
    assert.equal(b.run(() => close(0)), -EBADF);
    assert.equal(a.run(() => write(0, new Uint8Array(8).fill(1, 0, 1))), 8);
    assert.equal(eventfd(0, 0), mine + 1, "the default kernel's table did not move");
    close(mine + 1);
    close(mine);
  } finally {
    a.shutdown();
    b.shutdown();
  }
});

Deno.test("each kernel has its own descriptor limit", () => {
  const a = new Kernel({ limit: 2 });
  try {
    const before = getDescriptorLimit();
    assert.equal(a.run(getDescriptorLimit), 2);
    assert.equal(a.run(() => eventfd(0, 0)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 1);
    assert.equal(a.run(() => eventfd(0, 0)), -EMFILE);
    assert.equal(a.run(() => setDescriptorLimit(3)), 0);
    assert.equal(a.run(() => eventfd(0, 0)), 2);
    assert.equal(getDescriptorLimit(), before, "the default kernel's limit did not change");
    assert.throws(() => new Kernel({ limit: 0 }), TypeError);
  } finally {
    a.shutdown();
  }
});

Deno.test("ambient calls follow awaits: inside run(), every call acts on that kernel", async () => {
  const a = new Kernel({ name: "a" });
  const b = new Kernel({ name: "b" });
  try {
    // Two programs interleaved on the event loop, each seeing only its own kernel.
    const program = (k: Kernel, tag: number) =>
      k.run(async () => {
        const fds: number[] = [];
        for (let i = 0; i < 3; i++) {
          assert.equal(currentKernel(), k);
          fds.push(eventfd(tag, 0));
          await turn(); // a macrotask: the other program runs meanwhile
          await Promise.resolve();
          const epfd = epollCreate1(0);
          await epollWait(epfd, [], 1, 1); // a real wait, its timer and wake-up
          assert.equal(currentKernel(), k);
          close(epfd);
        }
        return fds;
      });
    const [fa, fb] = await Promise.all([program(a, 1), program(b, 2)]);
    assert.deepEqual(fa, [0, 1, 2]);
    assert.deepEqual(fb, [0, 1, 2]);
    const buf = new Uint8Array(8);
    assert.equal(a.run(() => read(2, buf)), 8);
    assert.equal(buf[0], 1);
    assert.equal(b.run(() => read(2, buf)), 8);
    assert.equal(buf[0], 2);
    assert.equal(currentKernel(), Kernel.default);
    // Nested: the innermost run wins, and the outer kernel comes back.
    a.run(() => {
      b.run(() => assert.equal(currentKernel(), b));
      assert.equal(currentKernel(), a);
      Kernel.default.run(() => assert.equal(currentKernel(), Kernel.default));
    });
  } finally {
    a.shutdown();
    b.shutdown();
  }
});

Deno.test("the object layer acts on the kernel it was made in, whoever calls it", async () => {
  const k = new Kernel({ name: "objects" });
  const os = kernelCalls(k);
  try {
    const mine = eventfd(1, 0); // a default-kernel fd that may share k's numbers
    using ep = new os.Epoll();
    const efd = os.eventfd(1, 0);
    assert.equal(ep.fd, 0);
    assert.equal(efd, 1);
    // Called from the default kernel's context: still acts on k's fds.
    ep.add(efd, EPOLLIN, "k's eventfd");
    assert.deepEqual((await ep.wait(4, 0)).map((e) => e.data), ["k's eventfd"]);
    using kq = k.run(() => new mod.KQueue());
    kq.changes([{
      ident: 1,
      filter: EVFILT_TIMER,
      flags: EV_ADD | EV_ONESHOT,
      fflags: 0,
      data: 1,
      udata: 1,
    }]);
    assert.equal((await kq.wait(1, 1000)).length, 1);
    // Sockets: a listener made in k hands out sockets of k.
    using listener = os.Listener.listen({ family: AF_INET, address: LOOPBACK, port: 0 });
    assert.ok(listener instanceof mod.Listener && listener instanceof os.Listener);
    const client = await connectLoopback((listener.addr as InetSockAddr).port);
    ep.add(listener.fd, EPOLLIN, "listener");
    assert.ok((await ep.wait(4, 5000)).some((e) => e.data === "listener"));
    using accepted = listener.accept()!;
    assert.ok(accepted !== null);
    assert.equal(k.run(() => mod.getsockname(accepted.fd, {} as InetSockAddr)), 0);
    assert.equal(accepted.write(new Uint8Array([7])), 1);
    // Datagram sockets too: a pair made in k, used from here.
    const [x, y] = os.DatagramSocket.pair();
    using _x = x;
    using _y = y;
    assert.equal(k.run(() => mod.getsockopt(x.fd, mod.SOL_SOCKET, mod.SO_TYPE)), mod.SOCK_DGRAM);
    assert.equal(x.sendTo(new Uint8Array([1, 2, 3])), 3);
    assert.equal(y.receiveFrom(new Uint8Array(8))?.length, 3);
    close(client);
    close(mine);
    os.close(efd);
  } finally {
    k.shutdown();
  }
});

Deno.test("kernelCalls() has a bound member for every call of mod.ts that acts on a kernel", () => {
  // What mod.ts exports that is not a call on a kernel: errno helpers, the base class
  // for new kinds of description, the kernel and clock machinery itself.
  const notCalls = new Set([
    "errnoName",
    "errnoNumber",
    "strerror",
    "check",
    "ErrnoError",
    "Description",
    "Kernel",
    "currentKernel",
    "kernelCalls",
    "realClock",
    "eventLoopTurns",
  ]);
  const k = new Kernel();
  try {
    const os = kernelCalls(k) as unknown as Record<string, unknown>;
    const missing = Object.entries(mod)
      .filter(([name, v]) => typeof v === "function" && !notCalls.has(name))
      .map(([name]) => name)
      .filter((name) => typeof os[name] !== "function");
    assert.deepEqual(missing, [], "calls of mod.ts missing from kernelCalls()");
    assert.equal(os.kernel, k);
  } finally {
    k.shutdown();
  }
});

Deno.test("the socket backend is chosen per kernel, and a registered third backend serves it", () => {
  const backend = {
    name: "kernel-test-down",
    create: () => -ENETUNREACH, // a network with no way out: every socket() fails
  };
  registerSocketBackend(backend);
  assert.throws(() => registerSocketBackend({ ...backend }), TypeError);
  const k = new Kernel({ name: "isolated" });
  try {
    const before = getSocketBackend();
    assert.equal(k.run(getSocketBackend), before, "a new kernel starts with the default's backend");
    assert.equal(k.run(() => setSocketBackend("kernel-test-down")), 0);
    assert.equal(k.run(getSocketBackend), "kernel-test-down");
    assert.equal(k.run(() => socket(AF_INET, SOCK_STREAM, 0)), -ENETUNREACH);
    assert.equal(getSocketBackend(), before, "the default kernel kept its backend");
    const fd = socket(AF_INET, SOCK_STREAM, 0);
    assert.ok(fd >= 0);
    close(fd);
    assert.throws(() => setSocketBackend("no-such-backend"), TypeError);
  } finally {
    k.shutdown();
  }
});
