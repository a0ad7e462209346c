import { extract, type Twind, twind, virtual } from "@twind/core";
import presetTailwind from "@twind/preset-tailwind";
import type { TwindOptions } from "./types.ts";

/**
 * Styles pages with twind on the server, so the browser ships no CSS engine.
 *
 * Classes in the server-rendered HTML are extracted per page. Classes that appear only after
 * hydration cannot be seen in that HTML, so the build collects every class-like token from the
 * island bundles' source files (`candidates`) and pages with islands get those rules too, all in
 * one sheet so that twind's rule order (and thus precedence) holds. As with Tailwind, write class
 * names as whole literal strings so the build can find them.
 */
export interface StyleEngine {
  /** CSS for the classes used in `html`, plus the island candidates when `withIslands`. */
  extract(html: string, withIslands: boolean): string;
}

const MAX_CACHE = 256;

export function createStyleEngine(options: TwindOptions, candidates: string[]): StyleEngine {
  const config = {
    presets: options.presets ?? [presetTailwind()],
    theme: options.theme ?? {},
    rules: options.rules ?? [],
    hash: false,
  };
  // deno-lint-ignore no-explicit-any -- twind's config generics cannot be named from a plain options object
  const plain: Twind<any, any> = twind(config as any, virtual());
  // deno-lint-ignore no-explicit-any -- see above
  const islands: Twind<any, any> = twind(config as any, virtual());
  for (const token of candidates) {
    try {
      islands(token);
    } catch {
      // Not a class: the scan is deliberately loose and twind is the judge.
    }
  }
  // Most pages repeat the same class sets; caching by the class attributes skips twind's work.
  const cache = new Map<string, string>();
  return {
    extract(html, withIslands) {
      const key = (withIslands ? "1" : "0") + classAttributes(html);
      let css = cache.get(key);
      if (css === undefined) {
        css = extract(html, withIslands ? islands : plain).css;
        if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(key, css);
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
