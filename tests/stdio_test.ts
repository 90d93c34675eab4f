/**
 * openStdio: descriptors 0, 1 and 2 over the standard streams of a child
 * process whose stdin is a pipe from the test: readiness as a pipe end
 * (LT and ET), EOF with EPOLLHUP, output backpressure, a reader gone, the
 * exit while the background read is pending, and -EBUSY.
 */

import assert from "node:assert/strict";
import { ScriptChild } from "./_helpers.ts";

const enc = new TextEncoder();

/** Echoes fd 0 to fd 1 in upper case, reporting each wake-up's events on fd 2, until EOF. */
const UPPER = `
import * as ep from "$MOD";
if (ep.openStdio() !== 0) throw new Error("openStdio failed");
const et = Deno.args[0] === "et";
const epfd = ep.epollCreate1(0);
ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, 0, { events: ep.EPOLLIN | (et ? ep.EPOLLET : 0), data: 0 });
const events: ep.EpollEvent[] = [];
const buf = new Uint8Array(4);
const say = (s: string) => ep.write(2, new TextEncoder().encode(s + "\\n"));
for (;;) {
  await ep.epollWait(epfd, events, 1, -1);
  say("events " + events[0].events);
  // Level-triggered reads one small piece per wake-up; edge-triggered drains to EAGAIN.
  let n: number;
  do {
    n = ep.read(0, buf);
    if (n > 0) ep.write(1, new TextEncoder().encode(new TextDecoder().decode(buf.subarray(0, n)).toUpperCase()));
  } while (et && n > 0);
  if (n === 0) break;
}
say("eof " + ep.read(0, buf));
ep.close(epfd);
`;

async function stdinThroughPipe(mode: "lt" | "et"): Promise<string[]> {
  await using child = new ScriptChild(UPPER, { stdin: "piped", args: [mode] });
  const stdin = child.child.stdin.getWriter();
  await stdin.write(enc.encode("hello\n"));
  assert.equal(await child.line(), "HELLO");
  await stdin.write(enc.encode("world, again\n"));
  assert.equal(await child.line(), "WORLD, AGAIN");
  await stdin.close();
  const status = await child.status();
  assert.equal(status.code, 0, child.stderr);
  return child.stderr.trim().split("\n");
}

Deno.test("stdin through a pipe: fd 0 is readable level-triggered while bytes are buffered, then EPOLLHUP and read 0 at EOF", async () => {
  const lines = await stdinThroughPipe("lt");
  assert.equal(lines.at(-1), "eof 0");
  // Each 4-byte read left more behind: level-triggered reported EPOLLIN again (1), and the end as EPOLLHUP (16).
  assert.ok(lines.filter((l) => l === "events 1").length >= 5, lines.join("|"));
  assert.ok(lines.includes("events 16") || lines.includes("events 17"), lines.join("|"));
});

Deno.test("stdin through a pipe, edge-triggered: a reader that drains to EAGAIN is woken once per arrival and at EOF", async () => {
  const lines = await stdinThroughPipe("et");
  assert.equal(lines.at(-1), "eof 0");
  const wakeups = lines.filter((l) => l.startsWith("events"));
  assert.ok(wakeups.length >= 3 && wakeups.length <= 4, lines.join("|")); // 2 arrivals (maybe 3 pieces) + EOF
  assert.match(wakeups.at(-1)!, /^events (16|17)$/);
});

Deno.test("stdout: a write takes what fits in 64 KiB, then -EAGAIN; EPOLLOUT returns as the reader drains; nothing is lost", async () => {
  await using child = new ScriptChild(`
    import * as ep from "$MOD";
    ep.openStdio();
    const line = new TextEncoder().encode("x".repeat(999) + "\\n");
    let accepted = 0, n: number;
    while ((n = ep.write(1, line)) > 0) accepted += n;
    const say = (s: string) => ep.write(2, new TextEncoder().encode(s + "\\n"));
    say("full after " + accepted + " with " + n);
    const epfd = ep.epollCreate1(0);
    ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, 1, { events: ep.EPOLLOUT | ep.EPOLLET, data: 1 });
    const events: ep.EpollEvent[] = [];
    let lines = accepted / 1000;
    while (lines < 300) {
      await ep.epollWait(epfd, events, 1, -1);
      while (lines < 300 && ep.write(1, line) === 1000) lines++;
    }
    say("wrote " + lines);
    ep.close(epfd);
  `);
  let got = 0;
  for (let i = 0; i < 300; i++) {
    assert.equal((await child.line()).length, 999);
    got++;
  }
  assert.equal((await child.status()).code, 0, child.stderr);
  assert.deepEqual(child.stderr.trim().split("\n"), ["full after 65000 with -11", "wrote 300"]);
  assert.equal(got, 300);
});

Deno.test("stdout whose reader is gone reports EPOLLERR and -EPIPE", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--ext=ts",
      `
      import * as ep from "${new URL("../mod.ts", import.meta.url).href}";
      ep.openStdio();
      const epfd = ep.epollCreate1(0);
      ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, 1, { events: ep.EPOLLOUT, data: 1 });
      const events: ep.EpollEvent[] = [];
      const chunk = new Uint8Array(4096);
      for (;;) {
        await ep.epollWait(epfd, events, 1, -1);
        if (events[0].events & ep.EPOLLERR) break;
        ep.write(1, chunk);
      }
      console.error("err", events[0].events & ep.EPOLLERR, ep.write(1, chunk));
      `,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // the child is writing
  await reader.cancel(); // and its reader is gone
  const stderr = await new Response(child.stderr).text();
  const { code } = await child.status;
  assert.equal(code, 0);
  assert.equal(stderr.trim(), "err 8 -32");
});

Deno.test("a program that read fd 0 and does not wait exits though its input never ends; with 0 taken openStdio is -EBUSY", async () => {
  await using child = new ScriptChild(
    `
    import * as ep from "$MOD";
    const fds: number[] = [];
    ep.pipe(fds);
    console.log("busy", ep.openStdio());
    ep.close(fds[0]);
    ep.close(fds[1]);
    console.log("open", ep.openStdio());
    console.log("read", ep.read(0, new Uint8Array(8))); // starts the background read
    ep.write(2, new TextEncoder().encode("on stderr\\n"));
  `,
    { stdin: "piped" },
  );
  assert.equal(await child.line(), "busy -16");
  assert.equal(await child.line(), "open 0");
  assert.equal(await child.line(), "read -11");
  assert.equal((await child.status()).code, 0, "exited with its stdin still open");
  assert.equal(child.stderr, "on stderr\n");
});
