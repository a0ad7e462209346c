/**
 * The bundler: esbuild turns the client runtime and the islands into browser modules. The only
 * framework module that imports esbuild. `deno task build` loads it to write `_fresh/`; the server
 * loads it with a dynamic `import()` only in dev or when a caller asks for a build in memory
 * (`buildIfStale`, tests), so a production server never loads esbuild; islands never reach it.
 */
import * as esbuild from "esbuild";
import {
  type BuildManifest,
  type BuildResult,
  hashInputs,
  MANIFEST_VERSION,
  type PrecompressedCoding,
  preloadList,
} from "./build.ts";
import { precompress } from "./compress.ts";
import { importMapPlugin } from "./import_map.ts";
import { scanClassCandidates } from "./twind.ts";

/** What to bundle, and how. */
export interface BuildOptions {
  /** Absolute path of the project root. */
  root: string;
  /** Island name -> absolute path of its module. */
  islands: Record<string, string>;
  /** Absolute path of the client runtime entry (framework/client.ts). */
  runtimeEntry: string;
  /** Dev build: unminified, with inline source maps, not precompressed. */
  dev?: boolean;
  /** esbuild targets; default {@link DEFAULT_TARGET}. */
  target?: string[];
}

/** The browsers the bundles are written for unless `fresh.config.ts` says otherwise. */
export const DEFAULT_TARGET: string[] = ["chrome109", "firefox115", "safari16"];

/** Entry names become file names; keep them readable and safe. */
export function entryName(island: string): string {
  return "island-" + island.replace(/[^A-Za-z0-9_-]/g, "_");
}

/**
 * Bundles the client runtime and every island: ESM, code-split, minified, content-hashed names,
 * each file also compressed with brotli and gzip (not in dev).
 */
export async function buildIslands(opts: BuildOptions): Promise<BuildResult> {
  const entryPoints: Record<string, string> = { runtime: opts.runtimeEntry };
  for (const [name, path] of Object.entries(opts.islands)) entryPoints[entryName(name)] = path;
  const outdir = `${opts.root}/_fresh/js`;
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints,
      absWorkingDir: opts.root,
      outdir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: opts.target ?? DEFAULT_TARGET,
      minify: !opts.dev,
      sourcemap: opts.dev ? "inline" : false,
      jsx: "automatic",
      jsxImportSource: "preact",
      entryNames: "[name]-[hash]",
      chunkNames: "chunk-[hash]",
      write: false,
      metafile: true,
      logLevel: "silent",
      define: { "process.env.NODE_ENV": JSON.stringify(opts.dev ? "development" : "production") },
      // `$fresh/runtime.ts` and the project's other import-map entries, as Deno resolves them.
      plugins: [await importMapPlugin(opts.root)],
    });
  } finally {
    // esbuild keeps a child process alive between builds; a server builds once.
    await esbuild.stop();
  }

  const files = new Map<string, Uint8Array>();
  for (const file of result.outputFiles) files.set(baseName(file.path), file.contents);

  const manifest: BuildManifest = {
    version: MANIFEST_VERSION,
    inputsHash: "",
    inputs: [],
    runtime: "",
    islands: {},
    imports: {},
    classes: {},
    precompressed: {},
  };
  // Compressed once here, as hard as brotli and gzip go (about 0.5 s for this app's islands),
  // so that serving a bundle costs no compression at all.
  const encoded = new Map<string, Partial<Record<PrecompressedCoding, Uint8Array>>>();
  if (!opts.dev) {
    for (const [name, contents] of files) {
      const forms = precompress(contents);
      manifest.precompressed[name] = Object.keys(forms) as PrecompressedCoding[];
      if (manifest.precompressed[name].length > 0) encoded.set(name, forms);
    }
  }
  const islandByEntry = new Map(Object.keys(opts.islands).map((n) => [entryName(n), n]));
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!out.endsWith(".js")) continue;
    const name = baseName(out);
    manifest.imports[name] = meta.imports
      .filter((i) => i.kind === "import-statement" && !i.external)
      .map((i) => baseName(i.path));
    if (!meta.entryPoint) continue;
    const entry = name.replace(/-[A-Z0-9]+\.js$/, "");
    if (entry === "runtime") manifest.runtime = name;
    const island = islandByEntry.get(entry);
    if (island) manifest.islands[island] = name;
  }
  // Dependencies are pinned by deno.lock. Their node_modules may lie outside the root (a
  // workspace's, or a symlink that esbuild resolves), so match the folder anywhere in the path.
  manifest.inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.split("/").includes("node_modules") && !p.includes(":"))
    .sort();
  manifest.classes = await islandClasses(opts.root, result.metafile, manifest);
  manifest.inputsHash = await hashInputs(opts.root, manifest.inputs, opts.islands);
  return { manifest, files, encoded };
}

/**
 * The class candidates of each island: tokens of the project files bundled into what it loads,
 * at once or later through `import()`.
 */
async function islandClasses(
  root: string,
  metafile: esbuild.Metafile,
  manifest: BuildManifest,
): Promise<Record<string, string[]>> {
  const ownFiles = new Set(manifest.inputs.filter((p) => !p.startsWith("framework/")));
  const tokens = new Map<string, string[]>();
  for (const file of ownFiles) {
    tokens.set(file, scanClassCandidates(await Deno.readTextFile(`${root}/${file}`)));
  }
  const inputsOf = new Map(
    Object.entries(metafile.outputs).map((
      [out, meta],
    ) => [baseName(out), Object.keys(meta.inputs)]),
  );
  // Chunks an island loads later with import() render after hydration too: their classes count.
  const loads: Record<string, string[]> = {};
  for (const [out, meta] of Object.entries(metafile.outputs)) {
    loads[baseName(out)] = meta.imports
      .filter((i) => (i.kind === "import-statement" || i.kind === "dynamic-import") && !i.external)
      .map((i) => baseName(i.path));
  }
  const classes: Record<string, string[]> = {};
  for (const [island, file] of Object.entries(manifest.islands)) {
    const set = new Set<string>();
    for (const output of preloadList(loads, [file])) {
      for (const input of inputsOf.get(output) ?? []) tokens.get(input)?.forEach((t) => set.add(t));
    }
    classes[island] = [...set].sort();
  }
  return classes;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
