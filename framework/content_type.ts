/** Media type for files whose extension is unknown; browsers will not try to render it. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

const UTF8 = "; charset=utf-8";

// A Map rather than an object literal so names like "x.constructor" or
// "x.__proto__" cannot pick up inherited properties.
const TYPES = new Map<string, string>([
  ["html", "text/html" + UTF8],
  ["htm", "text/html" + UTF8],
  ["css", "text/css" + UTF8],
  ["js", "text/javascript" + UTF8],
  ["mjs", "text/javascript" + UTF8],
  ["json", "application/json" + UTF8],
  ["map", "application/json" + UTF8],
  ["webmanifest", "application/manifest+json" + UTF8],
  ["txt", "text/plain" + UTF8],
  ["xml", "application/xml" + UTF8],
  ["svg", "image/svg+xml" + UTF8],
  ["png", "image/png"],
  ["jpg", "image/jpeg"],
  ["jpeg", "image/jpeg"],
  ["gif", "image/gif"],
  ["webp", "image/webp"],
  ["avif", "image/avif"],
  ["ico", "image/x-icon"],
  ["woff", "font/woff"],
  ["woff2", "font/woff2"],
  ["ttf", "font/ttf"],
  ["otf", "font/otf"],
  ["wasm", "application/wasm"],
  ["pdf", "application/pdf"],
  ["mp3", "audio/mpeg"],
  ["mp4", "video/mp4"],
  ["webm", "video/webm"],
  ["ogg", "audio/ogg"],
  ["wav", "audio/wav"],
]);

/**
 * Content-Type for a file path or file name, chosen by its extension
 * (case-insensitive). Textual types carry `charset=utf-8` so browsers do not
 * guess the encoding.
 */
export function contentTypeFor(path: string): string {
  const name = path.slice(
    Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1,
  );
  const dot = name.lastIndexOf(".");
  if (dot === -1) return DEFAULT_CONTENT_TYPE;
  return TYPES.get(name.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}
