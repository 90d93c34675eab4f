// The example servers run unchanged on the simulated network (imported into
// a host, their module-level calls acting on its kernel) under ten clients
// and 5 % loss, and answer exactly what they answer over real TCP. (The chat
// server: sim_chat_example_test.ts.)
import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  connect,
  EAGAIN,
  EINPROGRESS,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  type EpollEvent,
  EPOLLIN,
  EPOLLOUT,
  epollWait,
  getsockopt,
  Kernel,
  read,
  SHUT_WR,
  shutdown,
  SO_ERROR,
  SOCK_STREAM,
  socket,
  SOL_SOCKET,
  write,
} from "../mod.ts";
import { allSettled, exampleInTheSim, RunningExample } from "./_examples.ts";

const CLIENTS = 10;
const enc = new TextEncoder();

/**
 * One client's whole conversation, written against the module-level calls:
 * connect, send `request`, half-close, read to the end. Over real TCP it
 * runs in the process's kernel; inside a simulated host, in the host's.
 */
async function converse(address: string, port: number, request: Uint8Array): Promise<string> {
  const fd = socket(AF_INET, SOCK_STREAM, 0);
  const ep = epollCreate1(0);
  const events: EpollEvent[] = [];
  try {
    assert.equal(connect(fd, { family: AF_INET, address, port }), -EINPROGRESS);
    epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT, data: fd });
    assert.equal(await epollWait(ep, events, 1, 60_000), 1, "connected");
    assert.equal(getsockopt(fd, SOL_SOCKET, SO_ERROR), 0);
    for (let off = 0; off < request.length;) {
      const w = write(fd, request.subarray(off));
      if (w === -EAGAIN) assert.equal(await epollWait(ep, events, 1, 60_000), 1, "writable");
      else if (w < 0) throw new Error(`write gave ${w}`);
      else off += w;
    }
    assert.equal(shutdown(fd, SHUT_WR), 0);
    epollCtl(ep, EPOLL_CTL_MOD, fd, { events: EPOLLIN, data: fd });
    const buf = new Uint8Array(65536);
    const chunks: Uint8Array[] = [];
    for (;;) {
      const r = read(fd, buf);
      if (r === -EAGAIN) {
        assert.equal(await epollWait(ep, events, 1, 60_000), 1, "readable");
        continue;
      }
      if (r < 0) throw new Error(`read gave ${r}`);
      if (r === 0) break;
      chunks.push(buf.slice(0, r));
    }
    return new TextDecoder().decode(concat(chunks));
  } finally {
    close(ep);
    close(fd);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const resp = (...args: string[]) =>
  `*${args.length}\r\n` + args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`).join("");

/** Each server, what client `i` sends it, and how its answer is made comparable. */
const CASES: {
  script: string;
  request: (i: number) => string;
  normalize?: (s: string) => string;
}[] = [
  {
    script: "echo_server.ts",
    request: (i) => Array.from({ length: 400 }, (_, j) => `client ${i} line ${j}\n`).join(""),
  },
  {
    script: "echo_server_et.ts",
    request: (i) => Array.from({ length: 400 }, (_, j) => `client ${i} line ${j}\n`).join(""),
  },
  {
    script: "http_server.ts",
    request: (i) =>
      `GET / HTTP/1.1\r\nHost: sim\r\n\r\n`.repeat(3) +
      `GET /nope-${i} HTTP/1.1\r\nHost: sim\r\n\r\n` +
      `POST / HTTP/1.1\r\nHost: sim\r\nContent-Length: 3\r\n\r\nabc` +
      `HEAD / HTTP/1.1\r\nHost: sim\r\n\r\n`,
    normalize: (s) => s.replace(/^Date: .*$/gm, "Date: <date>"),
  },
  {
    script: "resp_server.ts",
    request: (i) =>
      resp("PING") + resp("SET", `key:${i}`, `value ${i}`) + resp("GET", `key:${i}`) +
      resp("INCR", `n:${i}`) + resp("INCR", `n:${i}`) + resp("GET", `missing:${i}`) +
      resp("DEL", `key:${i}`) + resp("GET", `key:${i}`),
  },
];

/** Runs `script` over real TCP (a subprocess) and returns every client's answer. */
async function overRealTcp(c: typeof CASES[number]): Promise<string[]> {
  await using server = await RunningExample.start(c.script, ["--port", "0"]);
  return await allSettled(
    Array.from(
      { length: CLIENTS },
      (_, i) => converse(server.host, server.port, enc.encode(c.request(i))),
    ),
  );
}

/** Runs `script` in a simulated host under ten clients and 5 % loss; every client's answer. */
async function inTheSim(c: typeof CASES[number], seed: number): Promise<string[]> {
  const answers: string[] = new Array(CLIENTS);
  await exampleInTheSim(c.script, seed, (sim, address) => {
    for (let i = 0; i < CLIENTS; i++) {
      sim.client(`client${i}`, async (os) => {
        await os.sleep(10); // the server is listening
        answers[i] = await converse(address, 8080, enc.encode(c.request(i)));
      });
    }
  });
  return answers;
}

for (const c of CASES) {
  // Kernel.default.run: see exampleInTheSim.
  Deno.test(`${c.script} answers ten clients with 5 % loss in the sim exactly as over real TCP`, () =>
    Kernel.default.run(async () => {
      const norm = c.normalize ?? ((s: string) => s);
      const real = (await overRealTcp(c)).map(norm);
      const simulated = (await inTheSim(c, 1)).map(norm);
      for (let i = 0; i < CLIENTS; i++) assert.equal(simulated[i], real[i], `client ${i}`);
      assert.ok(real[0].length > 0);
    }));
}
