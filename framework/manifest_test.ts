import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { generateManifest, importNames, islandName, writeManifest } from "./manifest.ts";

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
    // Each import is used under the matching key, routes and islands apart, named as Fresh
    // names them.
    assert.match(source, /import \* as \$Zeta from "\.\/routes\/Zeta\.js";/);
    assert.match(source, /"\.\/routes\/Zeta\.js": \$Zeta,/);
    assert.match(source, /"\.\/routes\/api\/rooms\/\[room\]\/ws\.ts": \$api_rooms_room_ws,/);
    assert.match(source, /import \* as \$meeting_Grid from "\.\/islands\/meeting\/Grid\.tsx";/);
    assert.ok(source.includes('islands: {\n    "./islands/Counter.tsx": $Counter,\n'));
    assert.match(source, /baseUrl: import\.meta\.url,\n\} satisfies Manifest;/);
    assert.match(source, /^import type \{ Manifest \} from "\$fresh\/server\.ts";$/m);
  });
});

Deno.test("importNames: Fresh's names, each one unique", () => {
  assert.deepEqual(
    importNames([
      "./routes/[room].tsx",
      "./routes/_404.tsx",
      "./routes/(group)/about.jsx",
      "./routes/greet/[name].tsx",
      "./routes/a-b.ts",
      "./routes/a_b.ts",
      "./routes/a.b.ts",
      "./islands/a_b.tsx",
      "./islands/Counter.tsx",
    ]),
    [
      "$_room_",
      "$_404",
      "$_group_about",
      "$greet_name_",
      "$a_b",
      "$a_b_1",
      "$a_b_2",
      "$a_b_3",
      "$Counter",
    ],
  );
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
