/**
 * The island build as data and files: its manifest, `_fresh/` on disk, the staleness check and
 * the modulepreload closure. Everything the server needs to serve a prebuilt build, and nothing
 * that bundles: this module must not import esbuild (directly or through another module), so
 * that a server started over a fresh `_fresh/` never loads the bundler. The bundler itself is
 * `bundle.ts`, loaded with a dynamic `import()` only when a build has to be made.
 */

/** What `deno task build` writes to `_fresh/manifest.json`, and what a start-up build keeps in memory. */
export interface BuildManifest {
  /** Format version: a manifest written by another framework version is never served. */
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

/** A build in memory: its manifest and the bytes of every file it names. */
export interface BuildResult {
  /** What was built, and from which inputs. */
  manifest: BuildManifest;
  /** File name -> contents. */
  files: Map<string, Uint8Array>;
}

/** The manifest format this framework writes and accepts. */
export const MANIFEST_VERSION = 1;

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
