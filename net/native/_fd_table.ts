/**
 * Grows the process's kernel descriptor table once, before a burst of
 * accepts or connects needs it.
 *
 * Linux grows a process's descriptor table by doubling, and in a
 * multi-threaded process (a Deno process always is) each growth waits for an
 * RCU grace period (`synchronize_rcu` in `expand_fdtable`): milliseconds
 * each on a busy machine. A native listener flooded with connections paid
 * the doublings from 64 to 16,384 slots inside its first `accept4` calls,
 * while the kernel's accept queue overflowed and the dropped clients retried
 * their SYN a second later (bench/README.md, "connect burst"); a client
 * opening thousands of connections at once paid them in its `socket` calls.
 * Reserving the table at the first native `listen`, or when a native socket
 * gets a descriptor past the first 128 (a burst has begun), pays once: one
 * `fcntl(F_DUPFD_CLOEXEC)` at the highest slot the soft `RLIMIT_NOFILE`
 * allows, up to {@linkcode RESERVE_FDS}, closed at once. The table never
 * shrinks; it costs kernel memory (8 bytes a slot: 512 KiB for 65,536), not
 * the process's RSS.
 *
 * @module
 */

import type { Libc } from "./libc.ts";

/** The most descriptor slots reserved ahead (a power of two). */
export const RESERVE_FDS = 65536;
/** The fewest worth reserving: below this the table's growth is cheap. */
const MIN_RESERVE = 1024;
const F_DUPFD_CLOEXEC = 1030;

let reserved = false;

/**
 * Makes the kernel's descriptor table hold `RESERVE_FDS` slots, or as many
 * as `RLIMIT_NOFILE` allows (halving until `F_DUPFD` accepts the slot), once
 * per process. `kfd` is any open kernel descriptor to duplicate.
 */
export function reserveFdTable(libc: Libc, kfd: number): void {
  if (reserved) return;
  reserved = true;
  for (let slots = RESERVE_FDS; slots >= MIN_RESERVE; slots /= 2) {
    // EINVAL: the slot is at or above the soft limit; try half as many.
    const fd = libc.fcntl(kfd, F_DUPFD_CLOEXEC, slots - 1);
    if (fd >= 0) {
      libc.close(fd);
      return;
    }
  }
}
