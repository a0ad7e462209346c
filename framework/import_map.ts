/**
 * deno.json's import map for the island bundler: esbuild finds npm packages in node_modules by
 * itself, but not the project's own entries, such as `$fresh/runtime.ts` ->
 * `./framework/runtime.ts`. This plugin resolves those as Deno does, so an island imports what
 * a route imports. Only esbuild's types are imported here; bundle.ts is what loads esbuild.
 */
import type { Plugin } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The entries of `<root>/deno.json`'s `imports` that point into the project (`./`, `../`), as
 * absolute paths; keys ending in `/` map every specifier that starts with them. npm: and other
 * entries are left out. None when there is no deno.json.
 */
export async function localImports(root: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${root}/deno.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
  const imports: unknown = JSON.parse(text).imports ?? {};
  if (typeof imports !== "object" || imports === null) {
    throw new Error(`${root}/deno.json: "imports" must be an object of specifier -> target.`);
  }
  const base = pathToFileURL(`${root}/`);
  const out: Record<string, string> = {};
  for (const [key, target] of Object.entries(imports)) {
    if (typeof target !== "string" || !/^\.\.?\//.test(target)) continue;
    out[key] = fileURLToPath(new URL(target, base));
  }
  return out;
}

/** Where `specifier` goes by `imports` (from {@link localImports}), or undefined. */
export function resolveImport(
  imports: Record<string, string>,
  specifier: string,
): string | undefined {
  if (Object.hasOwn(imports, specifier)) return imports[specifier];
  // As in import maps, the longest matching prefix wins.
  let best: string | undefined;
  for (const key of Object.keys(imports)) {
    if (key.endsWith("/") && specifier.startsWith(key) && key.length > (best?.length ?? 0)) {
      best = key;
    }
  }
  return best === undefined ? undefined : imports[best] + specifier.slice(best.length);
}

/** An esbuild plugin that resolves the project's own import-map entries of `<root>/deno.json`. */
export async function importMapPlugin(root: string): Promise<Plugin> {
  const imports = await localImports(root);
  const keys = Object.keys(imports).map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return {
    name: "deno-import-map",
    setup(build) {
      if (keys.length === 0) return;
      // esbuild calls the plugin only for specifiers that start with a key.
      build.onResolve({ filter: new RegExp(`^(?:${keys.join("|")})`) }, (args) => {
        const path = resolveImport(imports, args.path);
        return path === undefined ? undefined : { path };
      });
    },
  };
}
