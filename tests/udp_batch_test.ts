/**
 * sendmmsg and recvmmsg on UDP sockets, on the current backend: a batch
 * goes out in order, each slot of a receive gets its length, sender and
 * MSG_TRUNC, a receive fills what is queued and no more, and slots are
 * reused from call to call (the sender's address object is filled in place).
 */

import assert from "node:assert/strict";
import {
  close,
  EAGAIN,
  EDESTADDRREQ,
  MSG_TRUNC,
  type RecvMessage,
  recvmmsg,
  sendmmsg,
  type SockAddr,
} from "../mod.ts";
import { DATAGRAMS, NATIVE, recvWithin, udpBound, waitFor } from "./_helpers.ts";
import { EPOLLIN } from "../mod.ts";

/** recvmmsg until `want` datagrams were taken (a Deno-backend arrival lags a loop turn). */
async function receiveAll(fd: number, slots: RecvMessage[], want: number): Promise<RecvMessage[]> {
  const got: RecvMessage[] = [];
  while (got.length < want) {
    const n = recvmmsg(fd, slots, 0);
    if (n === -EAGAIN) {
      await waitFor(fd, EPOLLIN);
      continue;
    }
    assert.ok(n > 0, `recvmmsg gave ${n}`);
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      got.push({
        buf: s.buf.slice(0, Math.min(s.length!, s.buf.length)),
        length: s.length,
        flags: s.flags,
        addr: { ...s.addr! },
      });
    }
  }
  return got;
}

Deno.test({
  name: "sendmmsg sends a batch in order; recvmmsg gives each slot its bytes, length and sender",
  ignore: !DATAGRAMS,
}, async () => {
  const a = udpBound(), b = udpBound();
  try {
    const msgs = Array.from(
      { length: 20 },
      (_, i) => ({ buf: new Uint8Array(i).fill(i), addr: b.addr }),
    );
    assert.equal(sendmmsg(a.fd, msgs, 0), 20);
    const slots: RecvMessage[] = Array.from({ length: 8 }, () => ({ buf: new Uint8Array(32) }));
    const got = await receiveAll(b.fd, slots, 20);
    assert.equal(got.length, 20);
    for (let i = 0; i < 20; i++) {
      assert.equal(got[i].length, i);
      assert.equal(got[i].flags, 0);
      assert.ok(got[i].buf.every((x) => x === i));
      assert.deepEqual(got[i].addr, a.addr);
    }
    assert.equal(recvmmsg(b.fd, slots, 0), -EAGAIN);
  } finally {
    close(a.fd);
    close(b.fd);
  }
});

Deno.test(
  { name: "recvmmsg marks a datagram cut to its slot with MSG_TRUNC", ignore: !DATAGRAMS },
  async () => {
    const a = udpBound(), b = udpBound();
    try {
      assert.equal(
        sendmmsg(a.fd, [{ buf: new Uint8Array(10).fill(1), addr: b.addr }, {
          buf: new Uint8Array(3),
          addr: b.addr,
        }], 0),
        2,
      );
      const slots: RecvMessage[] = [{ buf: new Uint8Array(4) }, { buf: new Uint8Array(4) }];
      const got = await receiveAll(b.fd, slots, 2);
      assert.equal(got[0].length, 4);
      assert.equal(got[0].flags, MSG_TRUNC);
      assert.equal(got[1].length, 3);
      assert.equal(got[1].flags, 0);
    } finally {
      close(a.fd);
      close(b.fd);
    }
  },
);

Deno.test(
  { name: "recvmmsg fills an existing addr object in place", ignore: !DATAGRAMS },
  async () => {
    const a = udpBound(), b = udpBound();
    try {
      const addr = {} as SockAddr;
      const slots: RecvMessage[] = [{ buf: new Uint8Array(4), addr }];
      sendmmsg(a.fd, [{ buf: new Uint8Array(1), addr: b.addr }], 0);
      await waitFor(b.fd, EPOLLIN);
      assert.equal(recvmmsg(b.fd, slots, 0), 1);
      assert.equal(slots[0].addr, addr);
      assert.deepEqual(addr, a.addr);
    } finally {
      close(a.fd);
      close(b.fd);
    }
  },
);

Deno.test({
  name: "sendmmsg without addresses on an unconnected socket fails with the first message's error",
  ignore: !DATAGRAMS,
}, () => {
  const a = udpBound();
  try {
    assert.equal(sendmmsg(a.fd, [{ buf: new Uint8Array(1) }], 0), -EDESTADDRREQ);
    assert.equal(sendmmsg(a.fd, [], 0), 0);
  } finally {
    close(a.fd);
  }
});

Deno.test({
  name: "sendmmsg stops at the first message that fails and reports the ones before it",
  ignore: !DATAGRAMS,
}, async () => {
  const a = udpBound(), b = udpBound();
  try {
    const msgs = [{ buf: new Uint8Array([1]), addr: b.addr }, { buf: new Uint8Array([2]) }, {
      buf: new Uint8Array([3]),
      addr: b.addr,
    }];
    assert.equal(sendmmsg(a.fd, msgs, 0), 1);
    assert.equal(await recvWithin(b.fd, new Uint8Array(4)), 1);
  } finally {
    close(a.fd);
    close(b.fd);
  }
});

/** Whether `strace` runs here (it is not required: the test below skips without it). */
function haveStrace(): boolean {
  try {
    return new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "native: a sendmmsg and a recvmmsg of 16 datagrams are one system call each (strace)",
  ignore: !NATIVE || !haveStrace(),
  async fn() {
    const mod = new URL("../mod.ts", import.meta.url).href;
    const code = `import * as m from "${mod}";
      m.setSocketBackend("native");
      const mk = () => {
        const fd = m.socket(m.AF_INET, m.SOCK_DGRAM, 0);
        m.bind(fd, { family: m.AF_INET, address: "127.0.0.1", port: 0 });
        const a = {}; m.getsockname(fd, a); return { fd, a };
      };
      const a = mk(), b = mk();
      const out = Array.from({ length: 16 }, () => ({ buf: new Uint8Array(64), addr: b.a }));
      const slots = Array.from({ length: 16 }, () => ({ buf: new Uint8Array(2048) }));
      console.log(m.sendmmsg(a.fd, out, 0), m.recvmmsg(b.fd, slots, 0));`;
    const trace = await Deno.makeTempFile();
    try {
      const r = await new Deno.Command("strace", {
        args: [
          "-f",
          "-qq",
          "-e",
          "trace=sendmmsg,recvmmsg,sendto,recvfrom,sendmsg,recvmsg",
          "-o",
          trace,
          Deno.execPath(),
          "eval",
          code,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      assert.equal(new TextDecoder().decode(r.stdout).trim(), "16 16");
      const calls = (await Deno.readTextFile(trace)).split("\n").map((l) =>
        /^\d+\s+(\w+)\(/.exec(l)?.[1]
      )
        .filter((c) => c !== undefined);
      assert.deepEqual(calls, [
        "sendmmsg",
        "recvmmsg",
      ]);
    } finally {
      await Deno.remove(trace);
    }
  },
});

Deno.test({
  name:
    "one batch to several destinations, and one receive from several senders: each address is its own",
  ignore: !DATAGRAMS,
}, async () => {
  const senders = [udpBound(), udpBound(), udpBound()];
  const receivers = [udpBound(), udpBound()];
  try {
    // Each sender sends one batch to both receivers, interleaved.
    for (const [i, s] of senders.entries()) {
      const out = receivers.map((r, j) => ({ buf: new Uint8Array([i, j]), addr: r.addr }));
      assert.equal(sendmmsg(s.fd, [...out, ...out], 0), 4);
    }
    for (const [j, r] of receivers.entries()) {
      const slots: RecvMessage[] = Array.from({ length: 8 }, () => ({ buf: new Uint8Array(4) }));
      const got = await receiveAll(r.fd, slots, 6);
      for (const g of got) {
        const [i, to] = g.buf;
        assert.equal(to, j);
        assert.deepEqual(g.addr, senders[i].addr, `datagram from sender ${i}`);
      }
      assert.deepEqual(got.map((g) => g.buf[0]).sort(), [0, 0, 1, 1, 2, 2]);
    }
  } finally {
    [...senders, ...receivers].forEach((s) => close(s.fd));
  }
});
