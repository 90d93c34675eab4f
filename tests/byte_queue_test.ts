import assert from "node:assert/strict";
// ByteQueue is internal (not exported from mod.ts); it is tested directly.
import { ByteQueue } from "../runtime/core/_byte_queue.ts";

function bytes(from: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

function drain(q: ByteQueue): number[] {
  const out = new Uint8Array(q.length);
  assert.equal(q.shift(out), out.length);
  return [...out];
}

Deno.test("ByteQueue starts empty with room up to its limit", () => {
  const q = new ByteQueue(100, 16);
  assert.equal(q.length, 0);
  assert.equal(q.room, 100);
  assert.equal(q.capacity, 16);
  assert.equal(new ByteQueue(8, 64).capacity, 8); // initial is capped by the limit
  assert.equal(new ByteQueue(8).capacity, 0);
});

Deno.test("ByteQueue.push() accepts what fits below the limit and returns the count", () => {
  const q = new ByteQueue(10);
  assert.equal(q.push(bytes(0, 4)), 4);
  assert.equal(q.length, 4);
  assert.equal(q.room, 6);
  assert.equal(q.push(bytes(4, 10)), 6);
  assert.equal(q.length, 10);
  assert.equal(q.room, 0);
  assert.equal(q.push(bytes(0, 1)), 0);
  assert.equal(q.push(new Uint8Array(0)), 0);
  assert.deepEqual(drain(q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("ByteQueue.shift() returns bytes in FIFO order, at most dst.length", () => {
  const q = new ByteQueue(64);
  q.push(bytes(10, 5));
  q.push(bytes(20, 3));
  const small = new Uint8Array(3);
  assert.equal(q.shift(small), 3);
  assert.deepEqual([...small], [10, 11, 12]);
  assert.equal(q.length, 5);
  const big = new Uint8Array(16);
  assert.equal(q.shift(big), 5);
  assert.deepEqual([...big.subarray(0, 5)], [13, 14, 20, 21, 22]);
  assert.equal(q.shift(big), 0);
  assert.equal(q.shift(new Uint8Array(0)), 0);
  assert.equal(q.length, 0);
});

Deno.test("ByteQueue.view() shows the held bytes without consuming them", () => {
  const q = new ByteQueue(64);
  q.push(bytes(1, 4));
  q.consume(1);
  assert.deepEqual([...q.view()], [2, 3, 4]);
  assert.equal(q.length, 3);
  q.consume(3);
  assert.equal(q.view().length, 0);
  assert.equal(q.length, 0);
});

Deno.test("ByteQueue grows by doubling from 256 bytes, capped at its limit", () => {
  const q = new ByteQueue(1000);
  q.push(bytes(0, 1));
  assert.equal(q.capacity, 256);
  q.push(bytes(1, 255));
  assert.equal(q.capacity, 256);
  q.push(bytes(0, 1));
  assert.equal(q.capacity, 512);
  q.push(bytes(0, 300));
  assert.equal(q.capacity, 1000); // 1024 clamped to the limit
  assert.equal(q.length, 557);
  const all = drain(q);
  assert.deepEqual(all.slice(0, 256), [...bytes(0, 256)]);
  assert.deepEqual(all.slice(257), [...bytes(0, 300)]);
});

Deno.test("ByteQueue with a limit below 256 never allocates past it", () => {
  const q = new ByteQueue(10);
  assert.equal(q.push(bytes(0, 50)), 10);
  assert.equal(q.capacity, 10);
});

Deno.test("ByteQueue wraps around instead of growing when the head has room", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 12));
  q.shift(new Uint8Array(8));
  assert.equal(q.push(bytes(100, 8)), 8);
  assert.equal(q.capacity, 16); // wrapped, not grown
  assert.deepEqual(drain(q), [8, 9, 10, 11, 100, 101, 102, 103, 104, 105, 106, 107]);
});

Deno.test("ByteQueue.consume() rewinds an emptied queue so the whole buffer is reused", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 10));
  q.consume(10);
  assert.equal(q.push(bytes(50, 16)), 16);
  assert.equal(q.capacity, 16);
  assert.deepEqual(drain(q), [...bytes(50, 16)]);
});

Deno.test("ByteQueue.reserve() returns free tail space and commit() makes it held", () => {
  const q = new ByteQueue(1024);
  q.push(bytes(0, 3));
  const tail = q.reserve(5);
  assert.ok(tail.length >= 5);
  tail.set([7, 8, 9, 10, 11]);
  q.commit(5);
  assert.equal(q.length, 8);
  assert.deepEqual(drain(q), [0, 1, 2, 7, 8, 9, 10, 11]);
});

Deno.test("ByteQueue.reserve() returns the free space after the tail, growing when it is too small", () => {
  const q = new ByteQueue(64, 8);
  q.push(bytes(0, 8));
  q.consume(6);
  const tail = q.reserve(6); // 2 held at the end, 6 free after the wrap
  assert.equal(q.capacity, 8);
  assert.equal(tail.length, 6);
  assert.deepEqual([...q.view()], [6, 7]);
  const more = q.reserve(20);
  assert.ok(more.length >= 20);
  assert.ok(q.capacity <= 64);
  assert.deepEqual([...q.view()], [6, 7]);
});

Deno.test("ByteQueue.reserve() gives a read the front when the space after the held bytes is shorter", () => {
  // A ring of 16 holding 4 bytes at its end: 2 free after them, 10 before.
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 14));
  q.consume(10); // held: [10..13] at offsets 10..13
  const front = q.reserve(8);
  assert.equal(front.length, 8, "one region for the whole read, not the 2 bytes before the wrap");
  assert.equal(front.byteOffset, 0);
  assert.equal(q.capacity, 16);
  front.set(bytes(40, 8));
  q.commit(8);
  assert.deepEqual([...q.view()], [10, 11, 12, 13], "the held bytes stop where the read began");
  // A push goes after the read's bytes, up to the head; offsets 14..15 stay unused.
  assert.equal(q.push(bytes(60, 2)), 2);
  assert.deepEqual(drain(q), [10, 11, 12, 13, ...bytes(40, 8), 60, 61]);
  // Emptied, the whole ring is used again.
  assert.equal(q.push(bytes(0, 16)), 16);
  assert.equal(q.capacity, 16);
  assert.deepEqual(drain(q), [...bytes(0, 16)]);
});

Deno.test("ByteQueue.reserve() cuts a read at the wrap when the front is no longer", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 14));
  q.consume(2); // held: [2..13] at offsets 2..13, 2 free after, 2 before
  const tail = q.reserve(4);
  assert.equal(tail.length, 2);
  assert.equal(tail.byteOffset, 14);
  tail.set([90, 91]);
  q.commit(2);
  assert.deepEqual(drain(q), [...bytes(2, 12), 90, 91]);
});

Deno.test("ByteQueue consumed past the end of a read given the front wraps there, and grows in order", () => {
  const q = new ByteQueue(64, 16);
  q.push(bytes(0, 14));
  q.consume(10);
  const front = q.reserve(8);
  front.set(bytes(40, 3));
  q.commit(3); // held: 10..13 at offsets 10..13, then 40..42 at 0..2
  q.consume(4); // past the held bytes' end: the head wraps to the front
  assert.deepEqual([...q.view()], [40, 41, 42]);
  assert.equal(q.push(bytes(70, 13)), 13, "the whole ring after the head is free again");
  assert.equal(q.capacity, 16);
  // And with the front in use, a push that does not fit grows the ring in order.
  const r = new ByteQueue(64, 16);
  r.push(bytes(0, 14));
  r.consume(10);
  r.reserve(8).set(bytes(40, 8));
  r.commit(8); // 12 held, 2 unusable at 14..15, 2 free at 8..9
  assert.equal(r.push(bytes(80, 6)), 6);
  assert.ok(r.capacity > 16);
  assert.deepEqual(drain(r), [10, 11, 12, 13, ...bytes(40, 8), ...bytes(80, 6)]);
});

Deno.test("ByteQueue matches a plain array under random pushes, shifts, reads into reserve() and consumes", () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (let run = 0; run < 20; run++) {
    const limit = 8 + rand(64);
    const q = new ByteQueue(limit, rand(2) ? 0 : limit);
    const model: number[] = [];
    let next = 0;
    const fresh = (n: number) => Uint8Array.from({ length: n }, () => next++ & 0xff);
    for (let op = 0; op < 2000; op++) {
      switch (rand(6)) {
        case 0: {
          const src = fresh(rand(limit + 4));
          const n = q.push(src);
          assert.equal(n, Math.min(src.length, Math.max(0, limit - model.length)));
          model.push(...src.subarray(0, n));
          break;
        }
        case 1: {
          const dst = new Uint8Array(rand(limit + 4));
          const n = q.shift(dst);
          assert.deepEqual([...dst.subarray(0, n)], model.splice(0, n));
          break;
        }
        case 2: {
          const region = q.reserve(1 + rand(limit));
          const n = rand(region.length + 1);
          const src = fresh(n);
          region.set(src);
          q.commit(n);
          model.push(...src);
          break;
        }
        case 3: {
          const n = rand(model.length + 1);
          q.consume(n);
          model.splice(0, n);
          break;
        }
        case 4:
          q.pinned = !q.pinned;
          break;
        default:
          q.trim(rand(2) ? 0 : 256);
      }
      assert.equal(q.length, model.length);
      const view = q.view();
      assert.ok(view.length > 0 || model.length === 0, "a view of nothing while bytes are held");
      assert.deepEqual([...view], model.slice(0, view.length));
      assert.ok(q.capacity <= limit, `capacity ${q.capacity} over the limit ${limit}`);
    }
    q.pinned = false;
    assert.deepEqual(drain(q), model);
  }
});

Deno.test("ByteQueue.room is 0, not negative, once the limit drops below the length", () => {
  const q = new ByteQueue(100);
  q.push(bytes(0, 50));
  q.limit = 20;
  assert.equal(q.room, 0);
  assert.equal(q.push(bytes(0, 1)), 0);
  assert.equal(q.length, 50);
  q.consume(40);
  assert.equal(q.room, 10);
});

Deno.test("ByteQueue.trim() frees the storage only when empty and unpinned", () => {
  const q = new ByteQueue(4096);
  q.push(bytes(0, 2000));
  q.trim(64);
  assert.equal(q.capacity, 2048); // not empty: kept
  q.consume(2000);
  q.pinned = true;
  q.trim(64);
  assert.equal(q.capacity, 2048); // pinned: kept
  q.pinned = false;
  q.trim(64);
  assert.equal(q.capacity, 64);
  q.trim(128);
  assert.equal(q.capacity, 64); // already small enough
  q.trim(0);
  assert.equal(q.capacity, 0);
  assert.equal(q.push(bytes(0, 3)), 3);
  assert.deepEqual(drain(q), [0, 1, 2]);
});

Deno.test("ByteQueue while pinned keeps a view's bytes across a growing push", () => {
  const q = new ByteQueue(4096, 16);
  q.push(bytes(0, 16));
  q.pinned = true;
  const inFlight = q.view();
  q.push(bytes(200, 40)); // must grow: copies into a fresh buffer
  assert.equal(q.capacity >= 56, true);
  assert.deepEqual([...inFlight], [...bytes(0, 16)]);
  q.consume(16);
  q.pinned = false;
  assert.deepEqual(drain(q), [...bytes(200, 40)]);
});

Deno.test("ByteQueue while pinned does not move bytes under a view taken before a push", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 12));
  q.consume(8); // head has 8 free bytes: the push wraps into them
  q.pinned = true;
  const inFlight = q.view();
  assert.deepEqual([...inFlight], [8, 9, 10, 11]);
  assert.equal(q.push(bytes(100, 8)), 8);
  assert.deepEqual([...inFlight], [8, 9, 10, 11]);
  q.pinned = false;
  assert.deepEqual(drain(q), [8, 9, 10, 11, 100, 101, 102, 103, 104, 105, 106, 107]);
});

Deno.test("ByteQueue while pinned does not rewind when consume() empties it", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 8));
  q.pinned = true;
  const inFlight = q.view();
  q.consume(8); // the in-flight write finished early in the caller's view
  q.push(bytes(50, 4)); // an unpinned queue would reuse offset 0 here
  assert.deepEqual([...inFlight], [...bytes(0, 8)]);
  q.pinned = false;
  assert.deepEqual(drain(q), [50, 51, 52, 53]);
});

Deno.test("ByteQueue while pinned keeps a reserve() view valid across pushes", () => {
  const q = new ByteQueue(1024, 8);
  q.push(bytes(0, 4));
  q.consume(2);
  q.pinned = true;
  const held = q.view();
  const tail = q.reserve(4);
  assert.equal(tail.length, 4);
  tail.set([90, 91, 92, 93]);
  q.commit(4);
  q.push(bytes(60, 20)); // grows: the old buffer is left alone
  assert.deepEqual([...held], [2, 3]);
  assert.deepEqual([...tail], [90, 91, 92, 93]);
  q.pinned = false;
  assert.deepEqual(drain(q), [2, 3, 90, 91, 92, 93, ...bytes(60, 20)]);
});

Deno.test("ByteQueue.view() stops at the wrap point and shift() reassembles across it", () => {
  const q = new ByteQueue(16, 16);
  q.push(bytes(0, 12));
  q.consume(10); // held: [10, 11] at offsets 10..11
  assert.equal(q.push(bytes(20, 8)), 8); // 4 at offsets 12..15, 4 wrapped to 0..3
  assert.equal(q.capacity, 16);
  assert.deepEqual([...q.view()], [10, 11, 20, 21, 22, 23]); // contiguous part only
  assert.equal(q.reserve(100).length, 6); // free: offsets 4..9
  assert.deepEqual(drain(q), [10, 11, 20, 21, 22, 23, 24, 25, 26, 27]);
});
