// examples/chat_server.ts runs unchanged in a simulated host under ten
// clients and 5 % loss, and gives each client what it gives it over real TCP.
//
// What is invariant. The server numbers clients in accept order and relays a
// line to the clients registered when it reads the line. Neither is fixed by
// the clients: a client whose last handshake ACK is lost believes it is
// connected while the server has not accepted it yet (on Linux as in the
// sim), so a later client may be accepted first and a line relayed meanwhile
// never reaches it. A client knows it is registered only once a relayed line
// reaches it. So the clients follow a script:
// 1. all connect; client 0 says `ping` every 50 ms until every other client
//    has heard one (all ten are then registered);
// 2. each client in turn says 20 lines, heard by all the others before the
//    next one speaks;
// 3. all leave (a FIN each) and read to the server's close.
// Each client's transcript, without the pings and with each `[id]` read as
// the sender it stands for, is then exact: asserted against the expected one
// in the sim and over TCP. The ids themselves must be 1 to 10, one per client,
// the same in every transcript.
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
import { exampleInTheSim, RunningExample } from "./_examples.ts";

const CLIENTS = 10;
const LINES = 20;
const enc = new TextEncoder();

/** One chat client, written against the module-level calls (the sim's host or the process). */
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

  /** Reads what has come; false at the end of the stream. */
  #take(): boolean {
    for (;;) {
      const r = read(this.#fd, this.#buf);
      if (r === -EAGAIN) return true;
      if (r === 0) return false;
      if (r < 0) throw new Error(`read gave ${r}`);
      this.got += this.#dec.decode(this.#buf.subarray(0, r), { stream: true });
    }
  }

  /** Reads until `text` has arrived, or, with `null`, until the server closes. */
  async hears(text: string | null): Promise<void> {
    while (text === null || !this.got.includes(text)) {
      if (!this.#take()) {
        if (text === null) return;
        throw new Error(`the server closed before ${JSON.stringify(text)} came`);
      }
      if (text !== null && this.got.includes(text)) return;
      const n = await epollWait(this.#ep, this.#events, 1, 60_000);
      assert.equal(n, 1, `waiting for ${JSON.stringify(text)}`);
    }
  }

  /** Waits `ms` (the wait's timeout), reading what comes meanwhile. */
  async idle(ms: number): Promise<void> {
    if ((await epollWait(this.#ep, this.#events, 1, ms)) > 0) this.#take();
  }

  /** Leaves (a FIN), reads to the server's close, and closes. */
  async leave(): Promise<string> {
    assert.equal(shutdown(this.#fd, SHUT_WR), 0);
    await this.hears(null);
    close(this.#ep);
    close(this.#fd);
    return this.got;
  }
}

/** A client's program, run step by step by {@linkcode script}, in its own kernel. */
class ChatPeer {
  readonly #steps: {
    run: (c: ChatClient) => Promise<unknown>;
    done: () => void;
    fail: (e: unknown) => void;
  }[] = [];
  #wake: (() => void) | null = null;

  /** Has the program run `run`; settles when it has. */
  do(run: (c: ChatClient) => Promise<unknown>): Promise<void> {
    return new Promise((done, fail) => {
      this.#steps.push({ run, done, fail });
      this.#wake?.();
    });
  }

  /** The program: runs its steps until one returns the transcript (`leave`). */
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

/** What client `i` says in its turn. */
const lines = (i: number) =>
  Array.from({ length: LINES }, (_, j) => `line ${j} from ${i}: ${"x".repeat(j * 7)}\n`).join("");

/** The script (see the top of the file). */
async function script(peers: ChatPeer[], address: string, port: number): Promise<void> {
  await Promise.all(peers.map((p) => p.do((c) => c.connect(address, port))));
  let everyone = false;
  const pinging = peers[0].do(async (c) => {
    while (!everyone) {
      await c.say("ping\n");
      await c.idle(50);
    }
  });
  await Promise.all(peers.slice(1).map((p) => p.do((c) => c.hears("] ping\n"))));
  everyone = true;
  await pinging;
  for (let i = 0; i < peers.length; i++) {
    await peers[i].do((c) => c.say(lines(i)));
    const last = lines(i).split("\n").at(-2)!;
    await Promise.all(peers.filter((_, j) => j !== i).map((p) => p.do((c) => c.hears(last))));
  }
  await Promise.all(peers.map((p) => p.do((c) => c.leave())));
}

/**
 * The transcripts without the pings, each `[id]` replaced by `[client n]`
 * for the sender it stands for; asserts that the ids are 1 to 10, one per
 * client, the same in every transcript.
 */
function normalize(transcripts: string[]): string[] {
  const sender = new Map<string, string>();
  const out = transcripts.map((t) =>
    t.split("\n").slice(0, -1).filter((l) => !/^\[\d+\] ping$/.test(l)).map((l) => {
      const m = /^\[(\d+)\] (line \d+ from (\d+): x*)$/.exec(l);
      assert.ok(m !== null, `unexpected line ${JSON.stringify(l)}`);
      assert.equal(sender.get(m[1]) ?? m[3], m[3], `id ${m[1]} stands for one client`);
      sender.set(m[1], m[3]);
      return `[client ${m[3]}] ${m[2]}\n`;
    }).join("")
  );
  assert.deepEqual([...sender.keys()].map(Number).sort((a, b) => a - b), [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
  ]);
  return out;
}

/** What client `i` hears, normalized. */
function expected(i: number): string {
  let out = "";
  for (let j = 0; j < CLIENTS; j++) {
    if (j !== i) {
      out += lines(j).split("\n").slice(0, -1).map((l) => `[client ${j}] ${l}\n`).join("");
    }
  }
  return out;
}

async function overRealTcp(): Promise<string[]> {
  await using server = await RunningExample.start("chat_server.ts", ["--port", "0"]);
  const peers = Array.from({ length: CLIENTS }, () => new ChatPeer());
  // Promise.all: a failed step fails the script at once (the other clients wait for steps).
  const [, ...transcripts] = await Promise.all<unknown>([
    script(peers, server.host, server.port),
    ...peers.map((p) => p.main()),
  ]);
  return transcripts as string[];
}

/** Each client, and the script's conductor, is a host of its own. */
async function inTheSim(seed: number): Promise<string[]> {
  const transcripts: string[] = new Array(CLIENTS);
  await exampleInTheSim("chat_server.ts", seed, (sim, address) => {
    const peers = Array.from({ length: CLIENTS }, () => new ChatPeer());
    for (let i = 0; i < CLIENTS; i++) {
      sim.client(`client${i}`, async (os) => {
        await os.sleep(10); // the server is listening
        transcripts[i] = await peers[i].main();
      });
    }
    sim.client("conductor", async (os) => {
      await os.sleep(10);
      await script(peers, address, 8080);
    });
  });
  return transcripts;
}

Deno.test("chat_server.ts gives ten scripted clients with 5 % loss in the sim what it gives them over real TCP", () =>
  // Kernel.default.run: see exampleInTheSim.
  Kernel.default.run(async () => {
    const real = normalize(await overRealTcp());
    for (let i = 0; i < CLIENTS; i++) assert.equal(real[i], expected(i), `client ${i} over TCP`);
    for (const seed of [1, 2, 3]) {
      const simulated = normalize(await inTheSim(seed));
      for (let i = 0; i < CLIENTS; i++) {
        assert.equal(simulated[i], real[i], `client ${i} in the sim, seed ${seed}`);
      }
    }
  }));
