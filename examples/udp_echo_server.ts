/**
 * A UDP echo server on deno-epoll: every datagram comes back to its sender,
 * byte for byte (an empty one too).
 *
 * ```sh
 * deno run --allow-net --unstable-net examples/udp_echo_server.ts [--host 127.0.0.1] [--port 8080] [--batch 64] [--stats]
 * deno run --allow-net --allow-ffi examples/udp_echo_server.ts --backend native
 * ```
 *
 * One socket, one epoll set, one loop (`_datagram_server.ts`): `recvmmsg`
 * takes up to `--batch` datagrams, `sendmmsg` sends them all back. On the
 * native backend that is two system calls per batch, as in a C server; the
 * deno backend rides on `Deno.listenDatagram`, which needs `--unstable-net`
 * (the repository's `deno.json` turns it on). A full send buffer stops the
 * reading until it drains, so memory stays bounded whatever clients send. A
 * datagram from a port below 1024 or from the server's own address gets no
 * echo: with a forged source, an echo server would otherwise bounce it off
 * another service (echo, chargen) or itself forever.
 *
 * Try it with `nc -u 127.0.0.1 8080` (type lines) or `socat - UDP:127.0.0.1:8080`.
 * `sockperf ping-pong -i 127.0.0.1 -p 8080` measures round trips once the
 * server runs with `--sockperf`: sockperf's client accepts only replies that
 * clear the "client" bit of its header, as `sockperf server` does, so the
 * server then answers its pong requests that way (and nothing else);
 * `deno task bench:udp` measures it against C, `Deno.listenDatagram` and Node.
 *
 * @module
 */

import "./_trap.ts"; // first: any failure, even while importing, is one line on stderr
import { batchFlag, openDatagram, serveDatagrams, udpPortFlag } from "./_datagram_server.ts";
import { switchFlag } from "./_flags.ts";
import { parseServerArgs } from "./_listen.ts";
import { startStats, Stats } from "./_stats.ts";

const NAME = "udp_echo_server";
const opts = parseServerArgs({
  name: NAME,
  task: "echo:udp",
  summary: "a UDP echo server: every datagram comes back to its sender",
  details: [
    "Prints one line with the address it listens on (and --stats lines); stop it with Ctrl-C.",
    "Try: nc -u 127.0.0.1 8080, socat - UDP:127.0.0.1:8080;",
    "with --sockperf: sockperf ping-pong -i 127.0.0.1 -p 8080",
  ],
  flags: {
    port: udpPortFlag(8080),
    batch: batchFlag,
    sockperf: switchFlag(
      "answer as sockperf's server does (for sockperf ping-pong) instead of echoing",
    ),
  },
});

/**
 * sockperf's header: a 64-bit sequence number, then a 16-bit flags word and
 * a 32-bit length, big-endian. Its client sets CLIENT (and PONG when it
 * wants an answer) and accepts only replies with CLIENT cleared; WARMUP
 * messages get no answer.
 */
const SOCKPERF = { HEADER: 14, FLAGS_LOW: 9, CLIENT: 1, PONG: 2, WARMUP: 4 } as const;

/** Answers like `sockperf server`: pong requests come back with the client bit cleared. */
function sockperfReply(datagram: Uint8Array): Uint8Array | null {
  if (datagram.length < SOCKPERF.HEADER) return null;
  const flags = datagram[SOCKPERF.FLAGS_LOW];
  const want = SOCKPERF.CLIENT | SOCKPERF.PONG;
  if ((flags & want) !== want || flags & SOCKPERF.WARMUP) return null;
  datagram[SOCKPERF.FLAGS_LOW] = flags & ~SOCKPERF.CLIENT;
  return datagram;
}

const stats = new Stats();
stats.datagrams = true;
const fd = await openDatagram(NAME, opts);
if (opts.stats) startStats(NAME, stats, opts.interval, opts.backend);
// The reply is the datagram itself: it is sent before its slot is filled again.
await serveDatagrams(NAME, fd, opts.batch, opts.sockperf ? sockperfReply : (d) => d, stats);
