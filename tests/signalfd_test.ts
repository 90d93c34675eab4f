/**
 * signalfd over Deno's signal listeners: records, coalescing, LT/ET
 * readiness, errors, and (in child processes) the default action replaced
 * while a signalfd is open and restored by the last close.
 *
 * In-process tests signal the test process itself with signals the
 * signalfd already holds (so the default action never runs here), and only
 * SIGUSR1 and SIGUSR2: test files run side by side in one process, and a
 * signal reaches every listener in it.
 */

import assert from "node:assert/strict";
import {
  close,
  EAGAIN,
  EBADF,
  EINVAL,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLET,
  EPOLLIN,
  epollWait,
  pipe,
  read,
  SFD_CLOEXEC,
  SFD_NONBLOCK,
  SIGHUP,
  SIGINT,
  signalfd,
  SIGNALFD_SIGINFO_SIZE,
  SIGQUIT,
  SIGTERM,
  SIGUSR1,
  SIGUSR2,
  SIGWINCH,
  write,
} from "../mod.ts";
import { raiseSignal as raise, readiness, ScriptChild } from "./_helpers.ts";

/** The `ssi_signo` of each record in `buf[0, n)`. */
function signos(buf: Uint8Array, n: number): number[] {
  const view = new DataView(buf.buffer, buf.byteOffset);
  const out: number[] = [];
  for (let off = 0; off < n; off += SIGNALFD_SIGINFO_SIZE) out.push(view.getUint32(off, true));
  return out;
}

Deno.test("signal numbers and flags carry their Linux x86-64 values", () => {
  assert.deepEqual(
    [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH],
    [1, 2, 3, 10, 12, 15, 28],
  );
  assert.deepEqual([SFD_NONBLOCK, SFD_CLOEXEC, SIGNALFD_SIGINFO_SIZE], [0o4000, 0o2000000, 128]);
});

Deno.test("a signal sent to the process makes the signalfd readable; read returns one record with ssi_signo and zeroes", async () => {
  const sfd = signalfd(-1, [SIGUSR1], SFD_NONBLOCK | SFD_CLOEXEC);
  try {
    assert.ok(sfd >= 0);
    assert.equal(await readiness(sfd), 0);
    await raise(SIGUSR1);
    assert.equal(await readiness(sfd), EPOLLIN);
    const buf = new Uint8Array(SIGNALFD_SIGINFO_SIZE).fill(0xff);
    assert.equal(read(sfd, buf), 128);
    assert.deepEqual(signos(buf, 128), [SIGUSR1]);
    assert.ok(
      buf.subarray(4).every((b) => b === 0),
      "ssi_pid and the rest are 0: Deno does not tell",
    );
    assert.equal(await readiness(sfd), 0);
    assert.equal(read(sfd, buf), -EAGAIN);
  } finally {
    close(sfd);
  }
});

Deno.test("two arrivals before a read coalesce into one record, as Linux keeps one pending instance per signal", async () => {
  const sfd = signalfd(-1, [SIGUSR1], 0);
  try {
    await raise(SIGUSR1);
    await raise(SIGUSR1);
    const buf = new Uint8Array(4 * SIGNALFD_SIGINFO_SIZE);
    assert.equal(read(sfd, buf), 128);
    assert.equal(read(sfd, buf), -EAGAIN);
    await raise(SIGUSR1);
    assert.equal(read(sfd, buf), 128, "a signal after the read is pending again");
  } finally {
    close(sfd);
  }
});

Deno.test("pending signals are read lowest number first, as many records as the buffer holds", async () => {
  const sfd = signalfd(-1, [SIGUSR2, SIGUSR1], 0);
  try {
    await raise(SIGUSR2);
    await raise(SIGUSR1);
    const one = new Uint8Array(SIGNALFD_SIGINFO_SIZE + 100);
    assert.equal(read(sfd, one), 128, "room for one record and a part: one record");
    assert.deepEqual(signos(one, 128), [SIGUSR1]);
    assert.equal(read(sfd, one), 128);
    assert.deepEqual(signos(one, 128), [SIGUSR2]);
    await raise(SIGUSR2);
    await raise(SIGUSR1);
    const two = new Uint8Array(2 * SIGNALFD_SIGINFO_SIZE);
    assert.equal(read(sfd, two), 256);
    assert.deepEqual(signos(two, 256), [SIGUSR1, SIGUSR2]);
  } finally {
    close(sfd);
  }
});

Deno.test("level-triggered: reported until read; edge-triggered: one edge per pending instance, none for a coalesced arrival", async () => {
  const sfd = signalfd(-1, [SIGUSR1], 0);
  const lt = epollCreate1(0);
  const et = epollCreate1(0);
  try {
    epollCtl(lt, EPOLL_CTL_ADD, sfd, { events: EPOLLIN, data: "lt" });
    epollCtl(et, EPOLL_CTL_ADD, sfd, { events: EPOLLIN | EPOLLET, data: "et" });
    const events: { events: number; data: unknown }[] = [];
    await raise(SIGUSR1);
    assert.equal(await epollWait(lt, events, 8, 0), 1);
    assert.equal(await epollWait(lt, events, 8, 0), 1, "level-triggered: still pending");
    assert.equal(await epollWait(et, events, 8, 0), 1);
    assert.equal(events[0].events, EPOLLIN);
    assert.equal(await epollWait(et, events, 8, 0), 0, "edge-triggered: reported once");
    await raise(SIGUSR1);
    assert.equal(await epollWait(et, events, 8, 0), 0, "a coalesced arrival is no new edge");
    assert.equal(read(sfd, new Uint8Array(128)), 128);
    assert.equal(await epollWait(lt, events, 8, 0), 0);
    await raise(SIGUSR1);
    assert.equal(await epollWait(et, events, 8, 0), 1, "pending again: a new edge");
  } finally {
    close(et);
    close(lt);
    close(sfd);
  }
});

Deno.test("two signalfds listing a signal share its one pending instance; a signal no signalfd lists leaves them alone", async () => {
  const a = signalfd(-1, [SIGUSR1], 0);
  const b = signalfd(-1, [SIGUSR1, SIGUSR2], 0);
  try {
    await raise(SIGUSR2);
    assert.equal(await readiness(a), 0);
    assert.equal(await readiness(b), EPOLLIN);
    await raise(SIGUSR1);
    assert.equal(await readiness(a), EPOLLIN);
    const buf = new Uint8Array(128);
    assert.equal(read(a, buf), 128);
    assert.deepEqual(signos(buf, 128), [SIGUSR1]);
    assert.equal(read(b, buf), 128, "b still has SIGUSR2");
    assert.deepEqual(signos(buf, 128), [SIGUSR2]);
    assert.equal(read(b, buf), -EAGAIN, "a took the shared SIGUSR1");
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("signalfd(fd, signals) replaces the signals of an existing signalfd", async () => {
  const sfd = signalfd(-1, [SIGUSR1], 0);
  try {
    assert.equal(signalfd(sfd, [SIGUSR1, SIGUSR2], 0), sfd);
    await raise(SIGUSR2);
    assert.equal(await readiness(sfd), EPOLLIN);
    assert.equal(signalfd(sfd, [SIGUSR1], 0), sfd);
    assert.equal(
      await readiness(sfd),
      0,
      "SIGUSR2 is no longer listed; its pending instance went with it",
    );
    assert.equal(signalfd(sfd, [SIGUSR1, 9], 0), -EINVAL);
    await raise(SIGUSR1);
    assert.equal(await readiness(sfd), EPOLLIN, "a failed change kept the old signals");
  } finally {
    close(sfd);
  }
});

Deno.test("uncatchable and unknown signals, bad flags, short reads and writes are -EINVAL; a closed fd -EBADF; wrong types throw TypeError", () => {
  // SIGKILL, SIGSTOP, and what Deno refuses: SIGILL, SIGFPE, SIGSEGV; 0, real-time and beyond.
  for (const signo of [9, 19, 4, 8, 11, 0, 32, 34, 64, 65, -1, 1.5, NaN]) {
    assert.equal(signalfd(-1, [signo], 0), -EINVAL, `signal ${signo}`);
  }
  assert.equal(signalfd(-1, [SIGUSR1, 9], 0), -EINVAL, "one bad signal fails the call");
  assert.equal(signalfd(-1, [SIGUSR1], 1), -EINVAL);
  assert.equal(signalfd(-1, [SIGUSR1], 0o4000 | 1), -EINVAL);
  const fds: number[] = [];
  pipe(fds);
  assert.equal(signalfd(fds[0], [SIGUSR1], 0), -EINVAL, "not a signalfd");
  assert.equal(signalfd(12345, [SIGUSR1], 0), -EBADF);
  assert.equal(signalfd(-2, [SIGUSR1], 0), -EBADF);
  const sfd = signalfd(-1, [], 0);
  assert.ok(sfd >= 0, "an empty set is allowed (never readable)");
  assert.equal(read(sfd, new Uint8Array(127)), -EINVAL);
  assert.equal(read(sfd, new Uint8Array(128)), -EAGAIN);
  assert.equal(write(sfd, new Uint8Array(128)), -EINVAL);
  assert.throws(() => signalfd(-1, "SIGTERM" as unknown as number[], 0), TypeError);
  assert.throws(() => signalfd(-1, ["SIGTERM" as unknown as number], 0), TypeError);
  assert.throws(() => signalfd("-1" as unknown as number, [], 0), TypeError);
  for (const fd of [sfd, ...fds]) close(fd);
});

/**
 * The child's loop runs in an async function that nothing awaits, as many
 * servers do: Deno keeps a pending top-level await alive by itself, but
 * not this, so only the library's own hold keeps the wait from being cut.
 */
const SIGTERM_CHILD = `
import * as ep from "$MOD";
async function main(): Promise<void> {
  const [nfds] = Deno.args.map(Number);
  const sfds = Array.from({ length: nfds }, () => ep.signalfd(-1, [ep.SIGTERM], 0));
  const epfd = ep.epollCreate1(0);
  ep.epollCtl(epfd, ep.EPOLL_CTL_ADD, sfds.at(-1)!, { events: ep.EPOLLIN, data: 0 });
  for (const fd of sfds.slice(0, -1)) ep.close(fd);
  console.log("ready");
  const events: ep.EpollEvent[] = [];
  await ep.epollWait(epfd, events, 1, -1); // only the library keeps this process alive
  const info = new Uint8Array(128);
  console.log("got", ep.read(sfds.at(-1)!, info), new DataView(info.buffer).getUint32(0, true));
  ep.close(sfds.at(-1)!);
  ep.close(epfd);
  console.log("closed");
  setTimeout(() => console.log("survived"), 30_000);
}
main();
`;

Deno.test("a child's signalfd catches the SIGTERM sent to it while a wait keeps it alive; after the last close SIGTERM kills it", async () => {
  await using child = new ScriptChild(SIGTERM_CHILD, { args: ["1"] });
  assert.equal(await child.line(), "ready");
  child.child.kill("SIGTERM");
  assert.equal(await child.line(), "got 128 15");
  assert.equal(await child.line(), "closed");
  child.child.kill("SIGTERM");
  const status = await child.status();
  assert.equal(status.signal, "SIGTERM", `default action back: ${child.stderr}`);
});

Deno.test("closing one of two signalfds for a signal keeps it caught for the other (listeners are counted)", async () => {
  await using child = new ScriptChild(SIGTERM_CHILD, { args: ["2"] });
  assert.equal(await child.line(), "ready"); // the first signalfd is closed by now
  child.child.kill("SIGTERM");
  assert.equal(await child.line(), "got 128 15");
});

Deno.test("an open signalfd alone does not keep the process alive", async () => {
  await using child = new ScriptChild(`
    import * as ep from "$MOD";
    console.log(ep.signalfd(-1, [ep.SIGTERM, ep.SIGHUP], 0) >= 0 ? "open" : "failed");
  `);
  assert.equal(await child.line(), "open");
  assert.equal((await child.status()).code, 0);
});
