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
 * tick, and the poll comes once in 61 (tried: 1,900 echoes a second).
 *
 * The pause costs the sender up to a millisecond when nothing else is ready
 * (the runtime sleeps in that poll until the timer fires): a bound of 16
 * reads cut a bulk sender beside one quiet connection from ~1.1 GB/s to
 * ~0.3 GB/s. So the bound adapts: a pause in which no other read settled
 * (nobody was waiting for that poll) doubles this connection's bound, up
 * to {@linkcode MAX_READ_BURST}; a pause in which one did sets it back to
 * {@linkcode READ_BURST}.
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
 * The longest burst, reached while the pauses find nobody else's read
 * settling (a bulk sender beside idle connections): 16 MiB between polls.
 */
export const MAX_READ_BURST = 256;

/**
 * Reads settled on every data channel of the process (one event loop, one
 * count): whether anyone else's read settled during a pause.
 */
let settledReads = 0;

/** One read pump's burst: its filled reads in a row, its bound, and its pause when it is due. */
export class ReadBurst {
  #fills = 0;
  #bound = READ_BURST;
  /** {@linkcode settledReads} when the pause began. */
  #seen = 0;
  #pause: ReturnType<typeof setTimeout> | undefined;
  readonly #resume: () => void;

  /** `resume` starts the pump's next read when the pause ends. */
  constructor(resume: () => void) {
    this.#resume = () => {
      this.#pause = undefined;
      // Somebody else's read settled at that poll: it was needed; keep bursts short.
      this.#bound = settledReads !== this.#seen
        ? READ_BURST
        : Math.min(this.#bound * 2, MAX_READ_BURST);
      resume();
    };
  }

  /** The reads this pump may complete in a row before its next pause. */
  get bound(): number {
    return this.#bound;
  }

  /** Whether the pump waits for the runtime's poll (it starts no read meanwhile). */
  get paused(): boolean {
    return this.#pause !== undefined;
  }

  /**
   * A read settled: `n` bytes into a buffer of `len` (-1: EOF or an error).
   * Returns true when the pump must now wait for the runtime's poll (the
   * pause is armed: a 0 ms Deno timer, unref'd, whatever the kernel's
   * clock, since what it waits for is Deno's event loop, not time).
   */
  settled(n: number, len: number): boolean {
    settledReads++;
    if (n !== len) {
      this.#fills = 0;
      return false;
    }
    if (++this.#fills < this.#bound) return false;
    this.#fills = 0;
    this.#seen = settledReads;
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
