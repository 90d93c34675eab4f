// A program that a simulated host loads with `import()` (tests/sim_startup_test.ts):
// its first call, made as the module is evaluated, is the host's.
import { AF_INET, SOCK_STREAM, socket } from "../mod.ts";

socket(AF_INET, SOCK_STREAM, 0);
