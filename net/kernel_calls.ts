/**
 * Every call of the library bound to one kernel, as one object: what a
 * simulated host hands its program as `host.os`, and what a test uses to
 * act on a kernel from outside it. Each function runs the module-level call
 * of the same name inside {@linkcode Kernel.run} for that kernel; each
 * class constructs (and its static methods run) in that kernel, and its
 * objects keep acting on it (the object layer binds to the kernel current
 * at construction).
 *
 * Inside the kernel's own `run` (a host's `main`) the bound calls cost what
 * the module-level ones cost; from outside, each call enters the kernel
 * (an `AsyncLocalStorage.run`, under a microsecond).
 *
 * Invariant: the object has a member for every call `mod.ts` exports that
 * acts on a kernel; `tests/kernel_test.ts` checks it against `mod.ts`.
 *
 * @module
 */

import type { Kernel } from "../runtime/core/kernel.ts";
import {
  close,
  dup,
  getDescriptorLimit,
  installDescription,
  read,
  setDescriptorLimit,
  write,
} from "../runtime/core/fd_table.ts";
import {
  epollCreate,
  epollCreate1,
  epollCtl,
  epollPwait2,
  epollWait,
} from "../runtime/epoll/epoll.ts";
import { kevent, kqueue } from "../runtime/kqueue/kevent.ts";
import { timerfdCreate, timerfdGettime, timerfdSettime } from "../runtime/timer/timerfd.ts";
import { pipe } from "../runtime/memory/pipe.ts";
import { eventfd } from "../runtime/memory/eventfd.ts";
import { signalfd } from "../runtime/process/signalfd.ts";
import { openStdio } from "../runtime/process/stdio.ts";
import { Epoll } from "../runtime/objects/epoll.ts";
import { KQueue } from "../runtime/objects/kqueue.ts";
import { socketpair } from "./pair/socketpair.ts";
import { accept, accept4, bind, connect, listen, shutdown, socket } from "./socket_calls.ts";
import { getpeername, getsockname, getsockopt, setsockopt } from "./socket_option_calls.ts";
import { getSocketBackend, setSocketBackend, socketBackendError } from "./socket_backend.ts";
import { recv, recvfrom, recvmmsg, send, sendmmsg, sendto } from "./datagram_calls.ts";
import { datagramBackendError } from "./deno/datagram.ts";
import { DatagramSocket } from "./objects/datagram_socket.ts";
import { Listener } from "./objects/listener.ts";
import { Socket } from "./objects/socket.ts";

/**
 * Every call bound to one kernel ({@linkcode kernelCalls}). Members have the
 * signatures of the module-level calls of the same names.
 *
 * @example
 * ```ts
 * import { Kernel, kernelCalls, type KernelCalls } from "@deno-epoll/epoll";
 * const k = new Kernel();
 * const os: KernelCalls = kernelCalls(k);
 * os.close(os.eventfd(0, 0));
 * k.shutdown();
 * ```
 */
export interface KernelCalls {
  /** The kernel every member acts on. */
  readonly kernel: Kernel;
  /** {@linkcode close} in the kernel. */
  close: typeof close;
  /** {@linkcode dup} in the kernel. */
  dup: typeof dup;
  /** {@linkcode read} in the kernel. */
  read: typeof read;
  /** {@linkcode write} in the kernel. */
  write: typeof write;
  /** {@linkcode getDescriptorLimit} in the kernel. */
  getDescriptorLimit: typeof getDescriptorLimit;
  /** {@linkcode setDescriptorLimit} in the kernel. */
  setDescriptorLimit: typeof setDescriptorLimit;
  /** {@linkcode installDescription} in the kernel. */
  installDescription: typeof installDescription;
  /** {@linkcode epollCreate} in the kernel. */
  epollCreate: typeof epollCreate;
  /** {@linkcode epollCreate1} in the kernel. */
  epollCreate1: typeof epollCreate1;
  /** {@linkcode epollCtl} in the kernel. */
  epollCtl: typeof epollCtl;
  /** {@linkcode epollWait} in the kernel. */
  epollWait: typeof epollWait;
  /** {@linkcode epollPwait2} in the kernel. */
  epollPwait2: typeof epollPwait2;
  /** {@linkcode kqueue} in the kernel. */
  kqueue: typeof kqueue;
  /** {@linkcode kevent} in the kernel. */
  kevent: typeof kevent;
  /** {@linkcode timerfdCreate} in the kernel. */
  timerfdCreate: typeof timerfdCreate;
  /** {@linkcode timerfdSettime} in the kernel. */
  timerfdSettime: typeof timerfdSettime;
  /** {@linkcode timerfdGettime} in the kernel. */
  timerfdGettime: typeof timerfdGettime;
  /** {@linkcode pipe} in the kernel. */
  pipe: typeof pipe;
  /** {@linkcode eventfd} in the kernel. */
  eventfd: typeof eventfd;
  /** {@linkcode signalfd} in the kernel (the signals are the process's). */
  signalfd: typeof signalfd;
  /** {@linkcode openStdio} in the kernel: its fds 0, 1 and 2 become the process's standard streams. */
  openStdio: typeof openStdio;
  /** {@linkcode socketpair} in the kernel. */
  socketpair: typeof socketpair;
  /** {@linkcode socket} in the kernel. */
  socket: typeof socket;
  /** {@linkcode bind} in the kernel. */
  bind: typeof bind;
  /** {@linkcode listen} in the kernel. */
  listen: typeof listen;
  /** {@linkcode accept} in the kernel. */
  accept: typeof accept;
  /** {@linkcode accept4} in the kernel. */
  accept4: typeof accept4;
  /** {@linkcode connect} in the kernel. */
  connect: typeof connect;
  /** {@linkcode shutdown} in the kernel. */
  shutdown: typeof shutdown;
  /** {@linkcode getsockname} in the kernel. */
  getsockname: typeof getsockname;
  /** {@linkcode getpeername} in the kernel. */
  getpeername: typeof getpeername;
  /** {@linkcode getsockopt} in the kernel. */
  getsockopt: typeof getsockopt;
  /** {@linkcode setsockopt} in the kernel. */
  setsockopt: typeof setsockopt;
  /** {@linkcode getSocketBackend} in the kernel. */
  getSocketBackend: typeof getSocketBackend;
  /** {@linkcode setSocketBackend} in the kernel. */
  setSocketBackend: typeof setSocketBackend;
  /** {@linkcode socketBackendError} (the same in every kernel). */
  socketBackendError: typeof socketBackendError;
  /** {@linkcode send} in the kernel. */
  send: typeof send;
  /** {@linkcode sendto} in the kernel. */
  sendto: typeof sendto;
  /** {@linkcode sendmmsg} in the kernel. */
  sendmmsg: typeof sendmmsg;
  /** {@linkcode recv} in the kernel. */
  recv: typeof recv;
  /** {@linkcode recvfrom} in the kernel. */
  recvfrom: typeof recvfrom;
  /** {@linkcode recvmmsg} in the kernel. */
  recvmmsg: typeof recvmmsg;
  /** {@linkcode datagramBackendError} (the same in every kernel). */
  datagramBackendError: typeof datagramBackendError;
  /** {@linkcode Epoll}, constructed in the kernel. */
  Epoll: typeof Epoll;
  /** {@linkcode KQueue}, constructed in the kernel. */
  KQueue: typeof KQueue;
  /** {@linkcode Socket}, constructed (and `Socket.connect` run) in the kernel. */
  Socket: typeof Socket;
  /** {@linkcode Listener}, with `Listener.listen` run in the kernel. */
  Listener: typeof Listener;
  /** {@linkcode DatagramSocket}, constructed (and its static methods run) in the kernel. */
  DatagramSocket: typeof DatagramSocket;
}

/** The calls, by name. */
const CALLS = {
  close,
  dup,
  read,
  write,
  getDescriptorLimit,
  setDescriptorLimit,
  installDescription,
  epollCreate,
  epollCreate1,
  epollCtl,
  epollWait,
  epollPwait2,
  kqueue,
  kevent,
  timerfdCreate,
  timerfdSettime,
  timerfdGettime,
  pipe,
  eventfd,
  signalfd,
  openStdio,
  socketpair,
  socket,
  bind,
  listen,
  accept,
  accept4,
  connect,
  shutdown,
  getsockname,
  getpeername,
  getsockopt,
  setsockopt,
  getSocketBackend,
  setSocketBackend,
  socketBackendError,
  send,
  sendto,
  sendmmsg,
  recv,
  recvfrom,
  recvmmsg,
  datagramBackendError,
};

/** The object layer's classes, by name. */
const CLASSES = { Epoll, KQueue, Socket, Listener, DatagramSocket };

/**
 * A class whose constructor and own static methods run in `k`; instances
 * are the class's own (`instanceof` holds for both).
 */
function bindClass<C extends object>(k: Kernel, cls: C): C {
  return new Proxy(cls, {
    construct: (target, args, newTarget) =>
      k.run(() => Reflect.construct(target as unknown as new () => object, args, newTarget)),
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || !Object.hasOwn(target, prop)) return v;
      return (...args: unknown[]) => k.run(() => v.apply(target, args));
    },
  });
}

/**
 * Every call bound to `kernel`: each member runs the call of the same name
 * in that kernel (see the module docs).
 *
 * @param kernel The kernel.
 * @returns The bound calls.
 *
 * @example Two kernels, two fd 0s
 * ```ts
 * import { Kernel, kernelCalls } from "@deno-epoll/epoll";
 * import assert from "node:assert/strict";
 *
 * const a = kernelCalls(new Kernel({ name: "a" }));
 * const b = kernelCalls(new Kernel({ name: "b" }));
 * assert.equal(a.eventfd(0, 0), 0);
 * assert.equal(b.eventfd(0, 0), 0); // a separate table
 * using ep = new a.Epoll(); // an epoll of kernel a, whoever calls it later
 * ep.add(0, 1);
 * a.kernel.shutdown();
 * b.kernel.shutdown();
 * ```
 */
export function kernelCalls(kernel: Kernel): KernelCalls {
  const out: Record<string, unknown> = { kernel };
  for (const [name, fn] of Object.entries(CALLS)) {
    const call = fn as (...args: unknown[]) => unknown;
    out[name] = (...args: unknown[]) => kernel.run(() => call(...args));
  }
  for (const [name, cls] of Object.entries(CLASSES)) out[name] = bindClass(kernel, cls);
  return out as unknown as KernelCalls;
}
