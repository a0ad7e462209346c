/**
 * Test helper (not used by the app): a throwaway project folder that both Deno and esbuild can
 * load. `node_modules` and `framework` are symlinks to this project's, and `deno.lock` is a copy,
 * so islands written into it bundle like the real ones.
 *
 * The folder must be imported from a module inside this project (a test file), so that Deno
 * resolves its bare imports (`preact`, `@preact/signals`) with this project's deno.json.
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PROJECT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

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
