/**
 * A preload for `bench/regress.ts --parts js`: replaces `Deno.listen` with
 * an in-memory network and drives echo clients in the same process, so an
 * echo example's JavaScript per message (the library's and the example's,
 * plus what Deno does for promises, timers and loop turns) is measured
 * without the kernel's loopback and without the machine's other load
 * moving the batches.
 *
 * ```sh
 * FAKE_CONNS=100 FAKE_SIZE=1024 FAKE_DEPTH=1 FAKE_MSGS=300000 \
 *   npx -y deno@2.9.6 run -A --preload bench/_fake_net.ts examples/echo_server.ts --port 9999
 * ```
 *
 * Prints one JSON line, `{"cpu_ns_per_msg": ..., "loop_turns": ...}` (the
 * process's user and system CPU over `FAKE_MSGS` echoed messages after
 * `FAKE_WARM` warm-up ones, and how many `setImmediate` callbacks, the
 * library's forced loop turns, were asked for meanwhile), and exits. A
 * connection's read completes at once when bytes are buffered and
 * otherwise when the peer writes (in a microtask, as Deno
 * settles an operation that can complete when it starts); writes complete
 * at once. `unref()`/`ref()` do nothing: what Deno's own operations cost is
 * the loopback benchmark's part.
 *
 * @module
 */

import process from "node:process";

const env = (name: string, dflt: number) => Number(Deno.env.get(name) ?? dflt);
const CONNS = env("FAKE_CONNS", 100);
const SIZE = env("FAKE_SIZE", 1024);
const DEPTH = env("FAKE_DEPTH", 1);
const MSGS = env("FAKE_MSGS", 300_000);
const WARM = env("FAKE_WARM", 100_000);

/** One direction of a connection: buffered chunks and at most one pending read. */
class Pipe {
  #chunks: Uint8Array[] = [];
  #len = 0;
  closed = false;
  #reader: ((n: number | null) => void) | null = null;
  #readerBuf: Uint8Array | null = null;

  put(b: Uint8Array): void {
    const r = this.#reader;
    if (r !== null) {
      const buf = this.#readerBuf!;
      this.#reader = this.#readerBuf = null;
      const n = Math.min(buf.length, b.length);
      buf.set(n === b.length ? b : b.subarray(0, n));
      if (n < b.length) this.#keep(b.slice(n));
      r(n);
      return;
    }
    this.#keep(b.slice());
  }

  #keep(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#len += b.length;
  }

  read(buf: Uint8Array): Promise<number | null> {
    if (this.#len > 0) {
      let n = 0;
      while (n < buf.length && this.#chunks.length > 0) {
        const c = this.#chunks[0];
        const k = Math.min(c.length, buf.length - n);
        buf.set(k === c.length ? c : c.subarray(0, k), n);
        n += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
      this.#len -= n;
      return Promise.resolve(n);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#reader = resolve;
      this.#readerBuf = buf;
    });
  }
}

const ADDR = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

/** The members of `Deno.TcpConn` the examples and the Deno backend use. */
class FakeConn {
  readonly localAddr = ADDR;
  readonly remoteAddr = ADDR;
  constructor(readonly rx: Pipe, readonly tx: Pipe) {}
  read(buf: Uint8Array): Promise<number | null> {
    return this.rx.read(buf);
  }
  write(buf: Uint8Array): Promise<number> {
    this.tx.put(buf);
    return Promise.resolve(buf.length);
  }
  close(): void {
    this.tx.closed = true;
  }
  closeWrite(): Promise<void> {
    this.tx.closed = true;
    return Promise.resolve();
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}
}

/** The members of `Deno.Listener` the examples and the Deno backend use. */
class FakeListener {
  readonly addr: typeof ADDR;
  #queue: FakeConn[] = [];
  #waiter: ((c: FakeConn) => void) | null = null;
  constructor(port: number) {
    this.addr = { ...ADDR, port };
  }
  accept(): Promise<FakeConn> {
    const c = this.#queue.shift();
    if (c !== undefined) return Promise.resolve(c);
    return new Promise((resolve) => this.#waiter = resolve);
  }
  push(c: FakeConn): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (w !== null) w(c);
    else this.#queue.push(c);
  }
  close(): void {}
  ref(): void {}
  unref(): void {}
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

let echoed = 0;
let cpu0 = 0;

/**
 * Forced loop turns (`runtime/core/_loop_turn.ts`: one `setImmediate` each)
 * in the measured window. Each one lets every connection's pending
 * completions land before the next harvest, which changes how the
 * in-process clients' messages group into waits.
 */
let turns = 0;
let turns0 = 0;
const setImmediateOrig = globalThis.setImmediate;
globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
  turns++;
  return setImmediateOrig(fn, ...args);
}) as typeof setImmediate;

/** One client per connection: `DEPTH` messages in flight, each echoed one answered by another. */
function startClients(listener: FakeListener): void {
  const msg = new Uint8Array(SIZE).fill(7);
  for (let i = 0; i < CONNS; i++) {
    const up = new Pipe();
    const down = new Pipe();
    const client = new FakeConn(down, up);
    listener.push(new FakeConn(up, down));
    const buf = new Uint8Array(65536);
    let got = 0;
    const onRead = (n: number | null) => {
      if (n === null) return;
      got += n;
      while (got >= SIZE) {
        got -= SIZE;
        if (++echoed === WARM) {
          cpu0 = cpuSeconds();
          turns0 = turns;
        }
        if (echoed === WARM + MSGS) {
          const cpu_ns_per_msg = (cpuSeconds() - cpu0) / MSGS * 1e9;
          console.log(JSON.stringify({ cpu_ns_per_msg, loop_turns: turns - turns0 }));
          Deno.exit(0);
        }
        client.write(msg);
      }
      client.read(buf).then(onRead);
    };
    for (let d = 0; d < DEPTH; d++) client.write(msg);
    client.read(buf).then(onRead);
  }
}

(Deno as unknown as { listen: (o: { port?: number }) => FakeListener }).listen = (o) => {
  const listener = new FakeListener(o.port ?? 0);
  setTimeout(() => startClients(listener), 50);
  return listener;
};
