/**
 * Which requests to `/api/rooms/{room}/ws` are refused before any WebSocket exists: a malformed
 * room id, a request that is not an upgrade, an origin that may not connect, and a client address
 * with too many sockets open (PROTOCOL.md, "Connection"). Each refusal says what to do instead.
 */
import { requestOrigin } from "./forwarded.ts";
import { CLIENT_SOCKETS_RETRY_AFTER_S } from "./limits.ts";
import { isRoomId } from "./room_id.ts";

/** An HTTP answer instead of an upgrade; `code` also labels the `rejected` metric. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  /** Seconds the client should wait before trying again (`Retry-After`). */
  retryAfterS?: number;
}

/** What the origin check compares against (`SignalingConfig` has both). */
export interface OriginPolicy {
  /** `MOOZ_ALLOWED_ORIGINS`, normalized (config.ts), or null for "the request's own origin". */
  allowedOrigins: string[] | null;
  /** `MOOZ_TRUST_PROXY`: with proxies, the request's own origin is the one they forward. */
  trustProxy: number;
}

/**
 * Why the upgrade request must be refused, or null when it may proceed.
 *
 * @example
 * ```ts
 * const refusal = refuseUpgrade(req, room, config);
 * if (refusal) return Response.json(refusal, { status: refusal.status });
 * ```
 */
export function refuseUpgrade(req: Request, room: string, policy: OriginPolicy): Refusal | null {
  if (!isRoomId(room)) {
    return {
      status: 404,
      code: "bad-room",
      message: "No such meeting: the room id in the URL is malformed.",
    };
  }
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return {
      status: 426,
      code: "upgrade-required",
      message: "Connect with a WebSocket to this URL.",
    };
  }
  const why = originRefused(req, policy);
  return why === null ? null : { status: 403, code: "bad-origin", message: why };
}

/**
 * The refusal of a socket beyond `MOOZ_CLIENT_MAX_SOCKETS` (client_limits.ts): HTTP 429, to try
 * again once one of the address's sockets has closed.
 */
export function tooManySockets(limit: number): Refusal {
  return {
    status: 429,
    code: "too-many-sockets",
    message: `Too many meeting connections from your network address (at most ${limit} at once). ` +
      "Close meeting tabs you no longer use, then try again; whoever runs this server can " +
      "raise MOOZ_CLIENT_MAX_SOCKETS.",
    retryAfterS: CLIENT_SOCKETS_RETRY_AFTER_S,
  };
}

/**
 * A browser origin (`scheme://host[:port]`, http or https, no path) in the form browsers send in
 * `Origin`: lower case, without the scheme's default port. Null for anything else, `null` (the
 * origin of sandboxed frames and files) included.
 *
 * @example
 * ```ts
 * parseOrigin("HTTPS://Meet.Example:443/"); // "https://meet.example"
 * parseOrigin("https://meet.example/path"); // null
 * ```
 */
export function parseOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || url.pathname !== "/" || url.search || url.hash) return null;
  return url.origin;
}

/**
 * Why the request's `Origin` may not open a socket, or null when it may. Scheme, host and port
 * must all match: a page served over plain HTTP on the same host is another site. Browsers
 * always send Origin with WebSockets; only non-browser clients omit it, and they are not the
 * cross-site threat this check exists for.
 */
function originRefused(req: Request, policy: OriginPolicy): string | null {
  const header = req.headers.get("origin");
  if (header === null) return null;
  const origin = parseOrigin(header);
  if (policy.allowedOrigins) {
    if (origin !== null && policy.allowedOrigins.includes(origin)) return null;
    return `The origin ${JSON.stringify(header)} may not connect: it is not in ` +
      "MOOZ_ALLOWED_ORIGINS on the server.";
  }
  const own = requestOrigin(req, policy.trustProxy);
  if (own === null) {
    return "The reverse proxy's X-Forwarded-Proto and X-Forwarded-Host do not form an origin. " +
      "Fix the proxy's headers, or set MOOZ_ALLOWED_ORIGINS to this site's origin " +
      "(e.g. https://meet.example.com) on the server.";
  }
  if (origin === own) return null;
  if (origin === null) {
    return `The origin ${JSON.stringify(header)} may not connect: only pages of this site ` +
      `(${own}) may, and MOOZ_ALLOWED_ORIGINS on the server can add others.`;
  }
  const page = new URL(origin);
  const server = new URL(own);
  if (page.hostname === server.hostname && page.protocol !== server.protocol) {
    // Most likely not an attack but a TLS-terminating proxy: the browser is on https, the
    // server sees http.
    return `The page's origin (${origin}) and the server's (${own}) differ in scheme. Behind a ` +
      "TLS-terminating proxy, set MOOZ_TRUST_PROXY=1 (the proxy must send X-Forwarded-Proto) " +
      `or MOOZ_ALLOWED_ORIGINS=${origin} on the server.`;
  }
  return `The origin ${origin} may not connect: only pages of this site (${own}) may. Behind a ` +
    "reverse proxy, set MOOZ_TRUST_PROXY=1; to let another site's pages connect, add its " +
    "origin to MOOZ_ALLOWED_ORIGINS on the server.";
}
