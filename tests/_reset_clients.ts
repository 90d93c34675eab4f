/**
 * Clients that connect and then reset (`SO_LINGER` 0, then `close`: the
 * kernel sends RST), made through the C library with Deno FFI because Deno
 * offers no `SO_LINGER`. Used to fill a server's accept queue with dead
 * connections. Linux only; {@linkcode resetClientsAvailable} says whether
 * it can run here.
 *
 * @module
 */

const SOL_SOCKET = 1;
const SO_LINGER = 13;
const AF_INET = 2;
const SOCK_STREAM = 1;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (lib === undefined) {
    try {
      lib = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", SYMBOLS) : null;
    } catch {
      lib = null;
    }
  }
  return lib;
}

/** Whether FFI and Linux's C library are available (opens and closes it once). */
export function resetClientsAvailable(): boolean {
  const ok = libc() !== null;
  closeResetClients();
  return ok;
}

/** `struct sockaddr_in` for 127.0.0.1:`port`. */
function loopback(port: number): Uint8Array {
  const sa = new Uint8Array(16);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  sa.set([127, 0, 0, 1], 4);
  return sa;
}

/**
 * Opens `count` blocking connections to 127.0.0.1:`port` (each returns once
 * the kernel completed the handshake, so the server's backlog must have
 * room), then resets them all. Synchronous: the caller's event loop does not
 * run meanwhile, so a Deno server in this process cannot accept them before
 * they are dead. Returns how many connected.
 */
export function resetFlood(port: number, count: number): number {
  const c = libc();
  if (c === null) throw new Error("FFI or libc unavailable");
  const sa = loopback(port);
  const linger = new Int32Array([1, 0]); // l_onoff = 1, l_linger = 0
  const fds: number[] = [];
  let connected = 0;
  try {
    for (let i = 0; i < count; i++) {
      const fd = c.symbols.socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) break;
      fds.push(fd);
      if (c.symbols.connect(fd, sa, sa.length) !== 0) break;
      connected++;
      c.symbols.setsockopt(fd, SOL_SOCKET, SO_LINGER, new Uint8Array(linger.buffer), 8);
    }
  } finally {
    for (const fd of fds) c.symbols.close(fd);
  }
  return connected;
}

/** Closes the C library handle (tests call it in their last `finally`). */
export function closeResetClients(): void {
  lib?.close();
  lib = undefined;
}
