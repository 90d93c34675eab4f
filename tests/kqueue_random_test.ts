/**
 * Random programs of kevent changes and waits over pipes, eventfds, timers,
 * user events and nested kqueues/epolls (seeded, so a failure replays):
 * every call returns a count or one of the errnos the contract lists,
 * never throws, never reports a deleted or disabled knote, and closing
 * everything leaves no timer behind (the op sanitizer would see it).
 */

import assert from "node:assert/strict";
import {
  close,
  EBADF,
  EINVAL,
  ELOOP,
  ENOENT,
  EPOLL_CTL_ADD,
  epollCreate1,
  epollCtl,
  EPOLLIN,
  EV_ADD,
  EV_CLEAR,
  EV_DELETE,
  EV_DISABLE,
  EV_DISPATCH,
  EV_ENABLE,
  EV_EOF,
  EV_ERROR,
  EV_ONESHOT,
  EV_RECEIPT,
  eventfd,
  EVFILT_READ,
  EVFILT_TIMER,
  EVFILT_USER,
  EVFILT_WRITE,
  type KEvent,
  kevent,
  kqueue,
  NOTE_FFCOPY,
  NOTE_NSECONDS,
  NOTE_TRIGGER,
  NOTE_USECONDS,
  pipe,
  read,
  write,
} from "../mod.ts";
import { mulberry32 } from "./_helpers.ts";

const ERRNOS = new Set([0, EBADF, EINVAL, ENOENT, ELOOP]);
const FILTERS = [EVFILT_READ, EVFILT_WRITE, EVFILT_TIMER, EVFILT_USER, -3, 5];
const FLAGS = [
  EV_ADD,
  EV_DELETE,
  EV_ENABLE,
  EV_DISABLE,
  EV_ONESHOT,
  EV_CLEAR,
  EV_DISPATCH,
  EV_RECEIPT,
];

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  Deno.test(`random kevent program ${seed} keeps to the contract and leaves nothing behind`, async () => {
    const rnd = mulberry32(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const kqs = [kqueue(), kqueue()];
    const ep = epollCreate1(0);
    const fds: number[] = [];
    pipe(fds);
    const efd = eventfd(0, 0);
    const pool = [...kqs, ep, ...fds, efd, 999];
    const one = new Uint8Array(8);
    one[0] = 1;
    try {
      for (let step = 0; step < 300; step++) {
        const kq = pick(kqs);
        const r = rnd();
        if (r < 0.1) {
          write(pick([fds[1], efd]), one);
        } else if (r < 0.15) {
          read(pick([fds[0], efd]), new Uint8Array(8));
        } else if (r < 0.18) {
          epollCtl(ep, EPOLL_CTL_ADD, pick(pool), { events: EPOLLIN, data: 0 });
        } else if (r < 0.6) {
          const changes: KEvent[] = [];
          for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++) {
            let flags = 0;
            for (let b = 0; b < 3; b++) flags |= pick(FLAGS);
            const filter = pick(FILTERS);
            const timer = filter === EVFILT_TIMER;
            changes.push({
              ident: timer || filter === EVFILT_USER ? Math.floor(rnd() * 4) : pick(pool),
              filter,
              flags,
              fflags: timer
                ? pick([0, NOTE_USECONDS, NOTE_NSECONDS])
                : pick([0, NOTE_TRIGGER | NOTE_FFCOPY | 5]),
              data: timer ? Math.floor(rnd() * 3000) - 100 : 0,
              udata: step,
            });
          }
          const out: KEvent[] = [];
          const nevents = Math.floor(rnd() * 4);
          const n = await kevent(kq, changes, out, nevents, { sec: 0, nsec: 0 });
          assert.ok(n >= 0 ? n <= Math.max(nevents, 0) : ERRNOS.has(-n), `step ${step}: ${n}`);
          for (const ev of out.slice(0, Math.max(n, 0))) {
            if (ev.flags & EV_ERROR) assert.ok(ERRNOS.has(ev.data), `errno ${ev.data}`);
          }
        } else {
          const out: KEvent[] = [];
          const n = await kevent(kq, [], out, 8, { sec: 0, nsec: pick([0, 100_000]) });
          assert.ok(n >= 0 && n <= 8);
          for (const ev of out.slice(0, n)) {
            assert.equal(ev.flags & (EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_ERROR), 0);
            assert.ok(ev.filter === EVFILT_TIMER ? ev.data >= 1 : true);
            assert.ok(
              (ev.flags & ~(EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT | EV_EOF)) === 0,
            );
          }
        }
      }
    } finally {
      kqs.forEach(close);
      close(ep);
      fds.forEach(close);
      close(efd);
    }
  });
}
