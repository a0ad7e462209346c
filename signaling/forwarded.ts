/**
 * Who sent a request and which origin it was addressed to. Without a reverse proxy, the TCP peer
 * and the request's own URL say so. Behind `trustProxy` proxies (`MOOZ_TRUST_PROXY`), every
 * connection comes from the nearest proxy, so the client's address comes from `X-Forwarded-For`
 * and the scheme and host the browser used from `X-Forwarded-Proto` and `X-Forwarded-Host`.
 * Those headers are believed only then: anyone can send them.
 */

/** The entries of a comma-separated header (repeated headers arrive joined by commas). */
function entries(header: string | null): string[] {
  if (header === null) return [];
  return header.split(",").map((e) => e.trim()).filter(Boolean);
}

/**
 * The entry written by the outermost of `hops` trusted proxies. Each proxy appends what it saw,
 * so the last `hops` entries are the proxies' own and anything before them came from the
 * client, unverified. With fewer entries than hops (a proxy that overwrote the header instead
 * of appending), the first entry.
 */
function trustedEntry(header: string | null, hops: number): string | null {
  const list = entries(header);
  if (list.length === 0) return null;
  return list[list.length - Math.min(hops, list.length)];
}

/** 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6. */
function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return /^127\.\d+\.\d+\.\d+$/.test(a) || a === "::1" || a === "0:0:0:0:0:0:0:1";
}

/**
 * The client's network address, to count its per-client limits under: the TCP peer
 * (`remoteAddr`, from `Deno.serve`'s handler info), or with `trustProxy` hops the address the
 * outermost trusted proxy saw. Null when clients cannot be told apart: no TCP peer (a Unix
 * socket) and no trusted header, or, with no proxy trusted, a peer on this machine. That is a
 * local reverse proxy (set `MOOZ_TRUST_PROXY`) or a local tool; counting it would put every
 * client behind it in one budget, so one of them could lock all the others out.
 *
 * @example
 * ```ts
 * // Behind one proxy that appends the client's address:
 * const req = new Request("http://10.0.0.2/", { headers: { "x-forwarded-for": "spoof, 203.0.113.7" } });
 * clientAddress(req, { transport: "tcp", hostname: "10.0.0.1", port: 5000 }, 1); // "203.0.113.7"
 * ```
 */
export function clientAddress(
  req: Request,
  remoteAddr: Deno.Addr | undefined,
  trustProxy: number,
): string | null {
  const peer = remoteAddr && "hostname" in remoteAddr ? remoteAddr.hostname : null;
  if (trustProxy <= 0) return peer === null || isLoopback(peer) ? null : peer;
  return trustedEntry(req.headers.get("x-forwarded-for"), trustProxy) ?? peer;
}

/**
 * The origin (`scheme://host[:port]`, normalized) the browser addressed: the request URL's, or
 * with `trustProxy` hops the scheme and host the outermost trusted proxy received (each falling
 * back to the request's own when the proxy did not send it). Null when the forwarded values do
 * not form an http(s) origin.
 *
 * @example
 * ```ts
 * const req = new Request("http://127.0.0.1:8000/", {
 *   headers: { "x-forwarded-proto": "https", "x-forwarded-host": "meet.example" },
 * });
 * requestOrigin(req, 0); // "http://127.0.0.1:8000"
 * requestOrigin(req, 1); // "https://meet.example"
 * ```
 */
export function requestOrigin(req: Request, trustProxy: number): string | null {
  const url = new URL(req.url);
  if (trustProxy <= 0) return url.origin;
  const proto = trustedEntry(req.headers.get("x-forwarded-proto"), trustProxy)?.toLowerCase() ??
    url.protocol.slice(0, -1);
  const host = trustedEntry(req.headers.get("x-forwarded-host"), trustProxy) ?? url.host;
  // Some proxies report the WebSocket scheme; the page's origin has the HTTP one.
  const scheme = proto === "wss" ? "https" : proto === "ws" ? "http" : proto;
  // A host, not a URL: no path, query, fragment or credentials smuggled in.
  if ((scheme !== "http" && scheme !== "https") || /[/\\?#@\s]/.test(host)) return null;
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return null;
  }
}
