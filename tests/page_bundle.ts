/**
 * Bundles project modules into one script a test evaluates in a page (`page.evaluate`), for
 * tests that drive the browser core directly rather than through the app's UI.
 */
import * as esbuild from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;
const cache = new Map<string, Promise<string>>();

/**
 * An IIFE of `entry` (TypeScript resolved from the project root), built once per test file.
 *
 * @example
 * ```ts
 * const source = await pageBundle(
 *   `import { PeerLink } from "./mesh/peer_link.ts"; globalThis.PeerLink = PeerLink;`,
 * );
 * await page.evaluate(source);
 * ```
 */
export function pageBundle(entry: string): Promise<string> {
  let built = cache.get(entry);
  if (!built) {
    built = (async () => {
      try {
        const result = await esbuild.build({
          stdin: { contents: entry, resolveDir: ROOT, loader: "ts" },
          bundle: true,
          format: "iife",
          write: false,
          absWorkingDir: ROOT,
        });
        return result.outputFiles[0].text;
      } finally {
        await esbuild.stop();
      }
    })();
    cache.set(entry, built);
  }
  return built;
}
