import { extract, type Twind, twind, virtual } from "@twind/core";
import presetTailwind from "@twind/preset-tailwind";
import type { TwindOptions } from "./types.ts";

/**
 * Styles pages with twind on the server, so the browser ships no CSS engine.
 *
 * Classes in the server-rendered HTML are extracted per page. Classes that appear only after
 * hydration cannot be seen in that HTML, so the build collects the class-like tokens of each
 * island's source files, and a page gets the rules of the islands it has, all in one sheet so
 * that twind's rule order (and thus precedence) holds. As with Tailwind, write class
 * names as whole literal strings so the build can find them.
 */
export interface StyleEngine {
  /** CSS for the classes used in `html`, plus the candidates of the `islands` on the page. */
  extract(html: string, islands: string[]): string;
}

const MAX_CACHE = 256;

export function createStyleEngine(
  options: TwindOptions,
  classesByIsland: Record<string, string[]>,
): StyleEngine {
  const config = {
    presets: options.presets ?? [presetTailwind()],
    theme: options.theme ?? {},
    rules: options.rules ?? [],
    hash: false,
  };
  // One twind instance per set of islands seen on a page (pages have few distinct sets), holding
  // those islands' candidates, so every page gets one sheet in twind's precedence order.
  // deno-lint-ignore no-explicit-any -- twind's config generics cannot be named from a plain options object
  const instances = new Map<string, Twind<any, any>>();
  const instanceFor = (islands: string[]) => {
    const key = [...new Set(islands)].sort().join(",");
    let tw = instances.get(key);
    if (!tw) {
      // deno-lint-ignore no-explicit-any -- see above
      tw = twind(config as any, virtual());
      for (const island of key ? key.split(",") : []) {
        for (const token of classesByIsland[island] ?? []) {
          try {
            tw(token);
          } catch {
            // Not a class: the scan is deliberately loose and twind is the judge.
          }
        }
      }
      instances.set(key, tw);
    }
    return { key, tw };
  };
  // Most pages repeat the same class sets; caching by the class attributes skips twind's work.
  const cache = new Map<string, string>();
  return {
    extract(html, islands) {
      const { key, tw } = instanceFor(islands);
      const cacheKey = key + "\n" + classAttributes(html);
      let css = cache.get(cacheKey);
      if (css === undefined) {
        css = extract(html, tw).css;
        if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(cacheKey, css);
      }
      return css;
    },
  };
}

function classAttributes(html: string): string {
  let out = "";
  for (const m of html.matchAll(/\sclass="([^"]*)"/g)) out += m[1] + "\n";
  return out;
}

/** Class-like tokens in source text: the words of every string literal. */
export function scanClassCandidates(source: string): string[] {
  const tokens = new Set<string>();
  for (const m of source.matchAll(/"([^"\n]*)"|'([^'\n]*)'|`([^`]*)`/g)) {
    const text = m[1] ?? m[2] ?? m[3];
    for (let word of text.split(/[\s]+|\$\{|\}/)) {
      // A template literal's text includes the strings quoted inside its `${}` parts, e.g.
      // `${on ? "bg-sky-500" : "bg-slate-700"}`; quotes within a class (`content-['x']`) stay.
      word = word.replace(/^["'`]+|["'`]+$/g, "");
      if (word.length > 0 && word.length < 120 && /^[!-~]+$/.test(word) && /[a-z]/.test(word)) {
        tokens.add(word);
      }
    }
  }
  return [...tokens];
}
