// The example servers run unchanged on the simulated network (imported into
// a host, their module-level calls acting on its kernel) under ten clients
// and 5 % loss, and answer exactly what they answer over real TCP.
//
// The chat server's output depends on the order things happen in (ids are
// given in accept order; a line reaches the clients connected when it is
// read), so its clients follow a script that fixes that order on any
// network: they join one at a time, each join acknowledged by every earlier
// client seeing the newcomer's hello; then each in turn says some lines,
// seen by all the others before the next speaks; then all leave. What each
// client received is then one exact transcript, in the sim and over TCP.
import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  connect,
  currentKernel,
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
import { createSimNetwork, type SimNetwork } from "../sim.ts";
import { allSettled, RunningExample } from "./_examples.ts";

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

/** One chat client, written against the module-level calls like `converse`. */
class ChatClient {
  #fd = -1;
  #ep = -1;
  readonly #events: EpollEvent[] = [];
  readonly #buf = new Uint8Array(65536);
  readonly #dec = new TextDecoder();
  /** Everything received so far. */
  got = "";

  async connect(address: string, port: number): Promise<void> {
    this.#fd = socket(AF_INET, SOCK_STREAM, 0);
    this.#ep = epollCreate1(0);
    assert.equal(connect(this.#fd, { family: AF_INET, address, port }), -EINPROGRESS);
    epollCtl(this.#ep, EPOLL_CTL_ADD, this.#fd, { events: EPOLLOUT, data: 0 });
    assert.equal(await epollWait(this.#ep, this.#events, 1, 60_000), 1, "connected");
    assert.equal(getsockopt(this.#fd, SOL_SOCKET, SO_ERROR), 0);
    epollCtl(this.#ep, EPOLL_CTL_MOD, this.#fd, { events: EPOLLIN, data: 0 });
  }

  async say(text: string): Promise<void> {
    const bytes = enc.encode(text);
    for (let off = 0; off < bytes.length;) {
      const w = write(this.#fd, bytes.subarray(off));
      if (w >= 0) off += w;
      else if (w !== -EAGAIN) throw new Error(`write gave ${w}`);
      else {
        epollCtl(this.#ep, EPOLL_CTL_MOD, this.#fd, { events: EPOLLOUT, data: 0 });
        assert.equal(await epollWait(this.#ep, this.#events, 1, 60_000), 1, "writable");
        epollCtl(this.#ep, EPOLL_CTL_MOD, this.#fd, { events: EPOLLIN, data: 0 });
      }
    }
  }

  /** Reads until `text` has arrived (or, with `null`, until the server closes). */
  async sees(text: string | null): Promise<void> {
    while (text === null || !this.got.includes(text)) {
      const r = read(this.#fd, this.#buf);
      if (r === 0 && text === null) return;
      if (r === -EAGAIN) {
        assert.equal(await epollWait(this.#ep, this.#events, 1, 60_000), 1, `waiting for ${text}`);
      } else if (r <= 0) throw new Error(`read gave ${r} waiting for ${JSON.stringify(text)}`);
      else this.got += this.#dec.decode(this.#buf.subarray(0, r), { stream: true });
    }
  }

  /** Leaves (a FIN), reads to the server's close, and closes. */
  async leave(): Promise<string> {
    assert.equal(shutdown(this.#fd, SHUT_WR), 0);
    await this.sees(null);
    close(this.#ep);
    close(this.#fd);
    return this.got;
  }
}

/** A chat client's program, driven step by step by {@linkcode chatScript}. */
class ChatPeer {
  readonly #steps: {
    run: (c: ChatClient) => Promise<unknown>;
    done: () => void;
    fail: (e: unknown) => void;
  }[] = [];
  #wake: (() => void) | null = null;

  /** Has the program run `run`; settles when it did. */
  do(run: (c: ChatClient) => Promise<unknown>): Promise<void> {
    return new Promise((done, fail) => {
      this.#steps.push({ run, done, fail });
      this.#wake?.();
    });
  }

  /** The client's program: runs the steps it is given, in its own kernel; returns what it received. */
  async main(): Promise<string> {
    const c = new ChatClient();
    for (;;) {
      while (this.#steps.length === 0) await new Promise<void>((r) => (this.#wake = r));
      const step = this.#steps.shift()!;
      let left: unknown;
      try {
        left = await step.run(c);
      } catch (e) {
        step.fail(e); // the script stops too
        throw e;
      }
      step.done();
      if (typeof left === "string") return left;
    }
  }
}

const CHAT_LINES = 20;
const chatLines = (i: number) =>
  Array.from({ length: CHAT_LINES }, (_, j) => `line ${j} from ${i}: ${"x".repeat(j * 7)}\n`)
    .join("");

/**
 * The script: clients join one at a time, each hello seen by every earlier
 * client; then each says its lines, seen by every other; then all leave.
 */
async function chatScript(peers: ChatPeer[], address: string, port: number): Promise<void> {
  const hello = (i: number) => `hello from ${i}\n`;
  const heard = (i: number, text: string) =>
    text.split("\n").slice(0, -1).map((l) => `[${i + 1}] ${l}\n`).join("");
  for (let i = 0; i < peers.length; i++) {
    await peers[i].do((c) => c.connect(address, port));
    if (i === 0) continue; // nobody to hear client 0's hello
    await peers[i].do((c) => c.say(hello(i)));
    await Promise.all(peers.slice(0, i).map((p) => p.do((c) => c.sees(heard(i, hello(i))))));
  }
  for (let i = 0; i < peers.length; i++) {
    await peers[i].do((c) => c.say(chatLines(i)));
    const others = peers.filter((_, j) => j !== i);
    await Promise.all(others.map((p) => p.do((c) => c.sees(heard(i, chatLines(i))))));
  }
  await Promise.all(peers.map((p) => p.do((c) => c.leave())));
}

/** What client `i` of {@linkcode chatScript} receives, exactly. */
function chatTranscript(i: number, n: number): string {
  let out = "";
  for (let j = i + 1; j < n; j++) out += `[${j + 1}] hello from ${j}\n`;
  for (let j = 0; j < n; j++) {
    if (j !== i) {
      out += chatLines(j).split("\n").slice(0, -1).map((l) => `[${j + 1}] ${l}\n`).join("");
    }
  }
  return out;
}

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

/** Per-host `Deno.args`, so that an example imported into a host reads its own. */
function hostArgs(): { set(k: Kernel, args: string[]): void; [Symbol.dispose](): void } {
  const byKernel = new Map<Kernel, string[]>();
  const saved = Object.getOwnPropertyDescriptor(Deno, "args")!;
  const real = Deno.args;
  Object.defineProperty(Deno, "args", {
    get: () => byKernel.get(currentKernel()) ?? real,
    configurable: true,
  });
  return {
    set: (k, args) => byKernel.set(k, args),
    [Symbol.dispose]: () => Object.defineProperty(Deno, "args", saved),
  };
}

let imports = 0;

/**
 * Runs `script` in a simulated host under 5 % loss, with the clients that
 * `addClients` adds (they find the server at `address`, port 8080).
 */
async function serverInTheSim(
  script: string,
  seed: number,
  addClients: (sim: SimNetwork, address: string) => void,
): Promise<void> {
  using args = hostArgs();
  using sim = createSimNetwork({ seed, link: { latency: 5, loss: 0.05 } });
  sim.installGlobals();
  const server = sim.addHost("server");
  args.set(server.kernel, ["--host", "0.0.0.0", "--port", "8080"]);
  // The example, unchanged: a fresh module instance, evaluated inside the host's kernel.
  const url = new URL(`../examples/${script}?sim=${imports++}`, import.meta.url).href;
  sim.spawn(server, () => import(url).then(() => {}));
  addClients(sim, server.addresses[0]);
  const quiet = console.log;
  console.log = () => {}; // the server's "listening on" line
  try {
    await sim.run({ maxSteps: 2_000_000 });
  } finally {
    console.log = quiet;
  }
  assert.ok(sim.trace.some((e) => e.kind === "drop" && e.text.startsWith("loss")), "loss happened");
}

/** Runs `script` in a simulated host under ten clients and 5 % loss; every client's answer. */
async function inTheSim(c: typeof CASES[number], seed: number): Promise<string[]> {
  const answers: string[] = new Array(CLIENTS);
  await serverInTheSim(c.script, seed, (sim, address) => {
    for (let i = 0; i < CLIENTS; i++) {
      sim.client(`client${i}`, async (os) => {
        await os.sleep(10); // the server is listening
        answers[i] = await converse(address, 8080, enc.encode(c.request(i)));
      });
    }
  });
  return answers;
}

/** The chat script in the sim: each client, and the script's conductor, a host of its own. */
async function chatInTheSim(seed: number): Promise<string[]> {
  const answers: string[] = new Array(CLIENTS);
  await serverInTheSim("chat_server.ts", seed, (sim, address) => {
    const peers = Array.from({ length: CLIENTS }, () => new ChatPeer());
    for (let i = 0; i < CLIENTS; i++) {
      sim.client(`client${i}`, async (os) => {
        await os.sleep(10); // the server is listening
        answers[i] = await peers[i].main();
      });
    }
    sim.client("conductor", async (os) => {
      await os.sleep(10);
      await chatScript(peers, address, 8080);
    });
  });
  return answers;
}

/** The chat script over real TCP, against the example in a subprocess. */
async function chatOverRealTcp(): Promise<string[]> {
  await using server = await RunningExample.start("chat_server.ts", ["--port", "0"]);
  const peers = Array.from({ length: CLIENTS }, () => new ChatPeer());
  // Promise.all: a failed step fails the script at once (the other clients wait for steps).
  const [, ...answers] = await Promise.all<unknown>([
    chatScript(peers, server.host, server.port),
    ...peers.map((p) => p.main()),
  ]);
  return answers as string[];
}

for (const c of CASES) {
  // Kernel.default.run: once a module imported inside a host settles its top-level await, Deno
  // runs later tests in that host's async context (a Deno bug; the import's context sticks).
  Deno.test(`${c.script} answers ten clients with 5 % loss in the sim exactly as over real TCP`, () =>
    Kernel.default.run(async () => {
      const norm = c.normalize ?? ((s: string) => s);
      const real = (await overRealTcp(c)).map(norm);
      const simulated = (await inTheSim(c, 1)).map(norm);
      for (let i = 0; i < CLIENTS; i++) assert.equal(simulated[i], real[i], `client ${i}`);
      assert.ok(real[0].length > 0);
    }));
}

Deno.test("chat_server.ts gives ten scripted clients with 5 % loss in the sim exactly what it gives them over real TCP", () =>
  Kernel.default.run(async () => {
    const real = await chatOverRealTcp();
    const simulated = await chatInTheSim(1);
    for (let i = 0; i < CLIENTS; i++) {
      assert.equal(real[i], chatTranscript(i, CLIENTS), `client ${i} over TCP`);
      assert.equal(simulated[i], real[i], `client ${i} in the sim`);
    }
  }));
