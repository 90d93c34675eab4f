/**
 * EVFILT_SIGNAL: arrivals counted since the last retrieval, EV_CLEAR
 * implied as in FreeBSD's filt_sigattach, the same signal source as
 * signalfd (a knote keeps the signal caught), errors. Signals of its own
 * (SIGWINCH, SIGQUIT): test files run side by side in one process.
 */

import assert from "node:assert/strict";
import {
  close,
  EINVAL,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_ENABLE,
  EV_ONESHOT,
  EVFILT_SIGNAL,
  read,
  signalfd,
  SIGQUIT,
  SIGTERM,
  SIGWINCH,
} from "../mod.ts";
import { change, kev, poll, raiseSignal, ScriptChild, withKq } from "./_helpers.ts";

Deno.test(
  "EVFILT_SIGNAL counts the arrivals since the last retrieval and reports EV_CLEAR",
  withKq(async (kq) => {
    assert.equal(await change(kq, kev(SIGWINCH, EVFILT_SIGNAL, EV_ADD, 0, 0, "usr1")), 0);
    assert.deepEqual(await poll(kq), []);
    await raiseSignal(SIGWINCH);
    await raiseSignal(SIGWINCH);
    await raiseSignal(SIGWINCH);
    assert.deepEqual(await poll(kq), [kev(SIGWINCH, EVFILT_SIGNAL, EV_CLEAR, 0, 3, "usr1")]);
    assert.deepEqual(await poll(kq), [], "cleared on retrieval");
    await raiseSignal(SIGWINCH);
    assert.deepEqual(await poll(kq), [kev(SIGWINCH, EVFILT_SIGNAL, EV_CLEAR, 0, 1, "usr1")]);
    assert.equal(await change(kq, kev(SIGWINCH, EVFILT_SIGNAL, EV_DELETE)), 0);
  }),
);

Deno.test(
  "arrivals while disabled are kept and reported on EV_ENABLE; EV_ONESHOT deletes the knote",
  withKq(async (kq) => {
    assert.equal(await change(kq, kev(SIGQUIT, EVFILT_SIGNAL, EV_ADD | EV_DISABLE)), 0);
    await raiseSignal(SIGQUIT);
    await raiseSignal(SIGQUIT);
    assert.deepEqual(await poll(kq), []);
    assert.equal(await change(kq, kev(SIGQUIT, EVFILT_SIGNAL, EV_ENABLE)), 0);
    assert.deepEqual(await poll(kq), [kev(SIGQUIT, EVFILT_SIGNAL, EV_CLEAR, 0, 2)]);
    assert.equal(await change(kq, kev(SIGQUIT, EVFILT_SIGNAL, EV_DELETE)), 0);
    // A one-shot knote, held beside a signalfd so SIGQUIT stays caught after it goes.
    const sfd = signalfd(-1, [SIGQUIT], 0);
    try {
      assert.equal(await change(kq, kev(SIGQUIT, EVFILT_SIGNAL, EV_ADD | EV_ONESHOT)), 0);
      await raiseSignal(SIGQUIT);
      assert.deepEqual(await poll(kq), [kev(SIGQUIT, EVFILT_SIGNAL, EV_ONESHOT | EV_CLEAR, 0, 1)]);
      await raiseSignal(SIGQUIT);
      assert.deepEqual(await poll(kq), [], "deleted after its retrieval");
      assert.equal(
        read(sfd, new Uint8Array(128)),
        128,
        "the signalfd saw both, as one pending instance",
      );
    } finally {
      close(sfd);
    }
  }),
);

Deno.test(
  "a knote counts every arrival while a signalfd on the same signal coalesces them",
  withKq(async (kq) => {
    const sfd = signalfd(-1, [SIGWINCH], 0);
    try {
      assert.equal(await change(kq, kev(SIGWINCH, EVFILT_SIGNAL, EV_ADD)), 0);
      await raiseSignal(SIGWINCH);
      await raiseSignal(SIGWINCH);
      assert.equal(read(sfd, new Uint8Array(256)), 128);
      assert.deepEqual(await poll(kq), [kev(SIGWINCH, EVFILT_SIGNAL, EV_CLEAR, 0, 2)]);
    } finally {
      close(sfd);
    }
  }),
);

Deno.test(
  "EVFILT_SIGNAL on a signal Deno cannot catch or a number that is no signal is EINVAL",
  withKq(async (kq) => {
    for (const ident of [9, 19, 4, 8, 11, 0, 32, 64, 1000]) {
      assert.equal(await change(kq, kev(ident, EVFILT_SIGNAL, EV_ADD)), -EINVAL, `signal ${ident}`);
    }
  }),
);

Deno.test("a child's EVFILT_SIGNAL knote catches SIGTERM; closing the kqueue restores the default action", async () => {
  await using child = new ScriptChild(`
    import * as k from "$MOD";
    async function main(): Promise<void> { // not awaited: only the library keeps the wait alive
      const kq = k.kqueue();
      const add = { ident: k.SIGTERM, filter: k.EVFILT_SIGNAL, flags: k.EV_ADD, fflags: 0, data: 0, udata: null };
      const out: k.KEvent[] = [];
      await k.kevent(kq, [add], out, 0, null);
      console.log("ready");
      const n = await k.kevent(kq, [], out, 1, null);
      console.log("got", n, out[0].ident, out[0].data);
      k.close(kq);
      console.log("closed");
      setTimeout(() => console.log("survived"), 30_000);
    }
    main();
  `);
  assert.equal(await child.line(), "ready");
  child.child.kill("SIGTERM");
  assert.equal(await child.line(), `got 1 ${SIGTERM} 1`);
  assert.equal(await child.line(), "closed");
  child.child.kill("SIGTERM");
  assert.equal((await child.status()).signal, "SIGTERM");
});
