/**
 * The read pump's fairness towards a fast sender: how many reads one
 * connection may complete before Deno's runtime polls the kernel for the
 * others (a policy of the Deno backend's data channel, `_data_channel.ts`,
 * kept here with its measurements).
 *
 * Deno polls a read once when it starts, so a read whose bytes are already
 * in the kernel settles at once, in a microtask, without the event loop
 * turning; and Deno's runtime polls the kernel only once per 61 ticks of a
 * busy loop. A peer that sends faster than the program reads would keep its
 * read pump (and the program's loop over its events) one microtask chain,
 * and every other connection's reads, which complete only when the runtime
 * polls the kernel, would wait: one client sending 64 KiB writes as fast as
 * it could cut 50 echo clients from 75,000 to 2,400 echoes a second
 * (`deno task bench:flood --mode blast`, bench/README.md "Fast senders").
 *
 * So after {@linkcode READ_BURST} reads in a row that filled their buffer,
 * the pump pauses for a 0 ms Deno timer, as the listen channel's accept
 * pump does (`_listen_channel.ts`, "Fairness"): the runtime polls the
 * kernel before the timer fires, and every connection gets its completions
 * at that poll. A forced loop turn (`setImmediate`) would not do: it is one
 * tick, and the poll comes once in 61 (tried: 1,900 echoes a second). The
 * pause costs a lone sender up to a millisecond when nothing else is ready
 * (the runtime sleeps in that poll until the timer fires), so while no
 * other connection has a read in flight the bound is
 * {@linkcode LONE_READ_BURST}: pausing every 16 reads regardless cut a lone
 * bulk sender from ~1,000 to ~285 MB/s.
 *
 * @module
 */

/**
 * Reads in a row that filled their buffer after which the read pump waits
 * for Deno's runtime to poll the kernel: at the largest read size (64 KiB),
 * 1 MiB of one connection's bytes between two polls.
 */
export const READ_BURST = 16;

/**
 * The same bound while no other connection has a read in flight: only a
 * listener's accept, or nothing, waits for the runtime's next poll: 16 MiB
 * between polls.
 */
export const LONE_READ_BURST = 256;

/**
 * Reads in flight on every data channel of the process (one event loop, one
 * count): whether another connection waits for the runtime's poll.
 */
let readsInFlight = 0;

/** One read pump's burst: its filled reads in a row, and its pause when it is due. */
export class ReadBurst {
  #fills = 0;
  #pause: ReturnType<typeof setTimeout> | undefined;
  readonly #resume: () => void;

  /** `resume` starts the pump's next read when the pause ends. */
  constructor(resume: () => void) {
    this.#resume = () => {
      this.#pause = undefined;
      resume();
    };
  }

  /** Whether the pump waits for the runtime's poll (it starts no read meanwhile). */
  get paused(): boolean {
    return this.#pause !== undefined;
  }

  /** A read was started. */
  started(): void {
    readsInFlight++;
  }

  /**
   * A read settled: `n` bytes into a buffer of `len` (-1: EOF or an error).
   * Returns true when the pump must now wait for the runtime's poll (the
   * pause is armed: a 0 ms Deno timer, unref'd, whatever the kernel's
   * clock, since what it waits for is Deno's event loop, not time).
   */
  settled(n: number, len: number): boolean {
    readsInFlight--;
    if (n !== len) {
      this.#fills = 0;
      return false;
    }
    if (++this.#fills < (readsInFlight > 0 ? READ_BURST : LONE_READ_BURST)) return false;
    this.#fills = 0;
    this.#pause = setTimeout(this.#resume, 0);
    Deno.unrefTimer(this.#pause);
    return true;
  }

  /** The channel closed: no read resumes. */
  cancel(): void {
    if (this.#pause === undefined) return;
    clearTimeout(this.#pause);
    this.#pause = undefined;
  }
}
