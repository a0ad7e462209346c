import * as esbuild from "esbuild";
import { scanClassCandidates } from "./twind.ts";

/** What `deno task build` writes to `_fresh/manifest.json`, and what a start-up build keeps in memory. */
export interface BuildManifest {
  version: 1;
  /** SHA-256 over the project's own input files and deno.lock: tells whether the build is stale. */
  inputsHash: string;
  /** Project files the bundles were built from, relative to the project root. */
  inputs: string[];
  /** File name of the client runtime module. */
  runtime: string;
  /** Island name -> file name of its module. */
  islands: Record<string, string>;
  /** File name -> file names it imports statically (direct imports only). */
  imports: Record<string, string[]>;
  /**
   * Island name -> class-like tokens in the sources of its bundle (its module, the chunks it
   * imports, and what they were built from), for the style engine.
   */
  classes: Record<string, string[]>;
}

export interface BuildResult {
  manifest: BuildManifest;
  /** File name -> contents. */
  files: Map<string, Uint8Array>;
}

export interface BuildOptions {
  /** Absolute path of the project root. */
  root: string;
  /** Island name -> absolute path of its module. */
  islands: Record<string, string>;
  /** Absolute path of the client runtime entry (framework/client.ts). */
  runtimeEntry: string;
  dev?: boolean;
  target?: string[];
}

export const DEFAULT_TARGET = ["chrome109", "firefox115", "safari16"];
const MANIFEST_VERSION = 1;

/** Entry names become file names; keep them readable and safe. */
export function entryName(island: string): string {
  return "island-" + island.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** Bundles the client runtime and every island: ESM, code-split, minified, content-hashed names. */
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
  };
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
  return { manifest, files };
}

/** The class candidates of each island: tokens of the project files bundled into what it loads. */
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
  const classes: Record<string, string[]> = {};
  for (const [island, file] of Object.entries(manifest.islands)) {
    const set = new Set<string>();
    for (const output of preloadList(manifest.imports, [file])) {
      for (const input of inputsOf.get(output) ?? []) tokens.get(input)?.forEach((t) => set.add(t));
    }
    classes[island] = [...set].sort();
  }
  return classes;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Hash of the inputs, the lock file (dependency versions) and the island list. */
export async function hashInputs(
  root: string,
  inputs: string[],
  islands: Record<string, string>,
): Promise<string> {
  const parts: string[] = [JSON.stringify(Object.keys(islands).sort())];
  for (const input of [...inputs, "deno.lock"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(`${root}/${input}`);
    } catch {
      text = "\0missing";
    }
    parts.push(input, text);
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a build to `outDir` (`js/` files and `manifest.json`), replacing an older one. */
export async function writeBuild(outDir: string, build: BuildResult): Promise<void> {
  await Deno.remove(outDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(`${outDir}/js`, { recursive: true });
  for (const [name, contents] of build.files) {
    await Deno.writeFile(`${outDir}/js/${name}`, contents);
  }
  await Deno.writeTextFile(
    `${outDir}/manifest.json`,
    JSON.stringify(build.manifest, null, 2) + "\n",
  );
}

/**
 * Loads the build in `outDir` if it exists and matches the current sources; otherwise returns
 * the reason it cannot be used.
 */
export async function loadBuild(
  outDir: string,
  root: string,
  islands: Record<string, string>,
): Promise<BuildResult | string> {
  let manifest: BuildManifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${outDir}/manifest.json`));
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "no prebuilt bundles" : `unreadable manifest: ${e}`;
  }
  if (manifest.version !== MANIFEST_VERSION) return "built by another framework version";
  if (await hashInputs(root, manifest.inputs, islands) !== manifest.inputsHash) {
    return "sources changed since the build";
  }
  const files = new Map<string, Uint8Array>();
  for (const name of Object.keys(manifest.imports)) {
    try {
      files.set(name, await Deno.readFile(`${outDir}/js/${name}`));
    } catch {
      return `missing bundle file ${name}`;
    }
  }
  return { manifest, files };
}

/** The transitive static imports of `names`, themselves included, for modulepreload links. */
export function preloadList(imports: Record<string, string[]>, names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of imports[name] ?? []) visit(dep);
  };
  names.forEach(visit);
  return [...seen];
}
