// struct sockaddr encoding (net/native/sockaddr_codec.ts): pure functions,
// no FFI needed.
import assert from "node:assert/strict";
import {
  decodeSockaddr,
  encodeSockaddr,
  formatIPv6,
  parseIPv6,
} from "../net/native/sockaddr_codec.ts";
import { AF_INET, AF_INET6, AF_UNIX, type SockAddr } from "../mod.ts";

Deno.test("sockaddr_in, sockaddr_in6 and sockaddr_un round-trip through their C layouts", () => {
  const view = new DataView(new ArrayBuffer(128));
  const cases: [SockAddr, number][] = [
    [{ family: AF_INET, address: "10.1.2.3", port: 8080 }, 16],
    [{ family: AF_INET6, address: "::1", port: 443 }, 28],
    [{ family: AF_INET6, address: "2001:db8::8:800:200c:417a", port: 1 }, 28],
    [{ family: AF_INET6, address: "::ffff:1.2.3.4", port: 2 }, 28],
    [{ family: AF_UNIX, path: "/tmp/x.sock" }, 2 + 11 + 1],
  ];
  for (const [addr, len] of cases) {
    assert.equal(encodeSockaddr(addr, view), len);
    assert.deepEqual(decodeSockaddr(view, len), addr);
  }
  assert.equal(view.getUint8(2), "/".charCodeAt(0), "the path follows the 2-byte family");
  encodeSockaddr({ family: AF_INET, address: "1.2.3.4", port: 0x1234 }, view);
  assert.deepEqual([...new Uint8Array(view.buffer, 0, 8)], [2, 0, 0x12, 0x34, 1, 2, 3, 4]);
  assert.equal(formatIPv6(parseIPv6("1:0:0:1:0:0:0:1")!), "1:0:0:1::1");
  assert.equal(formatIPv6(parseIPv6("0:0:0:0:0:0:0:0")!), "::");
  for (const bad of ["1::2::3", ":::", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7"]) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});
