/**
 * Linux conformance of `epoll_create` and of `epoll_ctl`'s errors, in the
 * kernel's order (`do_epoll_ctl`).
 *
 * Every test asserts the exact result the Linux kernel gives, with its
 * source (a man page, fs/eventpoll.c, fs/pipe.c, fs/eventfd.c,
 * net/unix/af_unix.c, or a scenario of the kernel selftest
 * tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c, where
 * threads become concurrent async tasks); the other conformance files are
 * `conformance_*_test.ts`.
 */

import assert from "node:assert/strict";
import {
  Description,
  dup,
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  EPERM,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate,
  epollCreate1,
  epollCtl,
  EPOLLERR,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
  EPOLLWAKEUP,
  installDescription,
} from "../mod.ts";
import { add, scoped } from "./_conformance.ts";

// ---------------------------------------------------------------------------
// epoll_create / epoll_create1

Deno.test("epoll_create(2): a size of zero or less fails with EINVAL", () => {
  assert.equal(epollCreate(0), -EINVAL);
  assert.equal(epollCreate(-1), -EINVAL);
  assert.equal(epollCreate(-2147483648), -EINVAL);
});

Deno.test(
  "epoll_create(2): any positive size is only checked and gives the lowest free fd",
  scoped((s) => {
    const a = s.track(epollCreate(1));
    const b = s.track(epollCreate(100000));
    assert.equal(b, a + 1);
    s.close(a);
    assert.equal(s.track(epollCreate(7)), a);
  }),
);

Deno.test(
  "epoll_create1(2): flags other than 0 and EPOLL_CLOEXEC fail with EINVAL",
  scoped((s) => {
    assert.equal(epollCreate1(1), -EINVAL);
    assert.equal(epollCreate1(EPOLL_CLOEXEC | 1), -EINVAL);
    assert.equal(epollCreate1(-1), -EINVAL);
    assert.equal(epollCreate1(0o4000), -EINVAL);
    const a = s.track(epollCreate1(EPOLL_CLOEXEC));
    assert.equal(s.track(epollCreate1(0)), a + 1);
  }),
);

// ---------------------------------------------------------------------------
// epoll_ctl errors, in the kernel's order (do_epoll_ctl)

Deno.test(
  "epoll_ctl(2): ADD or MOD without an event fails with EFAULT, before any fd is looked at",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd), -EFAULT);
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, efd, null), -EFAULT);
    // copy_from_user comes before fdget: bad fds still give EFAULT.
    assert.equal(epollCtl(-1, EPOLL_CTL_ADD, -1), -EFAULT);
    assert.equal(epollCtl(9999, EPOLL_CTL_MOD, 9999), -EFAULT);
    // An unknown op also "has an event" (op != DEL).
    assert.equal(epollCtl(epfd, 99, efd), -EFAULT);
    // DEL needs no event.
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), -ENOENT);
  }),
);

Deno.test(
  "epoll_ctl(2): a closed or invalid epfd or fd fails with EBADF",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    const ev = { events: EPOLLIN, data: 0 };
    const closed = s.eventfd();
    s.close(closed);
    assert.equal(epollCtl(closed, EPOLL_CTL_ADD, efd, ev), -EBADF);
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, closed, ev), -EBADF);
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, closed, ev), -EBADF);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, closed), -EBADF);
    assert.equal(epollCtl(-1, EPOLL_CTL_ADD, efd, ev), -EBADF);
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, -1, ev), -EBADF);
  }),
);

Deno.test(
  "epoll_ctl(2): EBADF for a bad fd comes before EINVAL for an epfd that is not an epoll",
  scoped((s) => {
    const [r] = s.pipe();
    const ev = { events: EPOLLIN, data: 0 };
    assert.equal(epollCtl(r, EPOLL_CTL_ADD, 9999, ev), -EBADF);
    assert.equal(epollCtl(r, 99, 9999, ev), -EBADF);
  }),
);

Deno.test(
  "epoll_ctl(2): fd equal to epfd, or a dup of it, fails with EINVAL",
  scoped((s) => {
    const epfd = s.ep();
    const ev = { events: EPOLLIN, data: 0 };
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, epfd, ev), -EINVAL);
    // eventpoll.c compares the files, not the numbers.
    const again = s.track(dup(epfd));
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, again, ev), -EINVAL);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, epfd), -EINVAL);
  }),
);

Deno.test(
  "epoll_ctl(2): an epfd that is not an epoll instance fails with EINVAL",
  scoped((s) => {
    const [r, w] = s.pipe();
    const efd = s.eventfd();
    const ev = { events: EPOLLIN, data: 0 };
    assert.equal(epollCtl(r, EPOLL_CTL_ADD, efd, ev), -EINVAL);
    assert.equal(epollCtl(efd, EPOLL_CTL_ADD, w, ev), -EINVAL);
    assert.equal(epollCtl(efd, EPOLL_CTL_DEL, w), -EINVAL);
  }),
);

Deno.test(
  "epoll_ctl(2): an unknown op with an event fails with EINVAL",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    const ev = { events: EPOLLIN, data: 0 };
    assert.equal(epollCtl(epfd, 0, efd, ev), -EINVAL);
    assert.equal(epollCtl(epfd, 4, efd, ev), -EINVAL);
    assert.equal(epollCtl(epfd, -1, efd, ev), -EINVAL);
    add(epfd, efd, EPOLLIN);
    assert.equal(epollCtl(epfd, 99, efd, ev), -EINVAL);
  }),
);

Deno.test(
  "epoll_ctl(2): ADD of an fd already registered fails with EEXIST",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    add(epfd, efd, EPOLLIN);
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: EPOLLOUT, data: 1 }), -EEXIST);
  }),
);

Deno.test(
  "epoll_ctl(2): MOD and DEL of an fd not registered fail with ENOENT",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, efd, { events: EPOLLIN, data: 0 }), -ENOENT);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), -ENOENT);
  }),
);

Deno.test(
  "epoll_ctl(2): a descriptor that does not support poll (a regular file) fails with EPERM",
  scoped((s) => {
    class RegularFile extends Description {
      readonly kind = "file";
      override readonly pollable = false;
      poll(): number {
        return EPOLLIN | EPOLLOUT;
      }
    }
    const epfd = s.ep();
    const fd = s.track(installDescription(new RegularFile()));
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 0 }), -EPERM);
  }),
);

Deno.test(
  "epoll_ctl(2): EPOLLEXCLUSIVE with MOD fails with EINVAL, before ENOENT",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    const other = s.eventfd();
    add(epfd, efd, EPOLLIN);
    const ev = { events: EPOLLIN | EPOLLEXCLUSIVE, data: 0 };
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, efd, ev), -EINVAL);
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, other, ev), -EINVAL);
  }),
);

Deno.test(
  "epoll_ctl(2): EPOLLEXCLUSIVE with bits outside IN|OUT|ERR|HUP|WAKEUP|ET fails with EINVAL",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    for (const bad of [EPOLLONESHOT, EPOLLRDHUP, EPOLLPRI]) {
      const ev = { events: EPOLLIN | EPOLLEXCLUSIVE | bad, data: 0 };
      assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, ev), -EINVAL, `bit ${bad}`);
    }
    const ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
    assert.equal(epollCtl(epfd, EPOLL_CTL_ADD, efd, { events: ok, data: 0 }), 0);
  }),
);

Deno.test(
  "epoll_ctl(2): EPOLLEXCLUSIVE on an epoll target fails with EINVAL",
  scoped((s) => {
    const outer = s.ep();
    const inner = s.ep();
    const ev = { events: EPOLLIN | EPOLLEXCLUSIVE, data: 0 };
    assert.equal(epollCtl(outer, EPOLL_CTL_ADD, inner, ev), -EINVAL);
    assert.equal(epollCtl(outer, EPOLL_CTL_ADD, inner, { events: EPOLLIN, data: 0 }), 0);
  }),
);

Deno.test(
  "epoll_ctl(2): MOD of an interest added with EPOLLEXCLUSIVE fails with EINVAL; DEL works",
  scoped((s) => {
    const epfd = s.ep();
    const efd = s.eventfd();
    add(epfd, efd, EPOLLIN | EPOLLEXCLUSIVE);
    assert.equal(epollCtl(epfd, EPOLL_CTL_MOD, efd, { events: EPOLLIN, data: 0 }), -EINVAL);
    assert.equal(epollCtl(epfd, EPOLL_CTL_DEL, efd), 0);
  }),
);
