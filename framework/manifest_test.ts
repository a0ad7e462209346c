import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { generateManifest, islandName, writeManifest } from "./manifest.ts";

/** Runs `fn` in a temp project holding `files` (path -> contents), then removes it. */
async function withProject(
  files: Record<string, string>,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "manifest_test_" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, text);
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The module paths imported by a generated manifest, in order. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^import \* as \S+ from "([^"]+)";$/gm)].map((m) => m[1]);
}

Deno.test("islandName: path below islands/ without the extension", () => {
  assert.equal(islandName("./islands/Counter.tsx"), "Counter");
  assert.equal(islandName("./islands/meeting/Grid.ts"), "meeting/Grid");
});

Deno.test("generateManifest: sorted routes and islands, nested folders, tests skipped", async () => {
  await withProject({
    "routes/index.tsx": "",
    "routes/[room].tsx": "",
    "routes/_app.tsx": "",
    "routes/api/rooms/[room]/ws.ts": "",
    "routes/(group)/about.jsx": "",
    "routes/Zeta.js": "",
    "routes/index_test.ts": "",
    "routes/page.test.tsx": "",
    "routes/notes.md": "",
    "routes/styles.css": "",
    "islands/Counter.tsx": "",
    "islands/meeting/Grid.tsx": "",
    "islands/Counter_test.tsx": "",
    "components/Button.tsx": "",
  }, async (root) => {
    const source = await generateManifest(root);
    assert.deepEqual(importsOf(source), [
      "./routes/(group)/about.jsx",
      "./routes/Zeta.js",
      "./routes/[room].tsx",
      "./routes/_app.tsx",
      "./routes/api/rooms/[room]/ws.ts",
      "./routes/index.tsx",
      "./islands/Counter.tsx",
      "./islands/meeting/Grid.tsx",
    ]);
    // Each import is used under the matching key, routes and islands apart.
    assert.match(source, /import \* as \$1 from "\.\/routes\/Zeta\.js";/);
    assert.match(source, /"\.\/routes\/Zeta\.js": \$1,/);
    assert.match(source, /import \* as \$\$1 from "\.\/islands\/meeting\/Grid\.tsx";/);
    assert.ok(source.includes('islands: {\n    "./islands/Counter.tsx": $$0,\n'));
    assert.match(source, /baseUrl: import\.meta\.url,/);
  });
});

Deno.test("generateManifest: a project without islands/ or routes/", async () => {
  await withProject({ "main.ts": "" }, async (root) => {
    const source = await generateManifest(root);
    assert.deepEqual(importsOf(source), []);
    assert.ok(source.includes("routes: {\n  },\n  islands: {\n  },"));
  });
});

Deno.test("writeManifest: writes only when the source changed", async () => {
  await withProject({ "routes/index.tsx": "" }, async (root) => {
    assert.equal(await writeManifest(root), true);
    assert.equal(await Deno.readTextFile(`${root}/fresh.gen.ts`), await generateManifest(root));
    assert.equal(await writeManifest(root), false);
    await Deno.writeTextFile(`${root}/routes/about.tsx`, "");
    assert.equal(await writeManifest(root), true);
    assert.match(await Deno.readTextFile(`${root}/fresh.gen.ts`), /\.\/routes\/about\.tsx/);
  });
});

Deno.test("the committed fresh.gen.ts is up to date", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  const committed = await Deno.readTextFile(`${root}/fresh.gen.ts`);
  const expected = await generateManifest(root);
  assert.ok(
    committed === expected,
    "fresh.gen.ts does not match routes/ and islands/: run deno task build",
  );
});
