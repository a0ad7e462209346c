/** Signaling settings, read from the environment (documented in the README). */

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
  /** A member without a heartbeat for this long is removed (its server died). */
  heartbeatTimeoutMs: number;
  /** Time a member has to connect to everyone, after joining or after a link fails. */
  linkDeadlineMs: number;
  /** Origins allowed to open sockets; null means "same host as the request". */
  allowedOrigins: string[] | null;
  /** WebSocket idle timeout in seconds: pings every half of it, closes when no pong comes. */
  idleTimeoutS: number;
  /** How often an isolate checks its inbox even without a doorbell (cross-process local KV). */
  inboxPollMs: number;
}

export const DEFAULTS: SignalingConfig = {
  kv: undefined,
  capacity: 8,
  graceMs: 30_000,
  heartbeatMs: 5_000,
  heartbeatTimeoutMs: 20_000,
  linkDeadlineMs: 20_000,
  allowedOrigins: null,
  idleTimeoutS: 20,
  inboxPollMs: 1_000,
};

function int(env: (k: string) => string | undefined, key: string, fallback: number, min: number) {
  const raw = env(key);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${key}=${raw} is not valid: use a whole number of at least ${min}.`);
  }
  return n;
}

/** Reads `MOOZ_*` variables; throws with the variable's name when one is malformed. */
export function configFromEnv(
  env: (key: string) => string | undefined = (k) => Deno.env.get(k),
): SignalingConfig {
  const origins = env("MOOZ_ALLOWED_ORIGINS");
  return {
    kv: env("MOOZ_KV") || undefined,
    capacity: int(env, "MOOZ_ROOM_CAPACITY", DEFAULTS.capacity, 2),
    graceMs: int(env, "MOOZ_RESUME_GRACE_MS", DEFAULTS.graceMs, 0),
    heartbeatMs: int(env, "MOOZ_HEARTBEAT_MS", DEFAULTS.heartbeatMs, 100),
    heartbeatTimeoutMs: int(env, "MOOZ_HEARTBEAT_TIMEOUT_MS", DEFAULTS.heartbeatTimeoutMs, 200),
    linkDeadlineMs: int(env, "MOOZ_LINK_DEADLINE_MS", DEFAULTS.linkDeadlineMs, 100),
    allowedOrigins: origins
      ? origins.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean)
      : null,
    idleTimeoutS: int(env, "MOOZ_WS_IDLE_TIMEOUT_S", DEFAULTS.idleTimeoutS, 2),
    inboxPollMs: int(env, "MOOZ_INBOX_POLL_MS", DEFAULTS.inboxPollMs, 10),
  };
}
