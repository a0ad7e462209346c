/** Security headers for every response, and the page Content-Security-Policy. */

/** A fresh nonce per response: 128 random bits, base64. */
export function createNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

const DEFAULT_CSP: Record<string, string[]> = {
  "default-src": ["'self'"],
  "script-src": ["'self'"],
  "style-src": ["'self'"],
  "img-src": ["'self'", "data:", "blob:"],
  "media-src": ["'self'", "blob:", "mediastream:"],
  "connect-src": ["'self'"],
  "font-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'self'"],
  "frame-ancestors": ["'none'"],
};

/** Builds the policy; inline scripts and styles run only with this response's nonce. */
export function contentSecurityPolicy(nonce: string, extra: Record<string, string[]> = {}): string {
  const policy: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(DEFAULT_CSP)) policy[k] = [...v];
  for (const [k, v] of Object.entries(extra)) policy[k] = [...(policy[k] ?? []), ...v];
  policy["script-src"].push(`'nonce-${nonce}'`);
  policy["style-src"].push(`'nonce-${nonce}'`);
  return Object.entries(policy).map(([k, v]) => `${k} ${v.join(" ")}`).join("; ");
}

const STATIC_HEADERS: [string, string][] = [
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
  ["X-Frame-Options", "DENY"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  // A meeting app needs camera, microphone and screen capture, for itself only.
  [
    "Permissions-Policy",
    "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
  ],
];

/**
 * Adds the security headers (keeping any the handler set itself). Returns a new Response when
 * the original's headers are immutable (e.g. `Response.redirect`).
 */
export function withSecurityHeaders(res: Response, csp: string): Response {
  // A WebSocket upgrade (101) cannot be rebuilt and needs none of these.
  if (res.status === 101) return res;
  try {
    apply(res.headers, csp);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    apply(copy.headers, csp);
    return copy;
  }
}

function apply(headers: Headers, csp: string) {
  for (const [k, v] of STATIC_HEADERS) if (!headers.has(k)) headers.set(k, v);
  if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", csp);
}
