// Differential test against the Linux kernel: generated programs over pipes,
// socketpairs, eventfds and (nested) epolls, and with --tcp TCP connections
// over loopback (the native backend's kernel sockets in the library's table
// and epolls, against libc's sockets in the kernel's epolls), run on this
// library and on the kernel through libc FFI, and every result and event
// list must match. The
// harness is checked both ways: the kernel against itself finds nothing, and
// deliberately broken variants of the library are found and shrunk to code.
//
// Each check runs tests/fuzz.ts in a child process: test files run in
// parallel in one process, and a child that another test spawns holds copies
// of every fd between its fork and its exec (close-on-exec or not), so a pipe
// end closed here could still look open to the kernel for a moment.
//
// Skips (ignored, with the reason in the name) where FFI or Linux is out of
// reach. Long runs: `deno task fuzz --count 50000 --seed 1`.
import assert from "node:assert/strict";
import { openLibc } from "../net/native/libc.ts";
import { BROKEN } from "./_differential/_broken.ts";

const libc = openLibc();
const ignore = typeof libc === "string";
const why = ignore ? ` (skipped: ${libc})` : "";

/** The fixed CI budget: programs of seeds 1..SEQUENCES, 10..100 ops each. */
const SEQUENCES = 2000;

async function fuzz(...args: string[]): Promise<{ code: number; out: string }> {
  const script = new URL("./fuzz.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", script, ...args],
    // Deno's update check opens a TLS root store and DNS sockets on its own
    // schedule, mid-program: the kernel side would find a closed number taken.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, out: decode(stdout) + decode(stderr) };
}

Deno.test({
  name: `differential: the library matches the kernel on ${SEQUENCES} generated programs${why}`,
  ignore,
  fn: async () => {
    const { code, out } = await fuzz("--count", `${SEQUENCES}`, "--seed", "1", "--stop", "1");
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`fuzz: ${SEQUENCES} sequences, \\d+ operations, 0 divergences`));
  },
});

/** The fixed CI budget with TCP (seeds 1..TCP_SEQUENCES): each op also settles the connections. */
const TCP_SEQUENCES = 300;

Deno.test({
  name: `differential: the native backend's TCP sockets match the kernel's on ${TCP_SEQUENCES} ` +
    `generated programs (accept, connect, shutdown, fill, drain, RST)${why}`,
  ignore,
  fn: async () => {
    // A divergence counts when it comes back in 3 reruns: a loaded machine
    // can delay a loopback delivery past a settle (the run lists those seeds).
    const { code, out } = await fuzz(
      "--tcp",
      "--count",
      `${TCP_SEQUENCES}`,
      "--stop",
      "1",
      "--confirm",
      "3",
    );
    assert.equal(code, 0, out);
    assert.match(
      out,
      new RegExp(`fuzz: ${TCP_SEQUENCES} sequences, \\d+ operations, 0 divergences .*with TCP`),
    );
  },
});

/**
 * TCP programs that found bugs of the library's (each fails without its
 * fix): the ready list's order of kernel and in-memory wake-ups, and the
 * wake key of native wake-ups (RDBAND and ERR|HUP-only interests, a shutdown
 * of a reset socket, a FIN on a socket shut both ways).
 */
const TCP_FOUND = [1367, 1395, 1494, 1600, 2481, 2511, 2595, 2900];

Deno.test({
  name: `differential: the TCP programs that once diverged now match the kernel${why}`,
  ignore,
  fn: async () => {
    const { code, out } = await fuzz("--tcp", "--seeds", TCP_FOUND.join(","), "--stop", "1");
    assert.equal(code, 0, out);
    assert.match(out, /fuzz: 8 sequences, \d+ operations, 0 divergences .*with TCP/);
  },
});

Deno.test({
  name:
    `differential: with TCP too, the harness finds no difference between the kernel and itself${why}`,
  ignore,
  fn: async () => {
    const { code, out } = await fuzz(
      "--kernel-vs-kernel",
      "--tcp",
      "--count",
      "200",
      "--stop",
      "1",
    );
    assert.equal(code, 0, out);
    assert.match(
      out,
      /fuzz: 200 sequences, \d+ operations, 0 divergences \(kernel' vs kernel, with TCP/,
    );
  },
});

Deno.test({
  name: `differential: the harness finds no difference between the kernel and itself${why}`,
  ignore,
  fn: async () => {
    const { code, out } = await fuzz("--kernel-vs-kernel", "--count", "500", "--stop", "1");
    assert.equal(code, 0, out);
    assert.match(out, /fuzz: 500 sequences, \d+ operations, 0 divergences \(kernel' vs kernel/);
  },
});

for (const name of Object.keys(BROKEN)) {
  Deno.test({
    name: `differential: the harness finds a deliberately broken library (${name})${why}`,
    ignore,
    fn: async () => {
      const { code, out } = await fuzz("--broken", name, "--count", "300", "--stop", "1");
      assert.equal(code, 1, out);
      assert.match(out, /, 1 divergences \(library\+/);
      // The divergence is shrunk and printed as code, with both results on the last line.
      const program = out.slice(out.indexOf("# divergence"));
      assert.match(program, /shrunk to \d+ ops\nconst h: number\[\] = \[\];/);
      assert.match(program, /\/\/ kernel: .* library\+/);
    },
  });
}
