/**
 * EVFILT_USER: NOTE_TRIGGER, user flags combined by NOTE_FFNOP / FFAND /
 * FFOR / FFCOPY, data of the latest change, and retrieval with EV_CLEAR,
 * EV_ONESHOT, EV_DISPATCH or none (level).
 */

import assert from "node:assert/strict";
import {
  EV_ADD,
  EV_CLEAR,
  EV_DISABLE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_ONESHOT,
  EVFILT_USER,
  NOTE_FFAND,
  NOTE_FFCOPY,
  NOTE_FFNOP,
  NOTE_FFOR,
  NOTE_TRIGGER,
} from "../mod.ts";
import { change, kev, poll, withKq } from "./_helpers.ts";

Deno.test(
  "a user event fires only once a change carries NOTE_TRIGGER",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, "u"));
    assert.deepEqual(await poll(kq), []);
    assert.equal(await change(kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 0, "fired")), 0);
    const events = await poll(kq);
    assert.deepEqual(events, [
      { ident: 1, filter: EVFILT_USER, flags: EV_CLEAR, fflags: 0, data: 0, udata: "fired" },
    ]);
    assert.deepEqual(await poll(kq), [], "EV_CLEAR: consumed by the retrieval");
  }),
);

Deno.test(
  "the creating EV_ADD may trigger it",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER));
    assert.equal((await poll(kq)).length, 1);
    assert.deepEqual(await poll(kq), [], "EV_ONESHOT: deleted");
    assert.equal(await change(kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER)), -2 /* ENOENT */);
  }),
);

Deno.test(
  "without EV_CLEAR, EV_ONESHOT or EV_DISPATCH a triggered user event is reported on every retrieval",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
    for (let i = 0; i < 3; i++) assert.equal((await poll(kq)).length, 1);
  }),
);

Deno.test(
  "EV_DISPATCH disables after a retrieval; a trigger while disabled is kept until enabled",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_DISPATCH, NOTE_TRIGGER));
    assert.deepEqual((await poll(kq)).map((e) => e.flags), [EV_DISPATCH]);
    await change(kq, kev(1, EVFILT_USER, EV_ENABLE));
    assert.deepEqual(await poll(kq), [], "the trigger was consumed");
    await change(kq, kev(1, EVFILT_USER, EV_DISABLE));
    await change(kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER));
    assert.deepEqual(await poll(kq), [], "disabled");
    await change(kq, kev(1, EVFILT_USER, EV_ENABLE));
    assert.equal((await poll(kq)).length, 1, "the trigger was kept");
  }),
);

Deno.test(
  "user flags combine per change: FFNOP keeps, FFAND, FFOR, FFCOPY; they survive retrievals",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0b1100));
    const fire = async (fflags: number) => {
      await change(kq, kev(1, EVFILT_USER, 0, fflags | NOTE_TRIGGER));
      const [ev] = await poll(kq);
      return ev.fflags;
    };
    assert.equal(await fire(NOTE_FFNOP | 0b0001), 0b1100);
    assert.equal(await fire(NOTE_FFOR | 0b0011), 0b1111);
    assert.equal(await fire(NOTE_FFAND | 0b0110), 0b0110);
    assert.equal(await fire(NOTE_FFCOPY | 0xabcdef), 0xabcdef);
    assert.equal(await fire(NOTE_FFNOP), 0xabcdef, "kept across retrievals");
  }),
);

Deno.test(
  "data is the latest change's",
  withKq(async (kq) => {
    await change(kq, kev(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 11));
    await change(kq, kev(1, EVFILT_USER, 0, NOTE_TRIGGER, 42));
    assert.equal((await poll(kq))[0].data, 42);
  }),
);

Deno.test(
  "user events with different idents are separate knotes, reported in trigger order",
  withKq(async (kq) => {
    await change(
      kq,
      kev(1, EVFILT_USER, EV_ADD | EV_CLEAR),
      kev(2, EVFILT_USER, EV_ADD | EV_CLEAR),
    );
    await change(kq, kev(2, EVFILT_USER, 0, NOTE_TRIGGER), kev(1, EVFILT_USER, 0, NOTE_TRIGGER));
    assert.deepEqual((await poll(kq)).map((e) => e.ident), [2, 1]);
  }),
);

Deno.test(
  "idents up to Number.MAX_SAFE_INTEGER name distinct knotes",
  withKq(async (kq) => {
    const idents = [0, 1, 16, 2 ** 48 - 1, 2 ** 48, 2 ** 50, Number.MAX_SAFE_INTEGER];
    for (const ident of idents) {
      assert.equal(await change(kq, kev(ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, ident)), 0);
    }
    for (const ident of [...idents].reverse()) {
      await change(kq, kev(ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, ident));
    }
    const events = await poll(kq);
    assert.deepEqual(events.map((e) => e.ident), [...idents].reverse());
    assert.deepEqual(events.map((e) => e.udata), [...idents].reverse());
  }),
);
