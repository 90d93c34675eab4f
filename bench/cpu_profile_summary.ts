/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof`) by self time per
 * function, to see how much of a server's time is this library's
 * JavaScript, Deno's ops, or idle.
 *
 * ```sh
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof examples/echo_server_et.ts --port 9000 &
 * bench/echo/loadgen 127.0.0.1 9000 100 64 16 4 1; kill -INT %1
 * deno run -A bench/cpu_profile_summary.ts /tmp/prof/*.cpuprofile
 * ```
 *
 * The examples exit cleanly on SIGINT, so the profile gets written.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const LIBRARY = /\/(runtime|net)\/([a-z_]+\/)*[a-z_]+\.ts$/;
/**
 * The native backend's libc marshalling (`net/native/_libc_ffi.ts`): V8
 * attributes a fast FFI call's time, the system call included, to the
 * JavaScript wrapper that makes it, so these frames are counted apart as
 * "FFI calls (kernel time included)".
 */
const FFI = /\/net\/native\/_libc_ffi\.ts$/;

for (const file of Deno.args) {
  const profile: Profile = JSON.parse(await Deno.readTextFile(file));
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  let library = 0;
  let ffi = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = frames.get(id)!;
    const file = frame.url.split("/").pop() ?? "";
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
    if (FFI.test(frame.url)) ffi += dt;
    else if (LIBRARY.test(frame.url)) library += dt;
    total += dt;
  });
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
  console.log(
    `  this library's JavaScript (runtime/, net/): ${(library / total * 100).toFixed(1)} %`,
  );
  if (ffi > 0) {
    console.log(
      `  FFI calls of the native backend (net/native/_libc_ffi.ts, kernel time included): ${
        (ffi / total * 100).toFixed(1)
      } %`,
    );
  }
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15);
  for (const [name, t] of top) {
    console.log(`  ${(t / total * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
}
