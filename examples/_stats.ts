/**
 * The examples' `--stats` line: counters a program updates as it runs, and
 * a timer that prints them as one line every `--interval` seconds.
 *
 * @module
 */

/** Counters a program updates and {@linkcode startStats} prints. */
export class Stats {
  /** Connections open now. */
  open = 0;
  /** Connections accepted since start. */
  accepted = 0;
  /** Bytes read from clients. */
  bytesIn = 0;
  /** Bytes written to clients. */
  bytesOut = 0;
  /** Events returned by epoll_wait (or kevent). */
  events = 0;
  /** Connections closed by an idle timeout. */
  timedOut = 0;
  /** A datagram server's: the line counts datagrams instead of connections. */
  datagrams = false;
  /** Datagrams received. */
  datagramsIn = 0;
  /** Datagrams sent. */
  datagramsOut = 0;
  /** Replies not sent: refused by the kernel, or withheld (a datagram server's loop guard). */
  dropped = 0;
}

/**
 * Prints one summary line of `stats` every `seconds`, until the returned
 * function is called; a server passes its socket `backend`, which ends the
 * line. The timer does not keep the program alive.
 */
export function startStats(
  name: string,
  stats: Stats,
  seconds: number,
  backend?: string,
): () => void {
  let last = performance.now();
  let lastEvents = 0;
  let lastIn = 0;
  let lastDatagrams = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const dt = (now - last) / 1000;
    const mem = Deno.memoryUsage();
    const rss = mem.rss / 2 ** 20;
    const heap = (mem.heapUsed + mem.external) / 2 ** 20;
    const head = stats.datagrams
      ? `${Math.round((stats.datagramsIn - lastDatagrams) / dt)} datagrams/s in, ` +
        `${stats.datagramsIn} in, ${stats.datagramsOut} out, ${stats.dropped} dropped`
      : `${stats.open} open, ${stats.accepted} accepted, ${stats.timedOut} timed out`;
    console.log(
      `${name}: ${head}, ` +
        `${((stats.bytesIn - lastIn) / dt / 2 ** 20).toFixed(1)} MiB/s in, ` +
        `${Math.round((stats.events - lastEvents) / dt)} events/s, rss ${
          rss.toFixed(0)
        } MiB (heap+external ${heap.toFixed(0)} MiB)${backend ? `, ${backend} backend` : ""}`,
    );
    last = now;
    lastEvents = stats.events;
    lastIn = stats.bytesIn;
    lastDatagrams = stats.datagramsIn;
  }, seconds * 1000);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
