/**
 * What a browser downloads on a cold first load of a page: the HTML plus every script it would
 * fetch before the page is interactive (module scripts, modulepreloads, classic `src` scripts and
 * the static imports inside those modules, transitively). Dynamic `import()` is lazy, so it is not
 * part of the first load; what it reaches is reported apart (`later`: the meeting page loads the
 * meeting screen and its features that way while the pre-join screen shows). Sizes are of the
 * decoded bytes; gzip is level 9, per file, as each is served alone.
 */
import { gzipSync } from "node:zlib";

export interface FileWeight {
  url: string;
  raw: number;
  gzip: number;
  /**
   * Scripts loaded later: 1 for those the first load imports with `import()` (the meeting
   * screen, while the pre-join screen shows), 2 for those these import so (a dialog, the
   * whiteboard: on demand), and so on.
   */
  depth?: number;
}

export interface PageWeight {
  path: string;
  html: FileWeight;
  /** Inline `<script>` bodies: executable code vs data blocks (e.g. the JSON island state). */
  inline: { count: number; code: number; data: number };
  /** External scripts of the first load, in discovery order. */
  scripts: FileWeight[];
  js: { files: number; raw: number; gzip: number };
  /** Scripts reached only through `import()` from the first load, transitively. */
  later: FileWeight[];
  laterJs: { files: number; raw: number; gzip: number };
  /** Script URLs on another origin: listed, never fetched (the bench talks to 127.0.0.1 only). */
  skipped: string[];
}

const encoder = new TextEncoder();
const gzipSize = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).byteLength;

/** `import … from "x"`, `import "x"`, `export … from "x"`: static imports, also minified. */
const STATIC_IMPORT =
  /(?:^|[;}\s])(?:import|export)\s*(?:[\w$*{},\s]*?\s*from\s*)?(["'])([^"']+)\1/g;
const SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
const LINK = /<link\b([^>]*)>/gi;

/** Value of attribute `name` in a tag's attribute text; null when absent. */
function attr(attrs: string, name: string): string | null {
  const m = attrs.match(
    new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, "i"),
  );
  if (!m) return null;
  return (m[1] ?? m[2] ?? m[3]).replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(
    /&amp;/g,
    "&",
  );
}

function staticImports(code: string, base: URL): URL[] {
  return [...code.matchAll(STATIC_IMPORT)].map((m) => new URL(m[2], base));
}

/** `import("x")` with a string literal, also minified. */
const DYNAMIC_IMPORT = /\bimport\(\s*(["'])([^"']+)\1\s*\)/g;

function dynamicImports(code: string, base: URL): URL[] {
  return [...code.matchAll(DYNAMIC_IMPORT)].map((m) => new URL(m[2], base));
}

function total(files: FileWeight[]): { files: number; raw: number; gzip: number } {
  return {
    files: files.length,
    raw: files.reduce((n, f) => n + f.raw, 0),
    gzip: files.reduce((n, f) => n + f.gzip, 0),
  };
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return bytes;
}

export async function measurePageWeight(origin: string, path: string): Promise<PageWeight> {
  const pageUrl = new URL(path, origin);
  const htmlBytes = await fetchBytes(pageUrl);
  const html = new TextDecoder().decode(htmlBytes);

  // Scripts to fetch, with whether they are modules (only modules have static imports).
  const queue: { url: URL; module: boolean }[] = [];
  const inline = { count: 0, code: 0, data: 0 };
  for (const [, attrs, body] of html.matchAll(SCRIPT)) {
    const type = (attr(attrs, "type") ?? "").toLowerCase();
    const module = type === "module";
    const src = attr(attrs, "src");
    if (src !== null) {
      queue.push({ url: new URL(src, pageUrl), module });
      continue;
    }
    inline.count++;
    const executable = module || type === "" || type.includes("javascript");
    inline[executable ? "code" : "data"] += encoder.encode(body).byteLength;
    if (module) queue.push(...staticImports(body, pageUrl).map((url) => ({ url, module })));
  }
  for (const [, attrs] of html.matchAll(LINK)) {
    const href = attr(attrs, "href");
    if (attr(attrs, "rel")?.toLowerCase() === "modulepreload" && href !== null) {
      queue.push({ url: new URL(href, pageUrl), module: true });
    }
  }

  // Breadth-first over the import graph; each URL is downloaded once, like the module map does.
  // Dynamic imports wait for a second pass: they are what loads later.
  const seen = new Set<string>();
  const skipped: string[] = [];
  const lazy: URL[] = [];
  const walk = async (queue: { url: URL; module: boolean }[]) => {
    const files: FileWeight[] = [];
    for (let i = 0; i < queue.length; i++) {
      const { url, module } = queue[i];
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      if (url.origin !== pageUrl.origin) {
        skipped.push(url.href);
        continue;
      }
      const bytes = await fetchBytes(url);
      files.push({ url: url.pathname + url.search, raw: bytes.byteLength, gzip: gzipSize(bytes) });
      if (module) {
        const code = new TextDecoder().decode(bytes);
        queue.push(...staticImports(code, url).map((dep) => ({ url: dep, module: true })));
        lazy.push(...dynamicImports(code, url));
      }
    }
    return files;
  };
  const scripts = await walk(queue);
  const later: FileWeight[] = [];
  for (let depth = 1; lazy.length; depth++) {
    const files = await walk(lazy.splice(0).map((url) => ({ url, module: true })));
    later.push(...files.map((f) => ({ ...f, depth })));
  }

  return {
    path,
    html: { url: path, raw: htmlBytes.byteLength, gzip: gzipSize(htmlBytes) },
    inline,
    scripts,
    js: total(scripts),
    later,
    laterJs: total(later),
    skipped,
  };
}
