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
 *   microtasks (it does; that is why the driver does not use one).
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:sim
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { close, EPOLLIN, EPOLLOUT, eventfd, read, type SockAddr, write } from "../mod.ts";
import { createSimNetwork, type SimOs } from "../sim.ts";
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

const rows: [string, string][] = [];
const segments = (sim: { trace: { kind: string }[] }) =>
  sim.trace.filter((e) => e.kind === "send").length;

async function bulk(): Promise<void> {
  using sim = createSimNetwork({ seed: 1, link: { latency: 1, bandwidth: 125_000_000 } });
  const server = sim.addHost("server");
  const data = pattern(10_000_000);
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
  const t0 = performance.now();
  const r = await sim.run();
  const s = (performance.now() - t0) / 1000;
  rows.push([
    "bulk 10 MB: segments",
    `${segments(sim)} in ${s.toFixed(2)} s real (${r.now.toFixed(0)} ms virtual)`,
  ]);
  rows.push(["bulk 10 MB: segments/s real", (segments(sim) / s).toFixed(0)]);
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
  const t0 = performance.now();
  await sim.run();
  const s = (performance.now() - t0) / 1000;
  rows.push(["UDP echo, 10 x 1,000: datagrams/s real", (segments(sim) / s).toFixed(0)]);
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
  const t0 = performance.now();
  await sim.run();
  const s = (performance.now() - t0) / 1000;
  rows.push([
    "1,000 connections x 1 KB echo: segments",
    `${segments(sim)} in ${s.toFixed(2)} s real`,
  ]);
  rows.push(["1,000 connections: segments/s real", (segments(sim) / s).toFixed(0)]);
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
  const t0 = performance.now();
  const r = await sim.run();
  const s = (performance.now() - t0) / 1000;
  rows.push([
    "24 virtual h of heartbeats (every 10 s)",
    `${s.toFixed(2)} s real, ${r.steps} events`,
  ]);
}

function pairCost(n: number): number {
  const efd = eventfd(0, 0);
  const one = new Uint8Array(8);
  one[0] = 1;
  const out = new Uint8Array(8);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    write(efd, one);
    read(efd, out);
  }
  const ns = (performance.now() - t0) * 1e6 / n;
  close(efd);
  return ns;
}

/** One process's eventfd pair cost, alone or with a simulated network's kernels alive. */
async function ambient(): Promise<void> {
  const run = async (mode: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--pair", mode],
      stdout: "piped",
    }).output();
    return Number(new TextDecoder().decode(out.stdout).trim());
  };
  const alone: number[] = [], withSim: number[] = [];
  for (let round = 0; round < 3; round++) {
    alone.push(await run("alone"));
    withSim.push(await run("sim"));
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[1];
  rows.push([
    "eventfd write+read, no other kernel (median of 3 processes)",
    `${med(alone).toFixed(0)} ns`,
  ]);
  rows.push([
    "eventfd write+read, sim kernels alive (median of 3)",
    `${med(withSim).toFixed(0)} ns`,
  ]);
}

async function barriers(): Promise<void> {
  const n = 20_000;
  const fresh = () =>
    new Promise<void>((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        port2.close();
        resolve();
      };
      port2.postMessage(null);
    });
  const immediate = () => new Promise<void>((r) => setImmediate(r));
  for (const [name, f] of [["setImmediate", immediate], ["fresh MessageChannel", fresh]] as const) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    rows.push([`barrier: ${name}`, `${((performance.now() - t0) * 1000 / n).toFixed(1)} us`]);
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

const pair = Deno.args.indexOf("--pair");
if (pair >= 0) {
  // A child of ambient(): the default kernel's calls, with or without other kernels alive.
  const sim = Deno.args[pair + 1] === "sim" ? createSimNetwork({ seed: 4 }) : null;
  sim?.addHost("h");
  pairCost(300_000);
  console.log(pairCost(1_000_000).toFixed(1));
  sim?.dispose();
  Deno.exit(0);
}

await bulk();
await thousand();
await udpEcho();
await heartbeats();
await ambient();
await barriers();
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${"measure".padEnd(w)} | result`);
console.log(`${"-".repeat(w)} | ------`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)} | ${v}`);
