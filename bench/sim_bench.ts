/**
 * `deno task bench:sim`: what the simulated network costs in real time.
 *
 * - simulated segments per second of real time: a 10 MB bulk transfer,
 *   and 1,000 connections that each send 1 KB to an echo server;
 * - simulated datagrams per second of real time: ten UDP clients that each
 *   send 1,000 datagrams of 100 bytes to an echo server, one at a time;
 * - 24 virtual hours of heartbeats (one 1-byte ping and its echo every
 *   10 s) between two hosts, in real seconds;
 * - what ambient calls (the current kernel looked up per call) add to the
 *   real backends: an eventfd write+read pair in the process's kernel while
 *   no other kernel exists, against the same while a simulated network's
 *   kernels exist (interleaved rounds);
 * - the driver's barrier: `setImmediate` against a fresh `MessageChannel`,
 *   and whether a kept channel's message arrives before pending
 *   microtasks (it does; that is why the driver does not use one);
 * - a fresh 1-byte `Uint8Array` against a view on a kept buffer (why a
 *   segment's payload is a view into an arena);
 * - the barriers a host's program holds the driver while it loads
 *   (`bench/_sim_loading.ts`).
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:sim
 * ```
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import {
  close,
  currentKernel,
  EPOLLIN,
  EPOLLOUT,
  eventfd,
  Kernel,
  read,
  type SockAddr,
  write,
} from "../mod.ts";
import { createSimNetwork, type SimNetwork, type SimOs } from "../sim.ts";
import {
  inet4,
  pattern,
  simConnect,
  simListen,
  simReadAll,
  simUdp,
  simWait,
  simWriteAll,
} from "../tests/_helpers.ts";
import { loading } from "./_sim_loading.ts";
import { freshChannelTurn } from "./_turns.ts";

const rows: [string, string][] = [];

/** Runs `f`: its value, real seconds and this process's CPU seconds (robust on a shared machine). */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; real: number; cpu: number }> {
  const t0 = performance.now(), c0 = cpuUs();
  const value = await f();
  return { value, real: (performance.now() - t0) / 1000, cpu: (cpuUs() - c0) / 1e6 };
}

function perSecond(n: number, real: number, cpu: number): string {
  return `${(n / real).toFixed(0)} (${(n / cpu).toFixed(0)})`;
}
const segments = (sim: { trace: { kind: string }[] }) =>
  sim.trace.filter((e) => e.kind === "send").length;

/** A server that reads everything one client writes: `data`, then a close. */
function transfer(sim: SimNetwork, data: Uint8Array): void {
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    await simReadAll(os, os.accept(lfd));
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    await simWriteAll(os, fd, data);
    os.close(fd);
  });
}

async function bulk(): Promise<void> {
  using sim = createSimNetwork({ seed: 1, link: { latency: 1, bandwidth: 125_000_000 } });
  transfer(sim, pattern(10_000_000));
  const { value: r, real, cpu } = await timed(() => sim.run());
  const n = segments(sim);
  rows.push([
    "bulk 10 MB: segments",
    `${n} in ${real.toFixed(2)} s real, ${cpu.toFixed(2)} s CPU (${r.now.toFixed(0)} ms virtual)`,
  ]);
  rows.push(["bulk 10 MB: segments/s real (per CPU s)", perSecond(n, real, cpu)]);
}

/** Ten UDP clients, each 1,000 datagrams to an echo host, each waiting for its echo. */
async function udpEcho(): Promise<void> {
  using sim = createSimNetwork({ seed: 5, link: { latency: 1 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const fd = simUdp(os, 7);
    const buf = new Uint8Array(2048), from = {} as SockAddr;
    for (;;) {
      const n = os.recvfrom(fd, buf, 0, from);
      if (n >= 0) os.sendto(fd, buf.subarray(0, n), 0, from);
      else await simWait(os, fd, EPOLLIN);
    }
  });
  for (let c = 0; c < 10; c++) {
    sim.client(`c${c}`, async (os) => {
      const fd = simUdp(os);
      os.connect(fd, inet4(server.addresses[0], 7));
      const buf = new Uint8Array(100);
      for (let i = 0; i < 1000; i++) {
        os.send(fd, buf, 0);
        while (os.recv(fd, buf, 0) < 0) await simWait(os, fd, EPOLLIN);
      }
      os.close(fd);
    });
  }
  const { real, cpu } = await timed(() => sim.run());
  rows.push([
    "UDP echo, 10 x 1,000: datagrams/s real (per CPU s)",
    perSecond(segments(sim), real, cpu),
  ]);
}

async function thousand(): Promise<void> {
  using sim = createSimNetwork({ seed: 2, link: { latency: 5 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80, 4096);
    const conns = new Set<number>();
    const ep = os.epollCreate1(0);
    os.epollCtl(ep, 1, lfd, { events: EPOLLIN, data: lfd });
    const events: { events: number; data: unknown }[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await os.epollWait(ep, events, 256, -1);
      for (let i = 0; i < n; i++) {
        const fd = events[i].data as number;
        if (fd === lfd) {
          for (let c = os.accept(lfd); c >= 0; c = os.accept(lfd)) {
            conns.add(c);
            os.epollCtl(ep, 1, c, { events: EPOLLIN, data: c });
          }
          continue;
        }
        const r = os.read(fd, buf);
        if (r > 0) os.write(fd, buf.subarray(0, r));
        else if (r !== -11) os.close(fd);
      }
    }
  });
  const one = async (os: SimOs) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    await simWriteAll(os, fd, pattern(1024));
    let got = 0;
    const buf = new Uint8Array(2048);
    while (got < 1024) {
      const r = os.read(fd, buf);
      if (r > 0) got += r;
      else await simWait(os, fd, EPOLLIN);
    }
    os.close(fd);
  };
  for (let i = 0; i < 1000; i++) {
    sim.client(`c${i}`, one, { addresses: [`10.1.${i >> 8}.${i & 255}`] });
  }
  const { real, cpu } = await timed(() => sim.run());
  const n = segments(sim);
  rows.push([
    "1,000 connections x 1 KB echo: segments",
    `${n} in ${real.toFixed(2)} s real, ${cpu.toFixed(2)} s CPU`,
  ]);
  rows.push(["1,000 connections: segments/s real (per CPU s)", perSecond(n, real, cpu)]);
}

/** One epoll per side, kept: a wait that harvests `fd` (the way a real server waits). */
async function waitOn(os: SimOs, ep: number): Promise<void> {
  await os.epollWait(ep, [], 1, -1);
}

async function heartbeats(): Promise<void> {
  using sim = createSimNetwork({ seed: 3, link: { latency: 2 } });
  const server = sim.addHost("server");
  sim.spawn(server, async (os) => {
    const lfd = simListen(os, 80);
    await simWait(os, lfd, EPOLLIN);
    const c = os.accept(lfd);
    const ep = os.epollCreate1(0);
    os.epollCtl(ep, 1, c, { events: EPOLLIN, data: c });
    const buf = new Uint8Array(64);
    for (;;) {
      await waitOn(os, ep);
      const r = os.read(c, buf);
      if (r <= 0) break;
      os.write(c, buf.subarray(0, r));
    }
  });
  sim.client("client", async (os) => {
    const fd = simConnect(os, server.addresses[0], 80);
    await simWait(os, fd, EPOLLOUT);
    const ep = os.epollCreate1(0);
    os.epollCtl(ep, 1, fd, { events: EPOLLIN, data: fd });
    const buf = new Uint8Array(4);
    for (let t = 0; t < 24 * 3600; t += 10) {
      await os.sleep(10_000);
      os.write(fd, new Uint8Array([1]));
      await waitOn(os, ep);
      os.read(fd, buf);
    }
  });
  const { value: r, real, cpu } = await timed(() => sim.run());
  rows.push([
    "24 virtual h of heartbeats (every 10 s)",
    `${real.toFixed(2)} s real, ${cpu.toFixed(2)} s CPU, ${r.steps} events`,
  ]);
}

/** CPU ns per eventfd write+read pair in the current kernel (median of 7 batches of `n`). */
function pairCost(n: number): number {
  const efd = eventfd(0, 0);
  const one = new Uint8Array(8);
  one[0] = 1;
  const out = new Uint8Array(8);
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const c0 = cpuUs();
    for (let i = 0; i < n; i++) {
      write(efd, one);
      read(efd, out);
    }
    batches.push((cpuUs() - c0) * 1000 / n);
  }
  close(efd);
  return median(batches);
}

/** CPU ns per `currentKernel()` (the lookup every module-level call makes), median of 7 batches. */
function lookupCost(n: number): number {
  const batches: number[] = [];
  let same = 0;
  for (let b = 0; b < 7; b++) {
    const c0 = cpuUs();
    for (let i = 0; i < n; i++) if (currentKernel() === Kernel.default) same++;
    batches.push((cpuUs() - c0) * 1000 / n);
  }
  if (same !== 7 * n) throw new Error("the process's kernel was not current");
  return median(batches);
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The child modes of {@linkcode ambient}. */
const AMBIENT_MODES = {
  alone: "no kernel but the process's",
  alive: "a simulated network's kernels alive",
  disposed: "after a simulated run, its network disposed",
} as const;

/**
 * What ambient calls add to the real backends: the same eventfd
 * write+read pair in the process's kernel, in child processes that differ
 * only in which other kernels exist, interleaved (the order rotating each
 * round); CPU time, medians, and the ratio to `alone`.
 */
async function ambient(): Promise<void> {
  const modes = Object.keys(AMBIENT_MODES) as (keyof typeof AMBIENT_MODES)[];
  const run = async (mode: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--pair", mode],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  };
  const got = new Map<string, number[]>(modes.map((m) => [m, []]));
  const lookups = new Map<string, number[]>(modes.map((m) => [m, []]));
  const rounds = 7;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < modes.length; i++) {
      const mode = modes[(round + i) % modes.length];
      const [pairNs, lookupNs] = await run(mode);
      got.get(mode)!.push(pairNs);
      lookups.get(mode)!.push(lookupNs);
    }
  }
  const alone = median(got.get("alone")!);
  for (const mode of modes) {
    const m = median(got.get(mode)!);
    const ratio = mode === "alone" ? "" : `, ${(m / alone).toFixed(3)}x alone`;
    rows.push([
      `eventfd write+read, ${AMBIENT_MODES[mode]} (CPU, median of ${rounds} processes)`,
      `${m.toFixed(0)} ns${ratio} (currentKernel(): ${median(lookups.get(mode)!).toFixed(1)} ns)`,
    ]);
  }
}

async function barriers(): Promise<void> {
  const n = 20_000;
  const immediate = () => new Promise<void>((r) => setImmediate(r));
  for (
    const [name, f] of [["setImmediate", immediate], [
      "fresh MessageChannel",
      freshChannelTurn,
    ]] as const
  ) {
    const { real, cpu } = await timed(async () => {
      for (let i = 0; i < n; i++) await f();
    });
    rows.push([
      `barrier: ${name}`,
      `${(real * 1e6 / n).toFixed(1)} us real, ${(cpu * 1e6 / n).toFixed(1)} us CPU`,
    ]);
  }
  // A kept channel: does its message wait for pending microtasks?
  const ch = new MessageChannel();
  let hops = 0, at = -1;
  ch.port1.onmessage = () => (at = hops);
  await new Promise<void>((r) => {
    ch.port1.onmessage = () => r();
    ch.port2.postMessage(null);
  });
  ch.port1.onmessage = () => (at = hops);
  ch.port2.postMessage(null);
  for (let i = 0; i < 100; i++) {
    await null;
    hops++;
  }
  await immediate();
  ch.port1.close();
  ch.port2.close();
  rows.push(["kept MessageChannel: message seen after microtask hop", `${at} of 100`]);
}

/** Why a segment's payload is a view into an arena (`net/sim/_send_buffer.ts`): the two costs. */
async function payloads(): Promise<void> {
  const n = 200_000;
  const arena = new Uint8Array(1 << 16);
  let sum = 0;
  for (
    const [name, make] of [
      ["fresh Uint8Array(1)", (i: number) => new Uint8Array(1 + (i & 0))],
      ["view on a kept buffer", (i: number) => arena.subarray(i & 1023, (i & 1023) + 1)],
    ] as const
  ) {
    const { cpu } = await timed(() => {
      for (let i = 0; i < n; i++) sum += make(i).length;
      return Promise.resolve();
    });
    rows.push([`1-byte payload: ${name}`, `${(cpu * 1e9 / n).toFixed(0)} ns CPU`]);
  }
  if (sum !== 2 * n) throw new Error("lost a payload");
}

const pair = Deno.args.indexOf("--pair");
if (pair >= 0) {
  // A child of ambient(): the process kernel's calls, with or without other kernels.
  const mode = Deno.args[pair + 1];
  const sim = mode === "alone" ? null : createSimNetwork({ seed: 4 });
  if (sim !== null) {
    transfer(sim, pattern(10_000));
    await sim.run();
    if (mode === "disposed") sim.dispose();
  }
  pairCost(100_000);
  lookupCost(1_000_000);
  console.log(`${pairCost(300_000).toFixed(1)} ${lookupCost(3_000_000).toFixed(2)}`);
  sim?.dispose();
  Deno.exit(0);
}

const parts = {
  bulk,
  thousand,
  udpEcho,
  heartbeats,
  ambient,
  barriers,
  payloads,
  loading: () => loading(rows),
};
const only = Deno.args.filter((a) => a in parts) as (keyof typeof parts)[];
for (const name of only.length > 0 ? only : (Object.keys(parts) as (keyof typeof parts)[])) {
  await parts[name]();
}
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${"measure".padEnd(w)} | result`);
console.log(`${"-".repeat(w)} | ------`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)} | ${v}`);
