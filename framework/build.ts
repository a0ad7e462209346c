/**
 * The island build as data and files: its manifest, `_fresh/` on disk, the staleness check and
 * the modulepreload closure. Everything the server needs to serve a prebuilt build, and nothing
 * that bundles: this module must not import esbuild (directly or through another module), so
 * that a server started over a fresh `_fresh/` never loads the bundler. The bundler itself is
 * `bundle.ts`, loaded with a dynamic `import()` only when a build has to be made.
 */

/** Content codings a build precompresses its files with (the same names as compress.ts). */
export type PrecompressedCoding = "br" | "gzip";

/** Suffix of a precompressed file beside its original in `js/` (`x.js.br`, `x.js.gz`). */
export const PRECOMPRESSED_SUFFIX: Readonly<Record<PrecompressedCoding, string>> = {
  br: ".br",
  gzip: ".gz",
};

/** What `deno task build` writes to `_fresh/manifest.json`, and what a start-up build keeps in memory. */
export interface BuildManifest {
  /** Format version: a manifest written by another framework version is never served. */
  version: 2;
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
  /**
   * File name -> the codings it was compressed with at build time, each written beside it
   * (empty in dev builds, and for a file no coding makes smaller).
   */
  precompressed: Record<string, PrecompressedCoding[]>;
}

/** A build in memory: its manifest and the bytes of every file it names. */
export interface BuildResult {
  /** What was built, and from which inputs. */
  manifest: BuildManifest;
  /** File name -> contents. */
  files: Map<string, Uint8Array>;
  /** File name -> its contents compressed, per coding, as `manifest.precompressed` lists. */
  encoded: Map<string, Partial<Record<PrecompressedCoding, Uint8Array>>>;
}

/** The manifest format this framework writes and accepts. */
export const MANIFEST_VERSION = 2;

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

/**
 * Writes a build to `outDir` (`js/` files, their `.br` and `.gz` forms, and `manifest.json`),
 * replacing an older one. Safe while servers start from `outDir` and other builds write it:
 * every file is written under a temporary name and renamed into place, the manifest last, so a
 * reader never sees a manifest whose files are not all there yet (names carry a content hash, so
 * two builds of the same sources write the same bytes). Files of older builds are removed last.
 */
export async function writeBuild(outDir: string, build: BuildResult): Promise<void> {
  const jsDir = `${outDir}/js`;
  await Deno.mkdir(jsDir, { recursive: true });
  const tmp = `.tmp-${crypto.randomUUID()}`;
  const place = async (path: string, write: (tmpPath: string) => Promise<void>) => {
    const tmpPath = `${path}${tmp}`;
    try {
      await write(tmpPath);
      await Deno.rename(tmpPath, path);
    } catch (e) {
      await Deno.remove(tmpPath).catch(() => {});
      throw e;
    }
  };
  const keep = new Set<string>();
  for (const [name, contents] of build.files) {
    keep.add(name);
    await place(`${jsDir}/${name}`, (p) => Deno.writeFile(p, contents));
    for (const coding of build.manifest.precompressed[name] ?? []) {
      const encoded = build.encoded.get(name)?.[coding];
      if (!encoded) throw new Error(`The build lists ${name} as ${coding} but has no such bytes.`);
      keep.add(name + PRECOMPRESSED_SUFFIX[coding]);
      await place(
        `${jsDir}/${name}${PRECOMPRESSED_SUFFIX[coding]}`,
        (p) => Deno.writeFile(p, encoded),
      );
    }
  }
  const manifest = JSON.stringify(build.manifest, null, 2) + "\n";
  await place(`${outDir}/manifest.json`, (p) => Deno.writeTextFile(p, manifest));
  for await (const entry of Deno.readDir(jsDir)) {
    // Another build's temporary files are its own to rename.
    if (keep.has(entry.name) || entry.name.includes(".tmp-")) continue;
    await Deno.remove(`${jsDir}/${entry.name}`, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
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
  const encoded = new Map<string, Partial<Record<PrecompressedCoding, Uint8Array>>>();
  for (const name of Object.keys(manifest.imports)) {
    const forms: Partial<Record<PrecompressedCoding, Uint8Array>> = {};
    const codings = manifest.precompressed[name] ?? [];
    for (const file of [name, ...codings.map((c) => name + PRECOMPRESSED_SUFFIX[c])]) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(`${outDir}/js/${file}`);
      } catch {
        return `missing bundle file ${file}`;
      }
      const coding = codings.find((c) => file === name + PRECOMPRESSED_SUFFIX[c]);
      if (coding) forms[coding] = bytes;
      else files.set(name, bytes);
    }
    if (codings.length > 0) encoded.set(name, forms);
  }
  return { manifest, files, encoded };
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
