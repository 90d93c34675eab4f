/**
 * The examples' command line: `--help` lists every flag, mistakes and
 * failures are one line on stderr with a non-zero exit (never a stack
 * trace), host names resolve, and every example honours the common flags.
 */

import assert from "node:assert/strict";
import { COMMON_FLAGS } from "../examples/_flags.ts";
import { SERVER_FLAGS } from "../examples/_listen.ts";
import { allSettled, runExample, RunningExample, runTask, SERVERS } from "./_examples.ts";
import { IPV6_LOOPBACK } from "./_helpers.ts";

/** Each server's task in deno.json, as the server names it in its --help. */
const TASKS: Record<string, string> = {
  echo_server: "echo",
  echo_server_et: "echo:et",
  chat_server: "chat",
  http_server: "http",
  kqueue_echo_server: "echo:kqueue",
  resp_server: "resp",
};

/** Asserts that `stderr` is exactly one line from `name`, with no stack trace. */
function assertOneLine(stderr: string, name: string, re: RegExp): void {
  assert.match(stderr, new RegExp(`^${name}: [^\\n]+\\n$`), `not one line: ${stderr}`);
  assert.doesNotMatch(stderr, /\bat .*:\d+:\d+|error: Uncaught/);
  assert.match(stderr, re);
}

const PAIR_FLAGS = [...Object.keys(COMMON_FLAGS), "clients", "messages"];

Deno.test("every example's --help lists every flag and exits 0", async () => {
  const wanted: [string, string[]][] = [
    ...SERVERS.map((s): [string, string[]] => [s, Object.keys(SERVER_FLAGS)]),
    ["socketpair_echo.ts", PAIR_FLAGS],
  ];
  await allSettled(wanted.map(async ([script, flags]) => {
    for (const help of ["--help", "-h"]) {
      const { code, stdout, stderr } = await runExample(script, [help]);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, "");
      const name = script.replace(/\.ts$/, "");
      assert.match(stdout, new RegExp(`^${name}: .+\\n\\nUsage: deno run `));
      for (const flag of ["help", ...flags]) {
        assert.match(stdout, new RegExp(`\\n  (-\\w, )?--${flag}\\b`), `${script}: --${flag}`);
      }
    }
  }));
});

Deno.test("a wrong flag or value is one line on stderr and exit status 2", async () => {
  const cases: [string, string[], RegExp][] = [
    ["echo_server.ts", ["--bogus"], /unknown flag --bogus/],
    ["echo_server.ts", ["--port", "99999"], /--port: expected an integer 0\.\.65535, got "99999"/],
    ["echo_server_et.ts", ["--port", "-1"], /--port: expected an integer/],
    ["chat_server.ts", ["--port"], /--port needs a value/],
    ["http_server.ts", ["--interval", "0"], /--interval: expected a number of seconds > 0/],
    ["http_server.ts", ["--stats=yes"], /--stats takes no value/],
    ["echo_server.ts", ["8080"], /unexpected argument "8080"/],
    ["echo_server.ts", ["-x"], /unknown flag -x/],
    ["echo_server.ts", ["--host", "no such host"], /neither an IP address nor a host name/],
    ["socketpair_echo.ts", ["--clients", "many"], /--clients: expected an integer/],
  ];
  await allSettled(cases.map(async ([script, args, re]) => {
    const { code, stdout, stderr } = await runExample(script, args);
    assert.equal(code, 2, `${script} ${args}: ${stderr}`);
    assert.equal(stdout, "");
    assertOneLine(stderr, script.replace(/\.ts$/, ""), re);
  }));
});

Deno.test("a port in use is one line naming EADDRINUSE and exit status 1", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((held.addr as Deno.NetAddr).port);
    await allSettled(SERVERS.map(async (script) => {
      const { code, stderr } = await runExample(script, ["--port", port]);
      assert.equal(code, 1, stderr);
      assertOneLine(
        stderr,
        script.replace(/\.ts$/, ""),
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*\\(EADDRINUSE\\); .*--port 0`),
      );
    }));
  } finally {
    held.close();
  }
});

Deno.test("without --allow-net a server says to add it, in one line, exit status 1", async () => {
  await allSettled(SERVERS.map(async (script) => {
    const { code, stderr } = await runExample(script, ["--port", "0"], []);
    assert.equal(code, 1, stderr);
    assertOneLine(stderr, script.replace(/\.ts$/, ""), /\(EACCES\); run with --allow-net/);
  }));
});

Deno.test("--host localhost listens on 127.0.0.1 and serves", async () => {
  await using server = await RunningExample.start("echo_server.ts", [
    "--port",
    "0",
    "--host",
    "localhost",
  ]);
  assert.equal(server.host, "127.0.0.1");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(new TextEncoder().encode("hi"));
    const buf = new Uint8Array(2);
    let got = 0;
    while (got < 2) got += (await conn.read(buf.subarray(got))) ?? 2;
    assert.equal(new TextDecoder().decode(buf), "hi");
  } finally {
    conn.close();
  }
});

Deno.test({
  name: "--host ::1 and --host [::1] listen on IPv6 loopback",
  ignore: !IPV6_LOOPBACK,
  fn: async () => {
    for (const host of ["::1", "[::1]"]) {
      await using server = await RunningExample.start("http_server.ts", [
        "--port",
        "0",
        "--host",
        host,
      ]);
      assert.equal(server.host, "::1");
      const conn = await Deno.connect({ hostname: "::1", port: server.port });
      conn.close();
    }
  },
});

Deno.test("--stats prints a summary every --interval seconds in every example", async () => {
  const line = (name: string) => new RegExp(`${name}: \\d+ open, \\d+ accepted, .* events/s, rss`);
  await allSettled(SERVERS.map(async (script) => {
    await using server = await RunningExample.start(script, [
      "--port",
      "0",
      "--stats",
      "--interval",
      "0.1",
    ]);
    const m = await server.waitFor(line(script.replace(/\.ts$/, "")));
    assert.match(m.input!.slice(m.index).split("\n")[0], /, deno backend$/);
  }));
  const { code, stdout, stderr } = await runExample("socketpair_echo.ts", [
    "--clients",
    "2",
    "--messages",
    "20000",
    "--stats",
    "--interval",
    "0.05",
  ], []);
  assert.equal(code, 0, stderr);
  assert.match(stdout, line("socketpair_echo"));
  assert.match(stdout, /\nsocketpair_echo: 2 clients, 40000 messages echoed, \d+ bytes verified/);
});

Deno.test("SIGTERM stops a server with exit status 0", async () => {
  const server = await RunningExample.start("chat_server.ts");
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0);
  assert.equal(server.stderr.text, "");
});

Deno.test("--backend native without --allow-ffi is one line with the commands that work, exit status 1; a wrong name exits 2", async () => {
  await allSettled(SERVERS.map(async (script) => {
    const name = script.replace(/\.ts$/, "");
    const noFfi = await runExample(script, ["--port", "0", "--backend", "native"]);
    assert.equal(noFfi.code, 1, noFfi.stderr);
    assertOneLine(noFfi.stderr, name, /--backend native: .*--allow-ffi/);
    const task = TASKS[name];
    assert.ok(
      noFfi.stderr.includes(
        `run: npx -y deno@2.9.6 task ${task}:native --port 0, or ` +
          `npx -y deno@2.9.6 run --allow-net --allow-ffi examples/${script} --backend native --port 0\n`,
      ),
      noFfi.stderr,
    );
    const wrong = await runExample(script, ["--port", "0", "--backend", "kernel"]);
    assert.equal(wrong.code, 2, wrong.stderr);
    assertOneLine(wrong.stderr, name, /--backend: expected deno or native, got "kernel"/);
  }));
});

Deno.test("the deno run command the native-backend message prints runs the server on native", async () => {
  const { stderr } = await runExample("echo_server.ts", ["-p", "0", "--backend", "native"]);
  const command = stderr.match(/, or npx -y deno@2\.9\.6 run (.*)\n$/)?.[1];
  assert.ok(command, stderr);
  const [permissions, rest] = command.split(" examples/echo_server.ts ");
  await using server = await RunningExample.start(
    "echo_server.ts",
    rest.split(" "),
    permissions.split(" "),
  );
  assert.equal(server.backend, "native");
});

Deno.test("DENO_EPOLL_BACKEND=native that cannot be used is one line with the command that works, exit status 1", async () => {
  const { code, stdout, stderr } = await runExample(
    "http_server.ts",
    ["--port", "0"],
    ["--allow-net", "--allow-env=DENO_EPOLL_BACKEND"],
    30_000,
    { DENO_EPOLL_BACKEND: "native" },
  );
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  assertOneLine(stderr, "http_server", /DENO_EPOLL_BACKEND=native cannot be used: .*--allow-ffi/);
  assert.match(
    stderr,
    /; unset it, or run: npx -y deno@2\.9\.6 run --allow-net --allow-ffi examples\/http_server\.ts --backend native --port 0\n$/,
  );
});

Deno.test("every server's first line names its backend: deno by default, native from DENO_EPOLL_BACKEND", async () => {
  await allSettled(SERVERS.map(async (script) => {
    await using server = await RunningExample.start(script);
    assert.equal(server.backend, "deno", script);
  }));
  await using native = await RunningExample.start(
    "echo_server_et.ts",
    ["--port", "0"],
    ["--allow-net", "--allow-ffi", "--allow-env=DENO_EPOLL_BACKEND"],
    20_000,
    { DENO_EPOLL_BACKEND: "native" },
  );
  assert.equal(native.backend, "native");
});

Deno.test("each server's TASK:native task and quickstart:native run on kernel sockets", async () => {
  const names = [...Object.values(TASKS), "quickstart"].map((t) => `${t}:native`);
  await allSettled(names.map(async (task) => {
    await using server = await RunningExample.task(task, ["--port", "0"]);
    assert.equal(server.backend, "native", task);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.close();
  }));
});

Deno.test("an example task reads DENO_EPOLL_BACKEND: native without --allow-ffi fails in one line instead of running on deno", async () => {
  const { code, stdout, stderr } = await runTask("echo", ["--port", "0"], {
    DENO_EPOLL_BACKEND: "native",
  });
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  assertOneLine(stderr, "echo_server", /DENO_EPOLL_BACKEND=native cannot be used/);
});

Deno.test("-p is --port, in the servers and in the quick start task", async () => {
  await using server = await RunningExample.start("chat_server.ts", ["-p", "0"]);
  assert.equal(server.backend, "deno");
  for (const args of [["--port", "0"], ["-p", "0"]]) {
    await using quick = await RunningExample.task("quickstart", args);
    assert.notEqual(quick.port, 8080);
  }
});

Deno.test("the echo servers echo over kernel sockets with --backend native --allow-ffi", async () => {
  await allSettled(
    SERVERS.filter((s) => /echo/.test(s)).map(async (script) => {
      await using server = await RunningExample.start(
        script,
        ["--port", "0", "--backend", "native"],
        ["--allow-net", "--allow-ffi"],
      );
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await conn.write(new TextEncoder().encode("native"));
        const buf = new Uint8Array(6);
        let got = 0;
        while (got < 6) got += (await conn.read(buf.subarray(got))) ?? 6;
        assert.equal(new TextDecoder().decode(buf), "native");
      } finally {
        conn.close();
      }
    }),
  );
});

Deno.test("every example has a deno.json task with --allow-net at most (dns_server: and --allow-read), and every server a :native one", async () => {
  const root = new URL("../", import.meta.url);
  const tasks: Record<string, string> =
    JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  for await (const e of Deno.readDir(new URL("examples/", root))) {
    // Helpers (_*.ts) and tests (*_test.ts, run by deno test) are not programs.
    if (!e.name.endsWith(".ts") || e.name.startsWith("_") || e.name.endsWith("_test.ts")) continue;
    const runs = Object.entries(tasks).filter(([, t]) => t.includes(`examples/${e.name}`));
    assert.ok(runs.length > 0, `no task runs examples/${e.name}`);
    for (const [name, t] of runs) {
      if (name.endsWith(":native")) {
        assert.match(t, /^(DENO_EPOLL_BACKEND=native )?deno run --allow-net --allow-ffi /, t);
        assert.ok(tasks[name.slice(0, -":native".length)], `${name} without its deno task`);
      } else {
        const env = "(--allow-env=DENO_EPOLL_BACKEND )?";
        const read = e.name === "dns_server.ts" ? "(--allow-read )?" : ""; // its --zone file
        assert.match(t, new RegExp(`^deno run (--allow-net ${read}${env})?examples/\\S+\\.ts$`), t);
      }
    }
  }
  for (const [name, task] of Object.entries(TASKS)) {
    assert.equal(
      tasks[task],
      `deno run --allow-net --allow-env=DENO_EPOLL_BACKEND examples/${name}.ts`,
    );
    assert.equal(
      tasks[`${task}:native`],
      `deno run --allow-net --allow-ffi examples/${name}.ts --backend native`,
    );
  }
});
