/**
 * HTTP content coding: which coding a request accepts (`Accept-Encoding`), compressing bytes, and
 * compressing a response on the fly. Island bundles are compressed once at build time, as hard as
 * brotli and gzip go (`bundle.ts`); pages and other compressible responses here, per request, with
 * settings cheap enough to sit beside rendering.
 */
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** The content codings this server produces. */
export type ContentCoding = "br" | "gzip";

/** Responses smaller than this go out as they are: compressing them saves less than a packet. */
export const MIN_COMPRESS_BYTES = 1024;

/**
 * Larger bodies of unknown length are sent uncompressed rather than held in memory whole. Every
 * page and static file of this app is far below it.
 */
export const MAX_COMPRESS_BYTES = 4 * 1024 * 1024;

/**
 * How hard to compress: `"max"` for files compressed once and served many times (the island
 * bundles at build time), `"fast"` for a response compressed on every request.
 */
export type Effort = "max" | "fast";

/** File name suffix of a precompressed file beside the original (`x.js.br`, `x.js.gz`). */
export const CODING_SUFFIX: Readonly<Record<ContentCoding, string>> = { br: ".br", gzip: ".gz" };

/**
 * Weights of the codings named in an `Accept-Encoding` header, lower-cased (`x-gzip` counts as
 * `gzip`); a weight that does not parse makes its entry count as 0 (not acceptable).
 */
export function parseAcceptEncoding(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const item of header.split(",")) {
    const [name, ...params] = item.split(";").map((s) => s.trim());
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const [key, value = ""] = param.split("=").map((s) => s.trim());
      if (key.toLowerCase() !== "q") continue;
      // RFC 9110 §12.4.2: a qvalue is 0 to 1 with at most three decimals.
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
    }
    const coding = name.toLowerCase() === "x-gzip" ? "gzip" : name.toLowerCase();
    // A coding listed twice keeps its first weight, as most servers do.
    if (!weights.has(coding)) weights.set(coding, q);
  }
  return weights;
}

/**
 * The coding to answer with, among `available` (in the server's order of preference), or null
 * for the identity (uncompressed) body: the available coding with the highest weight above 0,
 * ties going to the earlier one in `available`. Codings the header does not name get the weight
 * of `*`, if any. No header, an empty one, or one that weighs `identity` above every available
 * coding gets null. (When nothing acceptable is available, the identity body is still sent: RFC
 * 9110 allows that instead of a 406, and every client can read it.)
 */
export function negotiateEncoding(
  header: string | null,
  available: readonly ContentCoding[],
): ContentCoding | null {
  if (header === null || header.trim() === "") return null;
  const weights = parseAcceptEncoding(header);
  const any = weights.get("*");
  let best: ContentCoding | null = null;
  let bestWeight = 0;
  for (const coding of available) {
    const weight = weights.get(coding) ?? any ?? 0;
    if (weight > bestWeight) [best, bestWeight] = [coding, weight];
  }
  const identity = weights.get("identity");
  if (best !== null && identity !== undefined && identity > bestWeight) return null;
  return best;
}

/** Compresses `bytes` with `coding`. Synchronous: the bodies are small (see MAX_COMPRESS_BYTES). */
export function compressBytes(
  bytes: Uint8Array,
  coding: ContentCoding,
  effort: Effort,
): Uint8Array<ArrayBuffer> {
  // Copied out of node's Buffer (a view that may share a pooled buffer) into a plain array.
  return new Uint8Array(compressWith(bytes, coding, effort));
}

function compressWith(bytes: Uint8Array, coding: ContentCoding, effort: Effort): Uint8Array {
  if (coding === "br") {
    return brotliCompressSync(bytes, {
      params: {
        // Quality 5 is where brotli beats gzip on this app's pages (about 9% smaller) at about
        // 1 ms per page; 11 takes 50 to 100 ms per page and is for build time only.
        [constants.BROTLI_PARAM_QUALITY]: effort === "max" ? 11 : 5,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
      },
    });
  }
  return gzipSync(bytes, { level: effort === "max" ? 9 : 6 });
}

/**
 * Every coding of `bytes` that comes out smaller than the original, compressed as hard as the
 * coding goes: for files compressed once and served many times.
 */
export function precompress(bytes: Uint8Array): Partial<Record<ContentCoding, Uint8Array>> {
  const out: Partial<Record<ContentCoding, Uint8Array>> = {};
  for (const coding of ["br", "gzip"] as const) {
    const compressed = compressBytes(bytes, coding, "max");
    if (compressed.byteLength < bytes.byteLength) out[coding] = compressed;
  }
  return out;
}

// Media types whose bodies shrink when compressed. Images other than SVG, fonts, audio and video
// are compressed already: compressing them again costs CPU for nothing.
const COMPRESSIBLE = new Set([
  "text/html",
  "text/css",
  "text/javascript",
  "application/javascript",
  "text/plain",
  "text/markdown",
  "text/xml",
  "application/xml",
  "application/json",
  "application/manifest+json",
  "application/ld+json",
  "image/svg+xml",
]);

/** Whether a body of this Content-Type is worth compressing (never `text/event-stream`). */
export function isCompressible(contentType: string | null): boolean {
  if (contentType === null) return false;
  return COMPRESSIBLE.has(contentType.split(";")[0].trim().toLowerCase());
}

/** Adds `Accept-Encoding` to the Vary header unless it is there already (or Vary is `*`). */
export function varyOnAcceptEncoding(headers: Headers): void {
  const vary = headers.get("Vary");
  if (vary === null) {
    headers.set("Vary", "Accept-Encoding");
    return;
  }
  const names = vary.split(",").map((s) => s.trim().toLowerCase());
  if (!names.includes("accept-encoding") && !names.includes("*")) {
    headers.set("Vary", `${vary}, Accept-Encoding`);
  }
}

/**
 * The codings a response compressed on the fly may use, best first. gzip first: for a page
 * rendered per request it costs a third of brotli's time (0.3 against 1 ms for the meeting page
 * here) for a body about 9% larger, which is less than one packet. A client that weighs br above
 * gzip, or takes only br, still gets br.
 */
const ON_THE_FLY: readonly ContentCoding[] = ["gzip", "br"];

/**
 * Compresses `res` for `req` when that is worth it: a GET whose response has a compressible
 * Content-Type, a body of {@link MIN_COMPRESS_BYTES} to {@link MAX_COMPRESS_BYTES}, no
 * Content-Encoding of its own, no `Cache-Control: no-transform`, and a request that accepts
 * gzip or br. Such responses also get `Vary: Accept-Encoding` when they go out uncompressed
 * (another client would get them compressed), and 304s of compressible resources keep the
 * Vary their handler set. A strong ETag becomes weak on a compressed body: the bytes differ,
 * the content does not, and If-None-Match compares weakly.
 *
 * The body is read whole before it is compressed, so a long-lived stream with a compressible
 * type would be held back: this app has none (its event stream, `text/event-stream`, is never
 * compressed).
 */
export async function compressResponse(req: Request, res: Response): Promise<Response> {
  // `res.body` is read only when compressing: reading it turns a body of known length into a
  // stream, which Deno then sends chunked, without Content-Length.
  if (
    res.status === 101 || res.status === 204 || res.status === 206 ||
    res.status === 304 || !isCompressible(res.headers.get("Content-Type")) ||
    res.headers.has("Content-Encoding") ||
    /(^|,)\s*no-transform\s*(,|$)/i.test(res.headers.get("Cache-Control") ?? "")
  ) {
    return res;
  }
  const headers = new Headers(res.headers);
  varyOnAcceptEncoding(headers);
  const coding = req.method === "GET"
    ? negotiateEncoding(req.headers.get("Accept-Encoding"), ON_THE_FLY)
    : null;
  const declared = res.headers.get("Content-Length");
  const length = declared === null ? null : Number(declared);
  if (
    coding === null || res.body === null ||
    (length !== null && (length < MIN_COMPRESS_BYTES || length > MAX_COMPRESS_BYTES))
  ) {
    return withHeaders(res, headers);
  }
  const read = await readUpTo(res.body, MAX_COMPRESS_BYTES);
  const init = { status: res.status, statusText: res.statusText, headers };
  if (read.rest) return new Response(read.rest, init);
  if (read.bytes.byteLength < MIN_COMPRESS_BYTES) return new Response(read.bytes, init);
  const compressed = compressBytes(read.bytes, coding, "fast");
  headers.set("Content-Encoding", coding);
  headers.set("Content-Length", String(compressed.byteLength));
  const etag = headers.get("ETag");
  if (etag?.startsWith('"')) headers.set("ETag", `W/${etag}`);
  return new Response(compressed, init);
}

/** `res` with `headers`: the same object when its headers may be changed, else a copy. */
function withHeaders(res: Response, headers: Headers): Response {
  try {
    const vary = headers.get("Vary");
    if (vary !== null) res.headers.set("Vary", vary);
    return res;
  } catch {
    // Immutable headers (Response.redirect, a fetched response): rebuild it around its body.
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  }
}

/**
 * Reads `body` whole when it ends within `limit` bytes (`bytes`); otherwise `rest` is a stream
 * of everything, what was read first included, and nothing is lost.
 */
async function readUpTo(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<
  { bytes: Uint8Array<ArrayBuffer>; rest: null } | { bytes: null; rest: ReadableStream<Uint8Array> }
> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) {
      const rest = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
        },
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      });
      return { bytes: null, rest };
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, rest: null };
}
