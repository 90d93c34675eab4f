/**
 * Ways to let Deno's event loop turn once, compared by
 * `bench/loop_turn_bench.ts` (what a forced turn costs a wait) and
 * `bench/sim_bench.ts` (what the simulated network's barrier costs).
 *
 * @module
 */

/**
 * One message on a fresh `MessageChannel`, its ports closed after: the
 * forced loop turn before the lean work, and a barrier the sim rejected.
 */
export function freshChannelTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
