import { isAbsolute, join, relative, sep } from "node:path";
import { type ContentCoding, isCompressible, negotiateEncoding } from "./compress.ts";
import { contentTypeFor } from "./content_type.ts";

export interface StaticOptions {
  /** Absolute path of the folder to serve (e.g. <project>/static). */
  root: string;
  /** Cache-Control for files; default "public, max-age=0, must-revalidate". */
  cacheControl?: string;
  /**
   * How old the cached listing of root's entries may be before a request for a name not in it
   * reads root again. Default 1000 ms; tests use 0.
   */
  listingMaxAgeMs?: number;
}

const DEFAULT_CACHE_CONTROL = "public, max-age=0, must-revalidate";
const DEFAULT_LISTING_MAX_AGE_MS = 1_000;

/**
 * Splits a URL pathname into percent-decoded path segments, or returns null
 * when the path could leave the served folder, names a hidden file, or is not
 * a plain file path.
 *
 * Exported for tests: `new URL()` already collapses raw and `%2e%2e` dot
 * segments, so requests alone cannot exercise every rejection here.
 */
export function pathnameToSegments(pathname: string): string[] | null {
  if (!pathname.startsWith("/")) return null;
  const segments: string[] = [];
  for (const part of pathname.slice(1).split("/")) {
    let segment: string;
    try {
      // Decoded exactly once, so "%252e" stays the literal name "%2e".
      segment = decodeURIComponent(part);
    } catch {
      return null; // malformed percent-encoding
    }
    // "." covers "..", "." and dotfiles; a decoded "/" or "\" would turn one
    // URL segment into several path segments; NUL truncates paths in C APIs.
    // Empty segments come from "//" or a trailing "/", never a file name.
    if (segment === "" || segment.startsWith(".") || /[/\\\0]/.test(segment)) {
      return null;
    }
    segments.push(segment);
  }
  return segments;
}

/**
 * Creates a server for files below `root`. Returns null when the request is
 * not for an existing regular file below root (caller then continues
 * routing), so it never answers 404 itself.
 */
export function createStaticHandler(
  opts: StaticOptions,
): (req: Request) => Promise<Response | null> {
  const cacheControl = opts.cacheControl ?? DEFAULT_CACHE_CONTROL;
  const inRoot = topLevelNames(opts.root, opts.listingMaxAgeMs ?? DEFAULT_LISTING_MAX_AGE_MS);

  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return null;
    const segments = pathnameToSegments(new URL(req.url).pathname);
    if (segments === null) return null;
    // Most requests (pages, API calls, WebSocket upgrades) are not for static files: answer them
    // from the listing, without the realPath calls and the NotFound exception below. Only a
    // pre-check: a name that is listed still goes through every check of resolveInside.
    if (!(await inRoot(segments[0]))) return null;
    const path = await resolveInside(opts.root, segments);
    if (path === null) return null;

    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      return null;
    }
    // Checked before opening: opening a FIFO or device could block or never end.
    if (!info.isFile) return null;

    const notModified = notModifiedResponse(req, path, info, cacheControl);
    if (notModified) return notModified;
    if (req.method === "HEAD") {
      return new Response(null, {
        headers: fileHeaders(path, info, cacheControl),
      });
    }

    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      return null; // removed or made unreadable since the stat
    }
    // Headers come from the open handle so Content-Length and ETag describe
    // the bytes actually streamed, even if the file was replaced meanwhile.
    let opened: Deno.FileInfo;
    try {
      opened = await file.stat();
    } catch (err) {
      file.close();
      throw err;
    }
    if (!opened.isFile) {
      file.close();
      return null;
    }
    // The stream closes the file when fully read or cancelled.
    return new Response(file.readable, {
      headers: fileHeaders(path, opened, cacheControl),
    });
  };
}

/**
 * Whether `name` is an entry of `root`, from a listing read on first use. A name missing from the
 * listing re-reads it once the listing is older than `maxAgeMs`, so files added while the server
 * runs are served within about that time, and a stream of misses costs one readDir per interval.
 * (`deno task dev` restarts the server on changes below static/ anyway.)
 */
function topLevelNames(root: string, maxAgeMs: number): (name: string) => Promise<boolean> {
  let names = new Set<string>();
  let readAt = -Infinity;
  let reading: Promise<void> | null = null;
  const read = () =>
    reading ??= (async () => {
      const found = new Set<string>();
      try {
        for await (const entry of Deno.readDir(root)) found.add(entry.name);
      } catch {
        // A missing or unreadable root serves nothing; it is read again after maxAgeMs.
      }
      names = found;
      readAt = performance.now();
    })().finally(() => (reading = null));
  return async (name) => {
    if (names.has(name)) return true;
    if (performance.now() - readAt < maxAgeMs) return false;
    await read();
    return names.has(name);
  };
}

/** What {@link serveBytes} needs besides the body. */
export interface ServeBytesInit {
  contentType: string;
  /** The identity body's ETag (quoted or bare); a compressed body's adds `-br` or `-gzip`. */
  etag: string;
  cacheControl: string;
  /**
   * The same body compressed (e.g. `.br` and `.gz` files written at build time). When given, the
   * response varies on Accept-Encoding: br is preferred to gzip at equal weight, since both cost
   * nothing now and br is smaller.
   */
  encoded?: Partial<Record<ContentCoding, Uint8Array>>;
}

/**
 * Answers a GET/HEAD for an in-memory asset with a strong ETag; handles
 * If-None-Match -> 304. With `encoded` bodies, serves the one the request accepts, each coding
 * with its own ETag, so a cache never answers one coding's revalidation with another's bytes.
 */
export function serveBytes(req: Request, body: Uint8Array, init: ServeBytesInit): Response {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
  }
  const available = (["br", "gzip"] as const).filter((c) => init.encoded?.[c]);
  const coding = available.length > 0
    ? negotiateEncoding(req.headers.get("Accept-Encoding"), available)
    : null;
  // Accept a bare hash from callers; an ETag on the wire must be quoted.
  const opaque = init.etag.replace(/^(W\/)?"?|"$/g, "");
  const weak = init.etag.startsWith("W/") ? "W/" : "";
  const etag = `${weak}"${opaque}${coding ? `-${coding}` : ""}"`;
  const headers = new Headers({
    "ETag": etag,
    "Cache-Control": init.cacheControl,
    "X-Content-Type-Options": "nosniff",
  });
  if (available.length > 0) headers.set("Vary", "Accept-Encoding");
  const ifNoneMatch = req.headers.get("If-None-Match");
  if (ifNoneMatch !== null && etagMatches(ifNoneMatch, etag)) {
    return new Response(null, { status: 304, headers });
  }
  const bytes = coding ? init.encoded![coding]! : body;
  headers.set("Content-Type", init.contentType);
  headers.set("Content-Length", String(bytes.byteLength));
  if (coding) headers.set("Content-Encoding", coding);
  // Copied into a fresh ArrayBuffer-backed view: BodyInit rejects views over
  // a SharedArrayBuffer, and callers may keep mutating their buffer.
  return new Response(req.method === "HEAD" ? null : new Uint8Array(bytes), {
    headers,
  });
}

/**
 * Real path of `root/segments` if it exists and, after following symlinks,
 * still lies below the real root without passing through hidden entries.
 */
async function resolveInside(
  root: string,
  segments: string[],
): Promise<string | null> {
  let realRoot: string;
  let realPath: string;
  try {
    realRoot = await Deno.realPath(root);
    realPath = await Deno.realPath(join(realRoot, ...segments));
  } catch {
    // Missing files, "file/below-a-file", loops and permission errors are
    // all "not a static file"; later routes decide what to answer.
    return null;
  }
  // A symlink may point anywhere, so only the resolved target counts. A
  // relative path starting with "." is outside root ("..") or hidden; an
  // absolute one means another drive on Windows.
  const rel = relative(realRoot, realPath);
  if (
    rel === "" || isAbsolute(rel) ||
    rel.split(sep).some((s) => s.startsWith("."))
  ) {
    return null;
  }
  return realPath;
}

function etagFor(info: Deno.FileInfo): string {
  // Weak: size + mtime identifies a version but does not prove byte equality.
  const mtime = Math.floor(info.mtime?.getTime() ?? 0);
  return `W/"${info.size.toString(36)}-${mtime.toString(36)}"`;
}

function fileHeaders(
  path: string,
  info: Deno.FileInfo,
  cacheControl: string,
): Headers {
  const contentType = contentTypeFor(path);
  const headers = new Headers({
    "Content-Type": contentType,
    "Content-Length": String(info.size),
    "ETag": etagFor(info),
    "Cache-Control": cacheControl,
    "X-Content-Type-Options": "nosniff",
  });
  if (info.mtime) headers.set("Last-Modified", info.mtime.toUTCString());
  // The server compresses such files on the fly (compress.ts): another request may get them so.
  if (isCompressible(contentType)) headers.set("Vary", "Accept-Encoding");
  return headers;
}

function notModifiedResponse(
  req: Request,
  path: string,
  info: Deno.FileInfo,
  cacheControl: string,
): Response | null {
  const etag = etagFor(info);
  const ifNoneMatch = req.headers.get("If-None-Match");
  // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is sent.
  const fresh = ifNoneMatch !== null
    ? etagMatches(ifNoneMatch, etag)
    : unmodifiedSince(req.headers.get("If-Modified-Since"), info.mtime);
  if (!fresh) return null;
  const headers = new Headers({
    "ETag": etag,
    "Cache-Control": cacheControl,
    "X-Content-Type-Options": "nosniff",
  });
  if (info.mtime) headers.set("Last-Modified", info.mtime.toUTCString());
  if (isCompressible(contentTypeFor(path))) headers.set("Vary", "Accept-Encoding");
  return new Response(null, { status: 304, headers });
}

/** Weak comparison, as RFC 9110 prescribes for If-None-Match. */
function etagMatches(header: string, etag: string): boolean {
  const opaque = (tag: string) => tag.replace(/^W\//, "");
  const wanted = opaque(etag);
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || opaque(tag) === wanted;
  });
}

function unmodifiedSince(header: string | null, mtime: Date | null): boolean {
  if (header === null || mtime === null) return false;
  const since = Date.parse(header);
  if (Number.isNaN(since)) return false;
  // Last-Modified has one-second resolution, so compare at that resolution.
  return Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}
