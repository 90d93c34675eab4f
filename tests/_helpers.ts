/**
 * The one helper module of the test suite: every test imports its helpers
 * from here. Each concept lives in a file of its own under `tests/_helpers/`:
 *
 * - `_basics.ts`: the errno matcher, `sleep`, the seeded PRNG and byte
 *   patterns, `assertBytes`, eventfd/timerfd counters;
 * - `_readiness.ts`: the masks `tcp_poll` reports, readiness now or after a
 *   wait on a private epoll, `assertPending`, an unpollable description;
 * - `_streams.ts`: whole streams over a Deno conn or a library fd;
 * - `_loopback.ts`: the suite's socket backend and the loopback TCP fixtures
 *   (a listening socket, a connected pair, closed and free ports, a peer
 *   that resets);
 * - `_udp.ts`: datagram sockets of the suite's backend;
 * - `_kqueue.ts`: kqueue shorthands;
 * - `_child.ts`: scripts run as child processes, signals to this process;
 * - `_clock.ts`: a clock the test moves, one loop turn, whether a promise
 *   has settled;
 * - `_sim.ts`: the simulated network's hosts (TCP and UDP);
 * - `_scripted_conn.ts`: a scripted `Deno.Conn` under a data channel.
 *
 * Library sockets are obtained only through the public calls (`socket`,
 * `bind`, `listen`, `connect`, `accept`), so a suite can run the same tests
 * over another socket backend by changing how these helpers are called.
 *
 * @module
 */

export * from "./_helpers/_basics.ts";
export * from "./_helpers/_readiness.ts";
export * from "./_helpers/_streams.ts";
export * from "./_helpers/_loopback.ts";
export * from "./_helpers/_udp.ts";
export * from "./_helpers/_kqueue.ts";
export * from "./_helpers/_child.ts";
export * from "./_helpers/_clock.ts";
export * from "./_helpers/_sim.ts";
export * from "./_helpers/_scripted_conn.ts";
