/**
 * Import boundaries: `mod.ts` and `runtime.ts`, what routes, components and islands import as
 * `$fresh/server.ts` and `$fresh/runtime.ts`, reach no server code; the server reaches the
 * bundler (and esbuild) only through a dynamic `import()`, and takes it only when it must
 * build, never over a fresh prebuilt `_fresh/`.
 */
import assert from "node:assert/strict";
import { writeBuild } from "./build.ts";
import { buildIslands } from "./bundle.ts";
import {
  BROWSER_SAFE_MODULES,
  createTempProject,
  importGraph,
  type TempProject,
} from "./testing.ts";
import type { FreshConfig } from "./types.ts";

const PROJECT = new URL("..", import.meta.url);

/** npm packages an island may get through the framework. */
const BROWSER_PACKAGES = ["npm:preact", "npm:@preact/signals"];

/** Server-only modules named outright, so a failure says which one leaked. */
const SERVER_ONLY = [
  "framework/server.ts",
  "framework/bundle.ts",
  "framework/render.ts",
  "framework/twind.ts",
  "framework/static.ts",
  "npm:esbuild",
  "npm:@twind/core",
  "npm:preact-render-to-string",
];

/** deno.json's import map, as the project's modules resolve through it. */
async function projectImports(): Promise<Record<string, string>> {
  return JSON.parse(await Deno.readTextFile(new URL("deno.json", PROJECT))).imports;
}

Deno.test("$fresh/server.ts and $fresh/runtime.ts are aliases of browser-safe modules", async () => {
  const imports = await projectImports();
  assert.equal(imports["$fresh/server.ts"], "./framework/mod.ts");
  assert.equal(imports["$fresh/runtime.ts"], "./framework/runtime.ts");
  assert.ok(BROWSER_SAFE_MODULES.includes("framework/mod.ts"));
  assert.ok(BROWSER_SAFE_MODULES.includes("framework/runtime.ts"));
});

for (
  const [alias, entry, reaches] of [
    ["$fresh/server.ts", "framework/mod.ts", "framework/types.ts"],
    ["$fresh/runtime.ts", "framework/runtime.ts", "npm:preact"],
  ]
) {
  Deno.test(`${alias} (${entry}) reaches only browser-safe modules, by any import`, async () => {
    // Dynamic and type-only imports count too: esbuild follows the first into island bundles,
    // and the second would still make the module depend on server code.
    const graph = await importGraph(entry, { dynamic: true, types: true });
    assert.ok(graph.has(reaches), `the walk follows ${entry}'s imports`);
    for (const module of SERVER_ONLY) assert.ok(!graph.has(module), `${entry} reaches ${module}`);
    assert.deepEqual([...graph].filter((m) => m.startsWith("node:")), [], "node: builtins");
    const unexpected = [...graph].filter((m) =>
      !BROWSER_SAFE_MODULES.includes(m) && !BROWSER_PACKAGES.includes(m)
    );
    assert.deepEqual(unexpected, [], "modules outside the browser-safe list");
  });
}

/** Every module of the app's routes/, islands/ and components/, and fresh.config.ts. */
async function appModules(): Promise<string[]> {
  const out = ["fresh.config.ts"];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(new URL(dir, PROJECT))) {
      if (e.isDirectory) await walk(`${dir}${e.name}/`);
      else if (/\.(tsx|ts|jsx|js)$/.test(e.name)) out.push(`${dir}${e.name}`);
    }
  }
  for (const dir of ["routes/", "islands/", "components/"]) await walk(dir);
  return out;
}

Deno.test("the app imports the framework as a Fresh app does: through $fresh/ only", async () => {
  const modules = await appModules();
  assert.ok(modules.includes("routes/_app.tsx") && modules.includes("islands/Meeting.tsx"));
  const specifier = /\bfrom\s+["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']/g;
  for (const module of modules) {
    const source = await Deno.readTextFile(new URL(module, PROJECT));
    const specifiers = [...source.matchAll(specifier)].map((m) => m[1] ?? m[2]);
    const direct = specifiers.filter((s) => /(^|\/)framework\//.test(s));
    assert.deepEqual(direct, [], `${module} imports framework/ by path`);
    // Every route declares its handlers' or page's types, so every route imports $fresh/.
    if (module.startsWith("routes/")) {
      assert.ok(specifiers.some((s) => s.startsWith("$fresh/")), `${module}: no $fresh/ import`);
    }
  }
});

Deno.test("framework/build.ts, which loads prebuilt builds, imports no bundler", async () => {
  const graph = await importGraph("framework/build.ts", { dynamic: true, types: true });
  assert.deepEqual([...graph], ["framework/build.ts"]);
});

Deno.test("server.ts and cli.ts reach the bundler and esbuild only through import()", async () => {
  for (const entry of ["framework/server.ts", "framework/cli.ts"]) {
    const upFront = await importGraph(entry);
    assert.ok(upFront.has("framework/build.ts"), `${entry} loads prebuilt builds`);
    assert.ok(!upFront.has("framework/bundle.ts"), `${entry} imports bundle.ts statically`);
    assert.ok(!upFront.has("npm:esbuild"), `${entry} imports esbuild statically`);
    // The bundler is still there for dev and stale builds, and the walk can see it.
    const all = await importGraph(entry, { dynamic: true });
    assert.ok(all.has("framework/bundle.ts") && all.has("npm:esbuild"), entry);
  }
});

const COUNTER = `
import { useState } from "preact/hooks";

export default function Counter() {
  const [n, setN] = useState(0);
  return <button class="px-2" onClick={() => setN(n + 1)}>{n} +1</button>;
}
`;

/** Run in a child process: createApp over the temp project, then fetch the island's bundle. */
const CREATE_APP = (config: FreshConfig) => `
import { createApp } from "./framework/server.ts";
import * as Counter from "./islands/Counter.tsx";

const app = await createApp({
  routes: {},
  islands: { "./islands/Counter.tsx": Counter },
  baseUrl: new URL("./fresh.gen.ts", import.meta.url).href,
}, ${JSON.stringify(config)});
const file = app.build.manifest.islands.Counter;
const res = await app.handler(new Request("http://localhost/_frsh/js/" + file));
const bytes = (await res.arrayBuffer()).byteLength;
console.log(JSON.stringify({ inputsHash: app.build.manifest.inputsHash, file, status: res.status, bytes }));
`;

/**
 * Runs createApp over `project` in a child process whose import map sends `esbuild` to a module
 * that throws when evaluated. A static import of esbuild anywhere in the server's graph fails at
 * start; a dynamic one fails when it runs. Everything else resolves as in this project.
 */
async function createAppWithoutEsbuild(project: TempProject, config: FreshConfig = {}) {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", PROJECT)));
  const imports: Record<string, string> = {};
  // deno.json lets `preact` cover `preact/hooks`; an import map needs the prefix spelled out,
  // in the `npm:/` form that subpaths can be resolved against.
  for (const [name, target] of Object.entries<string>(denoJson.imports)) {
    imports[name] = target;
    if (target.startsWith("npm:")) {
      imports[`${name}/`] = `${target.replace(/^npm:(?!\/)/, "npm:/")}/`;
    }
  }
  imports.esbuild = `${project.manifestUrl.replace(/fresh\.gen\.ts$/, "")}poisoned_esbuild.js`;
  await project.write(
    "poisoned_esbuild.js",
    `throw new Error("esbuild was imported");\n`,
  );
  await project.write("import_map.json", JSON.stringify({ imports }));
  await project.write("create_app.ts", CREATE_APP(config));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      // This project's config (node_modules, JSX), its import map replaced; deno.lock untouched.
      `--config=${new URL("deno.json", PROJECT).pathname}`,
      `--import-map=${project.root}/import_map.json`,
      "--frozen",
      `${project.root}/create_app.ts`,
    ],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    ok: out.success,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("createApp over a fresh prebuilt _fresh/ serves it without importing esbuild", async () => {
  await using project = await createTempProject({ "islands/Counter.tsx": COUNTER });
  const built = await buildIslands({
    root: project.root,
    islands: project.islandPaths("Counter"),
    runtimeEntry: `${project.root}/framework/client.ts`,
  });
  await writeBuild(`${project.root}/_fresh`, built);

  const fresh = await createAppWithoutEsbuild(project);
  assert.ok(fresh.ok, fresh.stderr);
  const served = JSON.parse(fresh.stdout);
  assert.equal(served.inputsHash, built.manifest.inputsHash, "the prebuilt build is served");
  assert.equal(served.file, built.manifest.islands.Counter);
  assert.equal(served.status, 200);
  assert.equal(served.bytes, built.files.get(built.manifest.islands.Counter)?.byteLength);

  // The same check must catch a build: dev mode always builds...
  const dev = await createAppWithoutEsbuild(project, { dev: true });
  assert.ok(!dev.ok, "dev mode built without esbuild?");
  assert.match(dev.stderr, /esbuild was imported/);

  // ...and a stale _fresh/ is never served: the server refuses to start, without the bundler.
  await project.write("islands/Counter.tsx", COUNTER.replace("+1", "plus one"));
  const stale = await createAppWithoutEsbuild(project);
  assert.ok(!stale.ok, "a stale build was served");
  assert.match(stale.stderr, /_fresh: sources changed since the build\. Run `deno task build`/);
  assert.doesNotMatch(stale.stderr, /esbuild was imported/);
});
