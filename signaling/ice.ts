/**
 * ICE servers for the browsers: public STUN by default, and TURN with time-limited credentials
 * (coturn's `use-auth-secret` / `static-auth-secret` REST scheme), so that no long-lived TURN
 * password is ever shipped to a browser. Settings come from `MOOZ_*` variables (see the README).
 */

export interface IceConfig {
  /** `stun:` URLs; empty for none. */
  stunUrls: string[];
  /** `turn:` and `turns:` URLs that share `turnSecret`; empty for none. */
  turnUrls: string[];
  /** coturn's `static-auth-secret`; null exactly when `turnUrls` is empty. */
  turnSecret: string | null;
  /** How long issued TURN credentials are valid, in seconds. */
  turnTtlS: number;
  /** `relay` makes browsers use TURN only (hides their addresses from the other participants). */
  transportPolicy: "all" | "relay";
}

/** What `GET /api/ice` returns: pass `iceServers` and `iceTransportPolicy` to RTCPeerConnection. */
export interface IceServersResponse {
  iceServers: RTCIceServer[];
  iceTransportPolicy: "all" | "relay";
  /**
   * When the TURN credentials expire, in milliseconds since the epoch (compare with `Date.now()`).
   * coturn checks them when an allocation is created, so running connections survive expiry, but
   * new peer connections and ICE restarts after this moment need a fresh `GET /api/ice`.
   */
  expiresAt: number;
}

export const DEFAULT_STUN_URLS: readonly string[] = ["stun:stun.l.google.com:19302"];
export const DEFAULT_TURN_TTL_S = 3600;
/** Bounds of `MOOZ_TURN_TTL_S`: at least a minute, at most a week. */
export const MIN_TURN_TTL_S = 60;
export const MAX_TURN_TTL_S = 7 * 24 * 3600;
/** The part of TURN usernames after the expiry (`1767225600:mooz`); shows up in coturn's logs. */
export const TURN_USER_LABEL = "mooz";

export const DEFAULT_ICE_CONFIG: IceConfig = {
  stunUrls: [...DEFAULT_STUN_URLS],
  turnUrls: [],
  turnSecret: null,
  turnTtlS: DEFAULT_TURN_TTL_S,
  transportPolicy: "all",
};

/**
 * RFC 7064 / 7065 URIs as browsers accept them: `stun:host[:port]`,
 * `turn[s]:host[:port][?transport=udp|tcp]`; host is a name, an IPv4 address or `[IPv6]`.
 */
const ICE_URL =
  /^(stun|turn|turns):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/;

function urlList(
  key: string,
  raw: string,
  schemes: readonly ("stun" | "turn" | "turns")[],
): string[] {
  const urls = raw.split(",").map((u) => u.trim()).filter(Boolean);
  for (const url of urls) {
    const m = ICE_URL.exec(url);
    const scheme = m?.[1] as "stun" | "turn" | "turns" | undefined;
    const port = m?.[3] === undefined ? 1 : Number(m[3]);
    if (!m || !scheme || port < 1 || port > 65535 || (scheme === "stun" && m[4])) {
      throw new Error(
        `${key} has an invalid entry "${url}": use ` +
          (schemes.includes("stun")
            ? "stun:host[:port], e.g. stun:stun.example.com:3478"
            : "turn:host[:port][?transport=udp|tcp] or turns:host[:port][?transport=tcp], " +
              "e.g. turn:turn.example.com:3478?transport=udp") +
          " (only stun:, turn: and turns: URLs are accepted).",
      );
    }
    if (!schemes.includes(scheme)) {
      throw new Error(
        scheme === "stun"
          ? `${key} has a stun: URL "${url}": list STUN servers in MOOZ_STUN_URLS.`
          : `${key} has a ${scheme}: URL "${url}": TURN servers go in MOOZ_TURN_URLS, with ` +
            "MOOZ_TURN_SECRET.",
      );
    }
  }
  return urls;
}

/**
 * Reads `MOOZ_STUN_URLS`, `MOOZ_TURN_URLS`, `MOOZ_TURN_SECRET`, `MOOZ_TURN_TTL_S` and
 * `MOOZ_ICE_TRANSPORT_POLICY`; throws an error naming the variable when one is malformed.
 * The secret never appears in an error message.
 */
export function iceConfigFromEnv(
  env: (key: string) => string | undefined = (k) => Deno.env.get(k),
): IceConfig {
  const stunRaw = env("MOOZ_STUN_URLS");
  const stunUrls = stunRaw === undefined
    ? [...DEFAULT_STUN_URLS]
    : urlList("MOOZ_STUN_URLS", stunRaw, ["stun"]);

  const turnUrls = urlList("MOOZ_TURN_URLS", env("MOOZ_TURN_URLS") ?? "", ["turn", "turns"]);
  const secretRaw = env("MOOZ_TURN_SECRET") ?? "";
  const turnSecret = secretRaw === "" ? null : secretRaw;
  if (turnSecret !== null && turnSecret.trim() !== turnSecret) {
    throw new Error(
      "MOOZ_TURN_SECRET starts or ends with whitespace; coturn would not see the same secret. " +
        "Remove it (a trailing newline from a secrets file is the usual cause).",
    );
  }
  if (turnUrls.length > 0 && turnSecret === null) {
    throw new Error(
      "MOOZ_TURN_URLS is set but MOOZ_TURN_SECRET is not: set it to the TURN server's " +
        "static-auth-secret (coturn: use-auth-secret + static-auth-secret).",
    );
  }
  if (turnSecret !== null && turnUrls.length === 0) {
    throw new Error(
      "MOOZ_TURN_SECRET is set but MOOZ_TURN_URLS is not: list the TURN server URLs, e.g. " +
        "turn:turn.example.com:3478?transport=udp.",
    );
  }

  const ttlRaw = env("MOOZ_TURN_TTL_S");
  let turnTtlS = DEFAULT_TURN_TTL_S;
  if (ttlRaw !== undefined && ttlRaw.trim() !== "") {
    turnTtlS = Number(ttlRaw.trim());
    if (!/^\d+$/.test(ttlRaw.trim()) || turnTtlS < MIN_TURN_TTL_S || turnTtlS > MAX_TURN_TTL_S) {
      throw new Error(
        `MOOZ_TURN_TTL_S=${ttlRaw} is not valid: use a whole number of seconds from ` +
          `${MIN_TURN_TTL_S} to ${MAX_TURN_TTL_S} (default ${DEFAULT_TURN_TTL_S}).`,
      );
    }
  }

  const policyRaw = (env("MOOZ_ICE_TRANSPORT_POLICY") ?? "").trim();
  let transportPolicy: "all" | "relay" = "all";
  if (policyRaw === "relay" || policyRaw === "all") transportPolicy = policyRaw;
  else if (policyRaw !== "") {
    throw new Error(
      `MOOZ_ICE_TRANSPORT_POLICY=${policyRaw} is not valid: use "all" (default) or "relay".`,
    );
  }
  if (transportPolicy === "relay" && turnUrls.length === 0) {
    throw new Error(
      "MOOZ_ICE_TRANSPORT_POLICY=relay needs a TURN server, or no call could connect: set " +
        "MOOZ_TURN_URLS and MOOZ_TURN_SECRET.",
    );
  }

  return { stunUrls, turnUrls, turnSecret, turnTtlS, transportPolicy };
}

const encoder = new TextEncoder();

/** base64(HMAC-SHA1(secret, username)): the TURN password coturn derives for `username`. */
export async function turnPassword(secret: string, username: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(username)));
  return btoa(String.fromCharCode(...mac));
}

/**
 * The ICE configuration for one browser at `now` (ms since the epoch): STUN servers, and TURN
 * servers with credentials valid for `turnTtlS` seconds (username `${expiry}:mooz`, expiry in
 * Unix seconds, as coturn's `use-auth-secret` expects).
 */
export async function iceServersFor(
  config: IceConfig,
  now: number = Date.now(),
): Promise<IceServersResponse> {
  const expiry = Math.floor(now / 1000) + config.turnTtlS;
  const iceServers: RTCIceServer[] = [];
  if (config.stunUrls.length > 0) iceServers.push({ urls: [...config.stunUrls] });
  if (config.turnUrls.length > 0) {
    if (config.turnSecret === null) throw new Error("TURN URLs are configured without a secret.");
    const username = `${expiry}:${TURN_USER_LABEL}`;
    iceServers.push({
      urls: [...config.turnUrls],
      username,
      credential: await turnPassword(config.turnSecret, username),
    });
  }
  return { iceServers, iceTransportPolicy: config.transportPolicy, expiresAt: expiry * 1000 };
}
