/**
 * Every documented example passes `deno lint` as written: the README's code
 * blocks and the JSDoc examples of the package, each copied into a project
 * of its own that maps the package's name to this checkout (the README's
 * checkout form), then linted with Deno's default rules and type-checked.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** One documented example: where it is written, and its code. */
interface Example {
  where: string;
  code: string;
}

/** Every `.ts` file under `dir` (relative to the repository root). */
async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* tsFiles(path);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield path;
  }
}

/**
 * `code` with its relative imports (an internal module's example of its
 * sibling) resolved against `base`, as `deno test --doc` resolves them.
 */
function resolveRelative(code: string, base: URL): string {
  return code.replace(/(\bfrom\s+")(\.\.?\/[^"]+)"/g, (_, from, spec) => {
    return `${from}${new URL(spec, base).href}"`;
  });
}

/** The TypeScript blocks of a Markdown file or of a module's JSDoc, `ignore` ones too. */
export function examples(file: string, text: string): Example[] {
  const found: Example[] = [];
  const re = file.endsWith(".md")
    ? /^```(?:ts|typescript)\b[^\n]*\n([\s\S]*?)^```/gm
    : /^\s*\* ```(?:ts|typescript)\b[^\n]*\n([\s\S]*?)^\s*\* ```/gm;
  for (const m of text.matchAll(re)) {
    const line = text.slice(0, m.index).split("\n").length;
    const code = file.endsWith(".md") ? m[1] : m[1].replace(/^\s*\* ?/gm, "");
    found.push({ where: `${file}:${line}`, code: resolveRelative(code, new URL(file, ROOT)) });
  }
  return found;
}

/** Every documented example of the package. */
async function allExamples(): Promise<Example[]> {
  const files = ["README.md", "bench/README.md", "mod.ts", "sim.ts"];
  for (const dir of ["runtime", "net"]) for await (const f of tsFiles(dir)) files.push(f);
  const all: Example[] = [];
  for (const file of files) {
    all.push(...examples(file, await Deno.readTextFile(new URL(file, ROOT))));
  }
  return all;
}

/** Runs `deno <args>` in `cwd`; its exit code and output. */
async function deno(args: string[], cwd: string): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("the example extractor finds the blocks of Markdown and of JSDoc", () => {
  const md = "text\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```ts ignore\nconst b = 2;\n```\n";
  assert.deepEqual(examples("x.md", md), [
    { where: "x.md:2", code: "const a = 1;\n" },
    { where: "x.md:8", code: "const b = 2;\n" },
  ]);
  const js = "/**\n * @example Two\n * ```ts\n * const a = 1;\n *\n * a;\n * ```\n */\n";
  assert.deepEqual(examples("x.ts", js), [{ where: "x.ts:3", code: "const a = 1;\n\na;\n" }]);
});

Deno.test("deno lint and deno check pass on every documented example as written", async () => {
  const all = await allExamples();
  assert.ok(all.length > 40, `only ${all.length} examples found`);
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("mod.ts", ROOT).href;
    const sim = new URL("sim.ts", ROOT).href;
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: { "@deno-epoll/epoll": mod, "@deno-epoll/epoll/sim": sim },
        unstable: ["net"],
      }),
    );
    const names: string[] = [];
    for (const [i, ex] of all.entries()) {
      const name = `example_${i}.ts`;
      names.push(name);
      await Deno.writeTextFile(`${dir}/${name}`, ex.code);
    }
    const where = (text: string) =>
      text.replace(/example_(\d+)\.ts/g, (_, i) => `${all[Number(i)].where} (example_${i}.ts)`);
    const lint = await deno(["lint", ...names], dir);
    assert.equal(lint.code, 0, where(lint.text));
    const check = await deno(["check", ...names], dir);
    assert.equal(check.code, 0, where(check.text));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
