/**
 * The published package: what `deno publish` would upload, its license, and
 * the one way every doc example imports it.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("deno publish --dry-run passes and would upload the library, README and LICENSE only", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /Dry run complete/);
  const root = ROOT.href;
  const files = [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map((m) => m[1].replace(root, ""));
  assert.ok(files.includes("mod.ts") && files.includes("LICENSE") && files.includes("README.md"));
  assert.ok(files.some((f) => f.startsWith("runtime/")) && files.some((f) => f.startsWith("net/")));
  for (const f of files) {
    assert.match(f, /^(mod\.ts|sim\.ts|README\.md|LICENSE|deno\.json|(runtime|net)\/.+\.ts)$/, f);
    assert.doesNotMatch(f, /_test\.ts$/, f);
  }
});

Deno.test("the package is MIT licensed, in deno.json and in LICENSE", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.equal(config.license, "MIT");
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 deno-epoll authors\n/);
});

/** Every `.ts` file under `dir` (relative to the repository root). */
async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* tsFiles(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** The `import ... from "X"` specifiers of code blocks in JSDoc or Markdown. */
function docImports(text: string, markdown: boolean): string[] {
  const blocks = markdown
    ? [...text.matchAll(/```(?:ts|js|typescript)[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1])
    : [...text.matchAll(/^\s*\* ```(?:ts|js|typescript)[^\n]*\n([\s\S]*?)^\s*\* ```/gm)]
      .map((m) => m[1]);
  return blocks.flatMap((b) => [...b.matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]));
}

Deno.test("every doc example imports the package by its bare name (the form deno lint accepts), never another way", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const wanted = config.name;
  const files = ["README.md", "bench/README.md", "mod.ts", "sim.ts"];
  for (const dir of ["runtime", "net"]) for await (const f of tsFiles(dir)) files.push(f);
  let packageImports = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(file, ROOT));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (const spec of docImports(text, file.endsWith(".md"))) {
      if (spec === wanted || spec === `${wanted}/sim`) {
        packageImports++;
        continue;
      }
      // Other packages (node:) and a module's own siblings are fine; the
      // package itself only by its bare name, which `deno add` maps to JSR
      // and Deno resolves to this checkout (offline) inside the repository.
      assert.doesNotMatch(
        spec,
        /^(jsr:|@deno-epoll\/|https?:|.*\bmod\.ts$)/,
        `${file}: import from "${spec}", not "${wanted}"`,
      );
    }
  }
  assert.ok(packageImports > 20, `only ${packageImports} doc examples import the package`);
});

Deno.test("deno doc shows the object layer's optional parameters as optional", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0);
  for (
    const signature of [
      "constructor(flags?: number)",
      "add(fd: number, events: number, data?: unknown): void",
      "modify(fd: number, events: number, data?: unknown): void",
      "async wait(maxevents?: number, timeoutMs?: number): Promise<EpollEvent[]>",
      "async wait(nevents?: number, timeoutMs?: number, changes?: KEvent[]): Promise<KEvent[]>",
      "static listen(addr: SockAddr, options?: ListenerOptions): Listener",
      "shutdown(how?: number): void",
      "setNoDelay(on?: boolean): void",
      "setKeepAlive(on?: boolean): void",
    ]
  ) assert.ok(text.includes(`  ${signature}\n`), signature);
});
