import assert from "node:assert/strict";
import { buildIslands } from "./bundle.ts";
import { importMapPlugin, localImports, resolveImport } from "./import_map.ts";
import { BROWSER_SAFE_MODULES, createTempProject } from "./testing.ts";

Deno.test("resolveImport: exact keys, then the longest matching prefix key", () => {
  const imports = {
    "$fresh/runtime.ts": "/p/framework/runtime.ts",
    "@/": "/p/src/",
    "@/lib/": "/p/lib/",
  };
  assert.equal(resolveImport(imports, "$fresh/runtime.ts"), "/p/framework/runtime.ts");
  assert.equal(resolveImport(imports, "$fresh/runtime.tsx"), undefined);
  assert.equal(resolveImport(imports, "@/a/b.ts"), "/p/src/a/b.ts");
  assert.equal(resolveImport(imports, "@/lib/x.ts"), "/p/lib/x.ts");
  assert.equal(resolveImport(imports, "preact"), undefined);
});

Deno.test("localImports: the project's own entries of deno.json, as absolute paths", async () => {
  await using project = await createTempProject({
    "deno.json": JSON.stringify({
      imports: {
        "$fresh/server.ts": "./framework/mod.ts",
        "$fresh/runtime.ts": "./framework/runtime.ts",
        "@/": "./src/",
        "up": "../elsewhere/up.ts",
        "preact": "npm:preact@11.2.0",
        "std/": "https://example.com/std/",
      },
    }),
  });
  const parent = project.root.slice(0, project.root.lastIndexOf("/"));
  assert.deepEqual(await localImports(project.root), {
    "$fresh/server.ts": `${project.root}/framework/mod.ts`,
    "$fresh/runtime.ts": `${project.root}/framework/runtime.ts`,
    "@/": `${project.root}/src/`,
    "up": `${parent}/elsewhere/up.ts`,
  });
});

Deno.test("localImports: none without a deno.json; a malformed one is an error", async () => {
  await using project = await createTempProject({});
  assert.deepEqual(await localImports(project.root), {});
  assert.equal((await importMapPlugin(project.root)).name, "deno-import-map");
  await project.write("deno.json", JSON.stringify({ imports: "./import_map.json" }));
  await assert.rejects(() => localImports(project.root), /"imports" must be an object/);
});

const ISLAND = `
import { asset, IS_BROWSER } from "$fresh/runtime.ts";
import type { PageProps } from "$fresh/server.ts";

export default function Logo({ url }: Pick<PageProps, "url">) {
  return <img src={asset("/logo.svg")} alt={IS_BROWSER ? "browser" : url.pathname} />;
}
`;

Deno.test("islands that import $fresh/ bundle through this project's deno.json", async () => {
  await using project = await createTempProject({ "islands/Logo.tsx": ISLAND });
  const bundle = () =>
    buildIslands({
      root: project.root,
      islands: project.islandPaths("Logo"),
      runtimeEntry: `${project.root}/framework/client.ts`,
    });
  // esbuild alone cannot resolve the alias: the plugin is what does.
  await assert.rejects(bundle, /Could not resolve "\$fresh\/runtime\.ts"/);

  await project.write(
    "deno.json",
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const built = await bundle();
  const framework = built.manifest.inputs.filter((p) => p.startsWith("framework/"));
  assert.ok(framework.includes("framework/runtime.ts"), framework.join());
  // Type-only imports of `$fresh/server.ts` bundle nothing; nothing server-side comes along.
  for (const module of framework) assert.ok(BROWSER_SAFE_MODULES.includes(module), module);
  assert.ok(!framework.includes("framework/mod.ts"), framework.join());
  const code = new TextDecoder().decode(built.files.get(built.manifest.islands.Logo));
  assert.match(code, /typeof document/, "IS_BROWSER from framework/runtime.ts is in the bundle");
});
