/**
 * Signaling settings, read from the environment (documented in the README). Defaults and bounds
 * come from `limits.ts`, so a setting and the limits that depend on it never disagree.
 */
import { CONFIG_DEFAULTS, CONFIG_MINIMUMS, MAX_CAPACITY } from "./limits.ts";
import type { HostFallback } from "./types.ts";
import { parseOrigin } from "./upgrade.ts";

/** What the signaling server of an isolate runs with (`configFromEnv`, or tests). */
export interface SignalingConfig {
  /**
   * Where rooms live: unset for Deno's embedded default (a local file that survives restarts),
   * a file path, `:memory:` (tests; one isolate only), or a KV Connect URL (Deno Deploy,
   * self-hosted denokv) with `DENO_KV_ACCESS_TOKEN`.
   */
  kv: string | undefined;
  /** Capacity of new rooms: a video mesh does not scale past about 8. */
  capacity: number;
  /** How long a dropped participant keeps its place and may resume. */
  graceMs: number;
  /** How often each server isolate records that its sockets are alive. */
  heartbeatMs: number;
  /** A member without a heartbeat for this long has lost its server: its grace period starts. */
  heartbeatTimeoutMs: number;
  /** Time a member has to connect to everyone, after joining or after a link fails. */
  linkDeadlineMs: number;
  /**
   * Origins allowed to open sockets, normalized (`scheme://host[:port]`, lower case, no default
   * port); null means "the request's own origin" (upgrade.ts).
   */
  allowedOrigins: string[] | null;
  /** WebSocket idle timeout in seconds: pings every half of it, closes when no pong comes. */
  idleTimeoutS: number;
  /** How often an isolate checks its inbox even without a doorbell (cross-process local KV). */
  inboxPollMs: number;
  /**
   * Bytes of signals an isolate may have queued for other isolates, all senders together; each
   * sending socket gets 1/`BUS_SENDER_SHARE` of it. Beyond, signals are refused (`relay-busy`).
   */
  busMaxQueuedBytes: number;
  /** Signaling sockets one client address may have open at once (client_limits.ts). */
  clientMaxSockets: number;
  /** Joins (not resumes) one client address may make per minute. */
  clientJoinsPerMin: number;
  /** Rooms one client address may create per minute. */
  clientRoomsPerMin: number;
  /** Inbound frames per second from one client address, across all its sockets. */
  clientMessagesPerS: number;
  /**
   * Reverse proxies in front of the server whose `X-Forwarded-For`, `-Proto` and `-Host` are
   * believed (forwarded.ts); 0 believes none.
   */
  trustProxy: number;
  /**
   * When the last host leaves a room where others remain: `oldest` makes the longest-present
   * connected participant host; `lock` locks the room until a host comes back with its secret.
   */
  hostFallback: HostFallback;
}

/** The configuration with no `MOOZ_*` variable set; tests start from it. */
export const DEFAULTS: SignalingConfig = {
  kv: undefined,
  allowedOrigins: null,
  hostFallback: "oldest",
  ...CONFIG_DEFAULTS,
};

const HOST_FALLBACKS: readonly HostFallback[] = ["oldest", "lock"];

function hostFallback(env: (k: string) => string | undefined): HostFallback {
  const raw = env("MOOZ_HOST_FALLBACK");
  if (raw === undefined || raw === "") return DEFAULTS.hostFallback;
  const value = HOST_FALLBACKS.find((f) => f === raw.trim().toLowerCase());
  if (value === undefined) {
    throw new Error(
      `MOOZ_HOST_FALLBACK=${raw} is not valid: use "oldest" (the longest-present participant ` +
        'becomes host) or "lock" (the meeting locks until a host returns).',
    );
  }
  return value;
}

function int(
  env: (k: string) => string | undefined,
  key: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env(key);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`${key}=${raw} is not valid: use a whole number ${range}.`);
  }
  return n;
}

/**
 * Reads `MOOZ_*` variables; throws with the variable's name and the accepted range when one is
 * malformed, so a bad deployment fails at its first request with a message saying what to fix.
 *
 * @example
 * ```ts
 * configFromEnv((k) => ({ MOOZ_ROOM_CAPACITY: "6" })[k]).capacity; // 6
 * ```
 */
export function configFromEnv(
  env: (key: string) => string | undefined = (k) => Deno.env.get(k),
): SignalingConfig {
  const origins = env("MOOZ_ALLOWED_ORIGINS");
  const min = CONFIG_MINIMUMS;
  return {
    kv: env("MOOZ_KV") || undefined,
    capacity: int(env, "MOOZ_ROOM_CAPACITY", DEFAULTS.capacity, min.capacity, MAX_CAPACITY),
    graceMs: int(env, "MOOZ_RESUME_GRACE_MS", DEFAULTS.graceMs, min.graceMs),
    heartbeatMs: int(env, "MOOZ_HEARTBEAT_MS", DEFAULTS.heartbeatMs, min.heartbeatMs),
    heartbeatTimeoutMs: int(
      env,
      "MOOZ_HEARTBEAT_TIMEOUT_MS",
      DEFAULTS.heartbeatTimeoutMs,
      min.heartbeatTimeoutMs,
    ),
    linkDeadlineMs: int(env, "MOOZ_LINK_DEADLINE_MS", DEFAULTS.linkDeadlineMs, min.linkDeadlineMs),
    allowedOrigins: origins ? allowedOrigins(origins) : null,
    idleTimeoutS: int(env, "MOOZ_WS_IDLE_TIMEOUT_S", DEFAULTS.idleTimeoutS, min.idleTimeoutS),
    inboxPollMs: int(env, "MOOZ_INBOX_POLL_MS", DEFAULTS.inboxPollMs, min.inboxPollMs),
    busMaxQueuedBytes: int(
      env,
      "MOOZ_BUS_MAX_QUEUED_BYTES",
      DEFAULTS.busMaxQueuedBytes,
      min.busMaxQueuedBytes,
    ),
    clientMaxSockets: int(
      env,
      "MOOZ_CLIENT_MAX_SOCKETS",
      DEFAULTS.clientMaxSockets,
      min.clientMaxSockets,
    ),
    clientJoinsPerMin: int(
      env,
      "MOOZ_CLIENT_JOINS_PER_MIN",
      DEFAULTS.clientJoinsPerMin,
      min.clientJoinsPerMin,
    ),
    clientRoomsPerMin: int(
      env,
      "MOOZ_CLIENT_ROOMS_PER_MIN",
      DEFAULTS.clientRoomsPerMin,
      min.clientRoomsPerMin,
    ),
    clientMessagesPerS: int(
      env,
      "MOOZ_CLIENT_MESSAGES_PER_S",
      DEFAULTS.clientMessagesPerS,
      min.clientMessagesPerS,
    ),
    trustProxy: int(env, "MOOZ_TRUST_PROXY", DEFAULTS.trustProxy, min.trustProxy),
    hostFallback: hostFallback(env),
  };
}

/** `MOOZ_ALLOWED_ORIGINS`, each entry normalized as browsers write `Origin`, or an error. */
function allowedOrigins(raw: string): string[] {
  return raw.split(",").map((o) => o.trim()).filter(Boolean).map((entry) => {
    const origin = parseOrigin(entry);
    if (origin === null) {
      throw new Error(
        `MOOZ_ALLOWED_ORIGINS: "${entry}" is not an origin. Write scheme://host[:port] with ` +
          "http or https and no path, e.g. https://meet.example.com.",
      );
    }
    return origin;
  });
}
