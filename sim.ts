/**
 * The simulated network: run servers and clients written against this
 * library on a deterministic, fault-injecting network inside one process,
 * on virtual time, and replay any failure from its seed. This entry
 * re-exports everything `mod.ts` exports, so one import serves a test.
 *
 * @example
 * ```ts
 * import { AF_INET, SOCK_STREAM } from "@deno-epoll/epoll";
 * import { createSimNetwork } from "@deno-epoll/epoll/sim";
 * import assert from "node:assert/strict";
 *
 * const sim = createSimNetwork({ seed: 1 });
 * const server = sim.addHost("server");
 * sim.spawn(server, (os) => {
 *   const fd = os.socket(AF_INET, SOCK_STREAM, 0);
 *   os.bind(fd, { family: AF_INET, address: "0.0.0.0", port: 80 });
 *   os.listen(fd, 16);
 * });
 * sim.client("client", async (os) => {
 *   const fd = os.socket(AF_INET, SOCK_STREAM, 0);
 *   os.connect(fd, { family: AF_INET, address: server.addresses[0], port: 80 });
 *   await os.sleep(100);
 *   assert.equal(sim.netstat("client")[0].state, "ESTABLISHED");
 * });
 * await sim.run();
 * ```
 *
 * @module
 */

export * from "./mod.ts";
export {
  createSimNetwork,
  type HostRef,
  type NetstatRow,
  type RuleVerdict,
  SimNetwork,
  type SimNetworkOptions,
  type SimReport,
  type SimRunOptions,
} from "./net/sim/network.ts";
export type { SimHost, SimHostOptions, SimMain } from "./net/sim/host.ts";
export type { SimHostCalls, SimOs } from "./net/sim/_host_os.ts";
export { SIM_BACKEND } from "./net/sim/backend.ts";
export { type BlockedWait, SimError, SimLeakError } from "./net/sim/errors.ts";
export type { LinkOptions, TcpKnobs } from "./net/sim/_knobs.ts";
export type { Endpoint, Segment } from "./net/sim/_segment.ts";
export type { SimTraceEvent } from "./net/sim/_trace.ts";
export {
  checkDeterminism,
  type CheckDeterminismOptions,
  forEachSeed,
  type ForEachSeedOptions,
  type SeedFailure,
  type SimBuild,
} from "./net/sim/determinism.ts";
export { VIRTUAL_EPOCH_MS } from "./net/sim/globals.ts";
