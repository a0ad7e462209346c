import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type BuildResult, loadBuild, MANIFEST_VERSION, preloadList, writeBuild } from "./build.ts";
import { buildIslands, entryName } from "./bundle.ts";
import { createTempProject, type TempProject } from "./testing.ts";

const DISPLAY = `
export function Display({ value }: { value: string }) {
  return <span class="font-mono text-emerald-600">{value}</span>;
}
`;

const COUNTER = `
import { useSignal } from "@preact/signals";
import { Display } from "../components/Display.tsx";

export default function Counter({ start }: { start: number }) {
  const n = useSignal(start);
  return (
    <div class="flex gap-2">
      <Display value={String(n.value)} />
      <button class="rounded bg-sky-500" onClick={() => n.value++}>+1</button>
      {n.value > 10 && <p class="text-rose-600">That is a lot</p>}
    </div>
  );
}
`;

const TOGGLE = `
import { useState } from "preact/hooks";
import { Display } from "../components/Display.tsx";

export default function Toggle() {
  const [on, setOn] = useState(false);
  return (
    <button class={\`px-2 \${on ? "bg-amber-400" : "bg-slate-200"}\`} onClick={() => setOn(!on)}>
      <Display value={on ? "on" : "off"} />
    </button>
  );
}
`;

const ISLANDS = ["Counter", "Toggle"];

function twoIslandProject(): Promise<TempProject> {
  return createTempProject({
    "components/Display.tsx": DISPLAY,
    "islands/Counter.tsx": COUNTER,
    "islands/Toggle.tsx": TOGGLE,
  });
}

function build(project: TempProject, islands = ISLANDS): Promise<BuildResult> {
  return buildIslands({
    root: project.root,
    islands: project.islandPaths(...islands),
    runtimeEntry: `${project.root}/framework/client.ts`,
  });
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

Deno.test("buildIslands: content-hashed file names for the runtime, islands and chunks", async () => {
  await using project = await twoIslandProject();
  const { manifest, files } = await build(project);
  assert.match(manifest.runtime, /^runtime-[A-Z0-9]{8}\.js$/);
  assert.match(manifest.islands.Counter, /^island-Counter-[A-Z0-9]{8}\.js$/);
  assert.match(manifest.islands.Toggle, /^island-Toggle-[A-Z0-9]{8}\.js$/);
  assert.deepEqual(Object.keys(manifest.islands).sort(), ISLANDS);
  for (const name of files.keys()) {
    assert.match(name, /^(runtime|island-Counter|island-Toggle|chunk)-[A-Z0-9]{8}\.js$/);
  }
  // The import graph names exactly the files of the build.
  assert.deepEqual(Object.keys(manifest.imports).sort(), [...files.keys()].sort());
  for (const deps of Object.values(manifest.imports)) {
    for (const dep of deps) assert.ok(files.has(dep), dep);
  }
  assert.match(text(files.get(manifest.runtime)), /boot/);
});

Deno.test("buildIslands: a module shared by two islands is a chunk both import", async () => {
  await using project = await twoIslandProject();
  const { manifest, files } = await build(project);
  const shared = [...files.keys()].filter((name) =>
    name.startsWith("chunk-") && text(files.get(name)).includes("font-mono text-emerald-600")
  );
  assert.equal(shared.length, 1, "Display is bundled once");
  for (const island of ISLANDS) {
    assert.ok(manifest.imports[manifest.islands[island]].includes(shared[0]), island);
    assert.ok(!text(files.get(manifest.islands[island])).includes("text-emerald-600"), island);
  }
});

Deno.test("buildIslands: inputs are the project's own files, with their class tokens", async () => {
  await using project = await twoIslandProject();
  const { manifest } = await build(project);
  for (const file of ["components/Display.tsx", "islands/Counter.tsx", "islands/Toggle.tsx"]) {
    assert.ok(manifest.inputs.includes(file), file);
  }
  const deps = manifest.inputs.filter((p) => p.split("/").includes("node_modules"));
  assert.deepEqual(deps, [], "dependencies are covered by deno.lock, not listed");
  // Including classes only rendered in a branch the server never takes, and in ${} parts.
  const all = Object.values(manifest.classes).flat();
  for (const c of ["flex", "bg-sky-500", "text-rose-600", "text-emerald-600", "bg-amber-400"]) {
    assert.ok(all.includes(c), c);
  }
  for (const list of Object.values(manifest.classes)) assert.deepEqual(list, [...list].sort());
});

Deno.test("buildIslands: classes of modules an island loads later with import() count", async () => {
  await using project = await createTempProject({
    "components/Later.tsx": `export function Later() { return <p class="bg-lime-700">later</p>; }`,
    "islands/Lazy.tsx": `
import { useSignal } from "@preact/signals";
export default function Lazy() {
  const Later = useSignal<null | (() => unknown)>(null);
  return <button class="px-3" onClick={async () => {
    Later.value = (await import("../components/Later.tsx")).Later;
  }}>load</button>;
}
`,
  });
  const { manifest } = await build(project, ["Lazy"]);
  assert.ok(manifest.classes.Lazy.includes("px-3"));
  assert.ok(manifest.classes.Lazy.includes("bg-lime-700"), "the lazily loaded chunk's class");
  // Its chunk is still not preloaded: it loads when asked for.
  const preloaded = preloadList(manifest.imports, [manifest.islands.Lazy]);
  const lazy = Object.keys(manifest.imports).filter((f) =>
    !preloaded.includes(f) && f !== manifest.runtime
  );
  assert.equal(lazy.length, 1, `one chunk loads later: ${lazy}`);
});

Deno.test("buildIslands: the same sources give the same names and bytes", async () => {
  await using project = await twoIslandProject();
  const first = await build(project);
  const second = await build(project);
  assert.deepEqual(second.manifest, first.manifest);
  assert.deepEqual(second.files, first.files);
});

Deno.test("buildIslands: changing an island changes its hash and the inputs hash", async () => {
  await using project = await twoIslandProject();
  const before = await build(project);
  await project.write("islands/Counter.tsx", COUNTER.replace("+1", "plus one"));
  const after = await build(project);
  assert.notEqual(after.manifest.islands.Counter, before.manifest.islands.Counter);
  assert.match(text(after.files.get(after.manifest.islands.Counter)), /plus one/);
  assert.notEqual(after.manifest.inputsHash, before.manifest.inputsHash);
  assert.equal(after.manifest.runtime, before.manifest.runtime, "the runtime did not change");
});

Deno.test("entryName: island names become safe file names", () => {
  assert.equal(entryName("Counter"), "island-Counter");
  assert.equal(entryName("meeting/Grid"), "island-meeting_Grid");
  assert.equal(entryName("a b.c"), "island-a_b_c");
});

Deno.test("preloadList: transitive closure, each file once, requested files first", () => {
  const imports = { a: ["b", "c"], b: ["c", "d"], c: ["d"], d: ["a"], e: ["d"] };
  assert.deepEqual(preloadList(imports, ["a"]), ["a", "b", "c", "d"]);
  assert.deepEqual(preloadList(imports, ["e", "a"]), ["e", "d", "a", "b", "c"]);
  assert.deepEqual(preloadList(imports, ["x"]), ["x"], "unknown names are kept");
  assert.deepEqual(preloadList(imports, []), []);
});

Deno.test("preloadList: on a real build it covers every import of the page's modules", async () => {
  await using project = await twoIslandProject();
  const { manifest } = await build(project);
  const roots = [manifest.runtime, manifest.islands.Counter, manifest.islands.Toggle];
  const list = preloadList(manifest.imports, roots);
  assert.equal(new Set(list).size, list.length, "no duplicates");
  for (const name of list) {
    for (const dep of manifest.imports[name]) assert.ok(list.includes(dep), `${name} -> ${dep}`);
  }
  assert.deepEqual(list.slice(0, 1), [manifest.runtime]);
  for (const root of roots) assert.ok(list.includes(root));
});

Deno.test("buildIslands: every file also compressed with br and gzip, except in dev", async () => {
  await using project = await twoIslandProject();
  const built = await build(project);
  for (const [name, contents] of built.files) {
    const codings = built.manifest.precompressed[name];
    // br always shrinks JavaScript; gzip's 18-byte frame can outweigh its gain on a tiny file.
    assert.ok(codings.includes("br"), `${name}: ${codings}`);
    const forms = built.encoded.get(name)!;
    assert.deepEqual(Object.keys(forms), codings, name);
    for (const coding of codings) {
      const bytes = forms[coding]!;
      assert.ok(bytes.byteLength < contents.byteLength, `${name}.${coding} is smaller`);
      const decoded = coding === "br" ? brotliDecompressSync(bytes) : gunzipSync(bytes);
      assert.deepEqual(new Uint8Array(decoded), contents, `${name} ${coding}`);
    }
  }
  const largest = [...built.files].sort(([, a], [, b]) => b.byteLength - a.byteLength)[0][0];
  assert.deepEqual(built.manifest.precompressed[largest], ["br", "gzip"]);
  const dev = await buildIslands({
    root: project.root,
    islands: project.islandPaths(...ISLANDS),
    runtimeEntry: `${project.root}/framework/client.ts`,
    dev: true,
  });
  assert.equal(dev.encoded.size, 0);
  assert.deepEqual(dev.manifest.precompressed, {});
});

Deno.test("writeBuild + loadBuild round trip, replacing an older build", async () => {
  await using project = await twoIslandProject();
  const outDir = `${project.root}/_fresh`;
  await project.write("_fresh/js/old-AAAAAAAA.js", "stale");
  await project.write("_fresh/js/old-AAAAAAAA.js.br", "stale");
  const built = await build(project);
  await writeBuild(outDir, built);
  const loaded = await loadBuild(outDir, project.root, project.islandPaths(...ISLANDS));
  assert.ok(typeof loaded !== "string", String(loaded));
  assert.deepEqual(loaded.manifest, built.manifest);
  assert.deepEqual(loaded.files, built.files);
  assert.deepEqual(loaded.encoded, built.encoded);
  const written = await Array.fromAsync(Deno.readDir(`${outDir}/js`), (e) => e.name);
  const suffix = { br: ".br", gzip: ".gz" };
  const expected = [...built.files.keys()].flatMap((n) => [
    n,
    ...built.manifest.precompressed[n].map((c) => n + suffix[c]),
  ]);
  assert.deepEqual(written.sort(), expected.sort());
  assert.deepEqual(
    await Array.fromAsync(Deno.readDir(outDir), (e) => e.name).then((n) => n.sort()),
    [
      "js",
      "manifest.json",
    ],
  );
});

Deno.test("writeBuild: servers loading while builds write always see a whole build", async () => {
  await using project = await twoIslandProject();
  const outDir = `${project.root}/_fresh`;
  const built = await build(project);
  await writeBuild(outDir, built);
  const islands = project.islandPaths(...ISLANDS);
  // Four builds of the same sources write at once, as test processes sharing a checkout do,
  // while loads run until they are done: not one load may find a file missing or torn.
  let writing = true;
  const writes = Promise.all([1, 2, 3, 4].map(() => writeBuild(outDir, built))).finally(() =>
    writing = false
  );
  let loads = 0;
  while (writing || loads === 0) {
    const loaded = await loadBuild(outDir, project.root, islands);
    assert.ok(typeof loaded !== "string", String(loaded));
    assert.deepEqual(loaded.files, built.files);
    loads++;
  }
  await writes;
  const leftovers = await Array.fromAsync(Deno.readDir(`${outDir}/js`), (e) => e.name);
  assert.deepEqual(leftovers.filter((n) => n.includes(".tmp-")), [], "temporary files");
});

/** Builds and writes `_fresh/`, then returns a loadBuild with the project's current state. */
async function writtenBuild(project: TempProject) {
  const outDir = `${project.root}/_fresh`;
  await writeBuild(outDir, await build(project));
  return (islands = ISLANDS) => loadBuild(outDir, project.root, project.islandPaths(...islands));
}

Deno.test("loadBuild: stale after an input file changes", async () => {
  await using project = await twoIslandProject();
  const load = await writtenBuild(project);
  assert.equal(typeof await load(), "object");
  await project.write("components/Display.tsx", DISPLAY.replace("font-mono", "font-sans"));
  assert.equal(await load(), "sources changed since the build");
});

Deno.test("loadBuild: stale after deno.lock changes", async () => {
  await using project = await twoIslandProject();
  const load = await writtenBuild(project);
  const lock = await Deno.readTextFile(`${project.root}/deno.lock`);
  await project.write("deno.lock", lock.replace(/\n$/, "") + " \n");
  assert.equal(await load(), "sources changed since the build");
});

Deno.test("loadBuild: stale when the island list differs", async () => {
  await using project = await twoIslandProject();
  const load = await writtenBuild(project);
  assert.equal(await load(["Counter"]), "sources changed since the build");
  assert.equal(await load([...ISLANDS, "Extra"]), "sources changed since the build");
});

Deno.test("loadBuild: missing, foreign or incomplete builds are reported", async () => {
  await using project = await twoIslandProject();
  const outDir = `${project.root}/_fresh`;
  const islands = project.islandPaths(...ISLANDS);
  assert.equal(await loadBuild(outDir, project.root, islands), "no prebuilt bundles");

  const load = await writtenBuild(project);
  const manifest = JSON.parse(await Deno.readTextFile(`${outDir}/manifest.json`));
  await Deno.remove(`${outDir}/js/${manifest.islands.Toggle}.br`);
  assert.equal(await load(), `missing bundle file ${manifest.islands.Toggle}.br`);
  await Deno.remove(`${outDir}/js/${manifest.islands.Toggle}`);
  assert.equal(await load(), `missing bundle file ${manifest.islands.Toggle}`);

  const version = MANIFEST_VERSION + 1;
  await project.write("_fresh/manifest.json", JSON.stringify({ ...manifest, version }));
  assert.equal(await load(), "built by another framework version");

  await project.write("_fresh/manifest.json", "{ not json");
  assert.match(String(await load()), /^unreadable manifest: /);
});
