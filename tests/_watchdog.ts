/**
 * A watchdog for long tests against real servers: a test fails once it has
 * made no progress for a while, however long it keeps moving (a guard
 * against a hang, not a speed claim).
 *
 * @module
 */

/**
 * Each test gives up (and fails) once it has made no progress for this long:
 * a watchdog against a hang, not a speed claim. A test that reports its
 * progress (the chat test, 15-17 s on 2 shared cores at load 20 and longer
 * under more load) may take as long as it keeps moving.
 */
export const TEST_DEADLINE_MS = 60_000;

/**
 * Runs `body` with a watchdog: once `ms` pass without progress (`body`
 * calls the `alive` it is given to report some), `onTimeout` runs (it
 * should close the connections so that pending reads end) and the test
 * fails with a timeout.
 */
export async function withDeadline<T>(
  ms: number,
  onTimeout: () => void,
  body: (alive: () => void) => Promise<T>,
): Promise<T> {
  let timedOut = false;
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout>;
  const check = () => {
    const idle = performance.now() - last;
    if (idle < ms) {
      timer = setTimeout(check, ms - idle);
      return;
    }
    timedOut = true;
    onTimeout();
  };
  timer = setTimeout(check, ms);
  try {
    return await body(() => last = performance.now());
  } catch (err) {
    if (timedOut) throw new Error(`test made no progress for ${ms} ms`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
