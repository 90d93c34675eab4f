import assert from "node:assert/strict";

Deno.test("examples/socketpair_echo.ts echoes every message and exits 0", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "examples/socketpair_echo.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  // 8 clients x 100 lines "client <i> message <j>\n": the bytes the program must report.
  let bytes = 0;
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 100; j++) bytes += `client ${i} message ${j}\n`.length;
  }
  assert.match(
    out,
    new RegExp(
      `^socketpair_echo: 8 clients, 800 messages echoed, ${bytes} bytes verified, \\d+ waits\\n$`,
    ),
  );
});
