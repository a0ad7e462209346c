/**
 * Test helper (not used by the app): a throwaway project folder that both Deno and esbuild can
 * load. `node_modules` and `framework` are symlinks to this project's, and `deno.lock` is a copy,
 * so islands written into it bundle like the real ones.
 *
 * The folder must be imported from a module inside this project (a test file), so that Deno
 * resolves its bare imports (`preact`, `@preact/signals`) with this project's deno.json.
 *
 * Also: `importGraph`, what a module reaches by its imports, for tests of import boundaries.
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PROJECT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** A temp project folder; `await using` removes it. */
export interface TempProject extends AsyncDisposable {
  /** Absolute path of the project folder. */
  root: string;
  /** `file:` URL of `fresh.gen.ts` in the folder, for `Manifest.baseUrl`. */
  manifestUrl: string;
  /** Writes a file (path relative to root), creating folders. */
  write(path: string, text: string): Promise<void>;
  /** Imports a module of the folder (path relative to root). */
  // deno-lint-ignore no-explicit-any -- test modules export whatever the test wrote
  import(path: string): Promise<any>;
  /** Island name -> absolute path, for every `islands/<name>.tsx` given. */
  islandPaths(...names: string[]): Record<string, string>;
}

/** Creates a temp project with `files` (path relative to the root -> contents). */
export async function createTempProject(files: Record<string, string>): Promise<TempProject> {
  const root = await Deno.makeTempDir({ prefix: "fresh_project_" });
  const write = async (path: string, text: string) => {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  };
  try {
    await Deno.symlink(join(PROJECT, "node_modules"), join(root, "node_modules"));
    await Deno.symlink(join(PROJECT, "framework"), join(root, "framework"));
    await Deno.copyFile(join(PROJECT, "deno.lock"), join(root, "deno.lock"));
    for (const [path, text] of Object.entries(files)) await write(path, text);
  } catch (e) {
    await Deno.remove(root, { recursive: true });
    throw e;
  }
  return {
    root,
    manifestUrl: pathToFileURL(join(root, "fresh.gen.ts")).href,
    write,
    import: (path) => import(pathToFileURL(join(root, path)).href),
    islandPaths: (...names) =>
      Object.fromEntries(names.map((n) => [n, join(root, "islands", `${n}.tsx`)])),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * Framework modules that may end up in the browser: what islands import (`mod.ts` and what it
 * re-exports) and the client runtime. Everything else in framework/ is server-only.
 */
export const BROWSER_SAFE_MODULES: readonly string[] = [
  "framework/mod.ts",
  "framework/runtime.ts",
  "framework/types.ts",
  "framework/client.ts",
  "framework/serializer.ts",
];

/** How far {@link importGraph} follows imports. */
export interface GraphOptions {
  /** Also follow `import()` of a literal specifier. Default false: only what loads up front. */
  dynamic?: boolean;
  /** Also follow `import type`. Default false: type-only imports load nothing at run time. */
  types?: boolean;
}

/** The part of `deno info --json` that {@link importGraph} reads. */
interface DenoInfo {
  roots: string[];
  redirects: Record<string, string>;
  modules: {
    specifier: string;
    error?: string;
    dependencies?: {
      specifier: string;
      code?: { specifier?: string };
      type?: { specifier?: string };
      isDynamic?: boolean;
    }[];
  }[];
}

/**
 * The modules reachable from `entry` (a path relative to this project's root), as Deno itself
 * resolves them (`deno info --json`, so deno.json's import map applies). Project files are
 * given relative to the root (`framework/mod.ts`), builtins as `node:path`, npm packages by
 * name only (`npm:preact`, for `preact/hooks` too); anything else by its URL. `deno info` lists
 * every edge; walking them here is what lets a test leave out dynamic or type-only ones.
 */
export async function importGraph(entry: string, options: GraphOptions = {}): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const info: DenoInfo = JSON.parse(new TextDecoder().decode(out.stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;
  const seen = new Set<string>();
  const pending = info.roots.map(resolve);
  for (let specifier = pending.pop(); specifier !== undefined; specifier = pending.pop()) {
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const module = modules.get(specifier);
    // A graph with a hole proves nothing about what lies behind it.
    if (module?.error) throw new Error(`deno info ${entry}: ${module.error}`);
    for (const dep of module?.dependencies ?? []) {
      if (dep.isDynamic && !options.dynamic) continue;
      if (dep.code?.specifier) pending.push(resolve(dep.code.specifier));
      if (options.types && dep.type?.specifier) pending.push(resolve(dep.type.specifier));
    }
  }
  return new Set([...seen].map(displayName));
}

/** `file:` URLs inside the project as relative paths, npm specifiers as `npm:<package>`. */
function displayName(specifier: string): string {
  if (specifier.startsWith("npm:")) {
    const name = specifier.replace(/^npm:\/?/, "").match(/^(@[^/@]+\/[^/@]+|[^/@]+)/)?.[1];
    return `npm:${name}`;
  }
  if (specifier.startsWith("file:")) {
    const path = fileURLToPath(specifier);
    if (path.startsWith(PROJECT + "/")) return path.slice(PROJECT.length + 1);
  }
  return specifier;
}
