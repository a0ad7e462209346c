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

/** Every class attribute's value, in order: the cache key of a page's CSS. */
function classAttributes(html: string): string {
  let out = "";
  // Any quoting, as twind's own parser reads them: two pages whose class attributes differ must
  // never share a key, whichever quotes they use.
  for (const m of html.matchAll(/\sclass=(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/g)) {
    out += (m[1] ?? m[2] ?? m[3]) + "\n";
  }
  return out;
}

/**
 * Class-like tokens in source text: the words of every string literal. An arbitrary value stays
 * one word even with spaces inside its brackets (`content-['Raise hand']`): its words are no
 * classes, and taking them as such (`hand']`, or `hidden` from `content-['a hidden b']`) made
 * CSS for words that were never meant as classes. Such a class is broken anyway, since the
 * browser splits class attributes at every space (see `spacedArbitraryValues`), so it is no
 * candidate either.
 */
export function scanClassCandidates(source: string): string[] {
  const tokens = new Set<string>();
  for (const m of source.matchAll(/"([^"\n]*)"|'([^'\n]*)'|`([^`]*)`/g)) {
    const text = m[1] ?? m[2] ?? m[3];
    for (const part of text.split(/\$\{|\}/)) {
      for (let word of classWords(part)) {
        // A template literal's text includes the strings quoted inside its `${}` parts, e.g.
        // `${on ? "bg-sky-500" : "bg-slate-700"}`; quotes within a class (`content-['x']`) stay.
        word = word.replace(/^["'`]+|["'`]+$/g, "");
        if (word.length > 0 && word.length < 120 && /^[!-~]+$/.test(word) && /[a-z]/.test(word)) {
          tokens.add(word);
        }
      }
    }
  }
  return [...tokens];
}

/**
 * Classes in source text with a space inside an arbitrary value, e.g.
 * `after:content-['Raise hand']` or `font-['Inter var']`. The browser splits a class attribute at
 * every space, so such an element gets the classes `after:content-['Raise` and `hand']`, and a
 * word inside the quotes that names a utility (`block`, `hidden`, `fixed`) styles the element.
 * Write `_` for the space (`content-['Raise_hand']`): twind turns it back into one.
 */
export function spacedArbitraryValues(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/"([^"\n]*)"|'([^'\n]*)'|`([^`]*)`/g)) {
    const text = m[1] ?? m[2] ?? m[3];
    for (const part of text.split(/\$\{|\}/)) {
      for (const word of classWords(part)) {
        // A utility (with its variants) right before the bracket, and a space within it.
        if (/^[!-~]*[a-z0-9]-\[[^\]]*\s/.test(word)) found.add(word);
      }
    }
  }
  return [...found];
}

/**
 * Splits text at whitespace outside square brackets, so an arbitrary value stays one word.
 * Brackets that never close (prose, not classes) split at every space, as before.
 */
function classWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let depth = 0;
  for (const ch of text) {
    if (ch === "[") depth++;
    else if (ch === "]" && depth > 0) depth--;
    if (depth === 0 && /\s/.test(ch)) {
      if (word) words.push(word);
      word = "";
    } else word += ch;
  }
  if (depth > 0) words.push(...word.split(/\s+/));
  else if (word) words.push(word);
  return words.filter((w) => w.length > 0);
}
