// The datagram example servers (udp_echo_server.ts, dns_server.ts) run
// unchanged on the simulated network (imported into a host, their
// module-level calls acting on its kernel) under ten clients and 5 % loss,
// and answer exactly what they answer over real UDP. The clients retry as a
// real resolver does: a query unanswered within a second is sent again.
import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  connect,
  EAGAIN,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  epollWait,
  Kernel,
  recv,
  send,
  SOCK_DGRAM,
  socket,
} from "../mod.ts";
import type { SimNetwork } from "../sim.ts";
import { allSettled, exampleInTheSim, RunningExample } from "./_examples.ts";
import { query } from "./_dns.ts";
import { TYPE } from "../examples/_dns_wire.ts";

const CLIENTS = 10;
const TRIES = 10;
const WAIT_MS = 1000;

/**
 * One client's conversation, written against the module-level calls (so it
 * runs in the process's kernel over real UDP, and in a host's in the sim):
 * each request in turn on a connected socket, sent again until a reply that
 * `match`es comes, up to {@linkcode TRIES} times. A lost request, a lost
 * reply, a stale duplicate and an ICMP `ECONNREFUSED` (the server not bound
 * yet) all end in a retry. The replies, as hex.
 */
async function ask(
  address: string,
  port: number,
  requests: Uint8Array[],
  match: (request: Uint8Array, reply: Uint8Array) => boolean,
): Promise<string[]> {
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  const ep = epollCreate1(0);
  const events: EpollEvent[] = [];
  const buf = new Uint8Array(2048);
  const replies: string[] = [];
  try {
    assert.equal(connect(fd, { family: AF_INET, address, port }), 0);
    epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd });
    next: for (const request of requests) {
      for (let t = 0; t < TRIES; t++) {
        assert.equal(send(fd, request, 0), request.length);
        for (;;) {
          const r = recv(fd, buf, 0);
          if (r === -EAGAIN) {
            if ((await epollWait(ep, events, 1, WAIT_MS)) === 0) break; // retry
            continue;
          }
          if (r < 0) break; // ECONNREFUSED: nobody there yet; retry
          const reply = buf.slice(0, r);
          if (!match(request, reply)) continue; // a stale or duplicated answer
          replies.push([...reply].map((b) => b.toString(16).padStart(2, "0")).join(""));
          continue next;
        }
      }
      throw new Error(`no reply after ${TRIES} tries`);
    }
    return replies;
  } finally {
    close(ep);
    close(fd);
  }
}

const enc = new TextEncoder();
const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Each server, what client `i` sends it, and which reply answers which request. */
const CASES: {
  script: string;
  requests: (i: number) => Uint8Array[];
  match: (request: Uint8Array, reply: Uint8Array) => boolean;
}[] = [
  {
    script: "udp_echo_server.ts",
    requests: (i) => [
      ...Array.from({ length: 20 }, (_, j) => enc.encode(`client ${i} datagram ${j}`)),
      new Uint8Array(0), // an empty datagram comes back empty
      new Uint8Array(1400).fill(i),
    ],
    match: equal,
  },
  {
    script: "dns_server.ts",
    requests: (i) => [
      query("www.example.test", { id: i * 16 + 1, qtype: TYPE.A }),
      query("www.example.test", { id: i * 16 + 2, qtype: TYPE.AAAA }),
      query("alias.example.test", { id: i * 16 + 3, qtype: TYPE.A }),
      query("info.example.test", { id: i * 16 + 4, qtype: TYPE.TXT }),
      query(`nope-${i}.example.test`, { id: i * 16 + 5 }), // NXDOMAIN
      query("example.org", { id: i * 16 + 6 }), // REFUSED
      query("example.test", { id: i * 16 + 7, qtype: TYPE.SOA, edns: 1232 }),
    ],
    match: (q, r) => r.length >= 2 && r[0] === q[0] && r[1] === q[1], // the ID
  },
];

/** Runs `script` as a subprocess over real UDP and returns every client's replies. */
async function overRealUdp(c: typeof CASES[number]): Promise<string[][]> {
  await using server = await RunningExample.start(c.script, ["--port", "0"], ["-A"]);
  return await allSettled(
    Array.from(
      { length: CLIENTS },
      (_, i) => ask(server.host, server.port, c.requests(i), c.match),
    ),
  );
}

/** Runs `script` in a simulated host under ten clients and 5 % loss; every client's replies. */
async function inTheSim(c: typeof CASES[number], seed: number): Promise<string[][]> {
  const answers: string[][] = new Array(CLIENTS);
  let net: SimNetwork | undefined;
  await exampleInTheSim(c.script, seed, (sim, address) => {
    net = sim;
    for (let i = 0; i < CLIENTS; i++) {
      sim.client(`client${i}`, async () => {
        answers[i] = await ask(address, 8080, c.requests(i), c.match);
      });
    }
  });
  const sent = net!.trace.filter((e) => e.kind === "send" && e.host.startsWith("client")).length;
  assert.ok(sent > CLIENTS * c.requests(0).length, "clients retried");
  return answers;
}

for (const c of CASES) {
  // Kernel.default.run: as in sim_examples_test.ts (an import's async context sticks).
  Deno.test(`${c.script} answers ten clients with 5 % loss in the sim exactly as over real UDP`, () =>
    Kernel.default.run(async () => {
      const real = await overRealUdp(c);
      const simulated = await inTheSim(c, 1);
      for (let i = 0; i < CLIENTS; i++) assert.deepEqual(simulated[i], real[i], `client ${i}`);
      assert.equal(real[0].length, c.requests(0).length);
    }));
}
