/**
 * Outgoing connect burst on the native backend: one fresh process opens
 * `--conns` native TCP connections at once (`socket` + non-blocking
 * `connect` each, no listen in this process) to a Deno listener in a child
 * process, and reports how long making the sockets took (where the kernel
 * fd table grows), how long until every connect was issued and until every
 * connection was writable, all from the start, and the kernel fd table's
 * size (`FDSize`) before and after.
 *
 *     npx -y deno@2.9.6 run -A bench/native_connect_burst.ts [--conns 5000] [--rounds 5]
 *                                                            [--base /path/to/other/tree]
 *
 * With `--base`, every round runs the same burst twice, interleaved: once
 * with this tree's `mod.ts` and once with the other tree's (e.g.
 * `git archive main | tar -x -C /tmp/base`), and prints both. Needs FFI;
 * exits 0 with a message when the native backend is unavailable.
 *
 * @module
 */

const args = Deno.args;
function option(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

/** The burst itself, run in a fresh child process against `mod.ts` at `root`. */
const BURST = `
const [root, port, conns] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
const m = await import(root + "/mod.ts");
if (m.setSocketBackend("native") !== 0) { console.log(JSON.stringify({ skip: m.socketBackendError() })); Deno.exit(0); }
const size = () => Number(/FDSize:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
const before = size();
const fds = [];
const t0 = performance.now();
for (let i = 0; i < conns; i++) {
  const fd = m.socket(m.AF_INET, m.SOCK_STREAM, 0);
  if (fd < 0) throw new Error("socket: " + fd);
  fds.push(fd);
}
const created = performance.now() - t0;
for (const fd of fds) {
  const r = m.connect(fd, { family: m.AF_INET, address: "127.0.0.1", port });
  if (r !== -m.EINPROGRESS && r !== 0) throw new Error("connect: " + r);
}
const opened = performance.now() - t0;
const ep = m.epollCreate1(0);
for (const fd of fds) m.epollCtl(ep, m.EPOLL_CTL_ADD, fd, { events: m.EPOLLOUT | m.EPOLLONESHOT, data: fd });
const out = [];
for (let left = conns; left > 0;) {
  const n = await m.epollWait(ep, out, 1024, 10000);
  if (n <= 0) throw new Error("epollWait: " + n);
  left -= n;
}
const writable = performance.now() - t0;
const after = size();
for (const fd of fds) m.close(fd);
m.close(ep);
console.log(JSON.stringify({ created, opened, writable, before, after }));
`;

const LISTENER = `
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(l.addr.port);
const held = [];
for await (const c of l) held.push(c);
`;

const conns = Number(option("conns", "5000"));
const rounds = Number(option("rounds", "5"));
const base = option("base", "");
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A Deno listener in a child process holding every connection; its port. */
async function startListener(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", LISTENER],
    stdout: "piped",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return {
    port: Number(new TextDecoder().decode(value).trim()),
    async stop() {
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * One burst against a fresh listener (a fresh port, so the previous burst's
 * TIME_WAIT sockets never slow the choice of a local port).
 */
async function burst(root: string): Promise<Record<string, number | string>> {
  const listener = await startListener();
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", BURST, root, String(listener.port), String(conns)],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stdout).trim();
    if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
    return JSON.parse(text);
  } finally {
    await listener.stop();
  }
}

{
  const trees = base ? [["this", here], ["base", base]] : [["this", here]];
  console.log(`${conns} native connects per burst, ${rounds} rounds (times in ms)`);
  for (let r = 1; r <= rounds; r++) {
    for (const [name, root] of trees) {
      const res = await burst(root);
      if ("skip" in res) {
        console.log(`skipped: ${res.skip}`);
        Deno.exit(0);
      }
      const f = (x: unknown) => (x as number).toFixed(1);
      console.log(
        `round ${r} ${name}: sockets made ${f(res.created)} connects issued ${f(res.opened)} ` +
          `all writable ${f(res.writable)} ` +
          `FDSize ${res.before} -> ${res.after}`,
      );
    }
  }
}
