/**
 * Counters of one isolate, published to KV so that `/metrics`, answered by whichever isolate
 * the scrape lands on, shows every isolate (label `isolate`). The room and participant totals
 * come from two counters the store keeps in its own transactions (`STATS_KEYS`), never from a
 * scan of the rooms; a rendered page is reused for `METRICS_CACHE_MS` (`MetricsPage`), so many
 * scrapers cost one render a second.
 */
import { METRICS_PREFIX, metricsKey, STATS_KEYS } from "./keys.ts";
import { kvHealth } from "./kv_health.ts";
import { commitUnchecked, retryKv } from "./kv_retry.ts";

/** The counters and gauges of one isolate, as published to KV. */
export interface IsolateMetrics {
  isolate: string;
  updatedAt: number;
  /** Open sockets and rooms with at least one socket on this isolate. */
  connections: number;
  rooms: number;
  joins: number;
  resumes: number;
  leaves: number;
  /** Removals by reason (mesh-incomplete, heartbeat, grace-expired, ...). */
  evictions: Record<string, number>;
  /**
   * Signals relayed, by path: `local` (same isolate) or `bus` (to another isolate: over a
   * BroadcastChannel within the process, through KV beyond).
   */
  relayed: Record<string, number>;
  /** Rejected inputs by error code. */
  rejected: Record<string, number>;
  /**
   * Host actions carried out, by message type (`lock`, `remove`, ...), and `waiting`: sockets
   * that waited in a lobby. Absent in older versions' records.
   */
  hostActions?: Record<string, number>;
  /** Whether KV worked at the last publish (kv_health.ts); absent in older versions' records. */
  kvOk?: boolean;
  /** Failed KV operations by name; absent in older versions' records. */
  kvErrors?: Record<string, number>;
  /** V8 heap in use at the last publish (bytes); absent in older versions' records. */
  heapUsedBytes?: number;
}

/** Fresh counters for `isolate`. */
export function emptyMetrics(isolate: string): IsolateMetrics {
  return {
    isolate,
    updatedAt: 0,
    connections: 0,
    rooms: 0,
    joins: 0,
    resumes: 0,
    leaves: 0,
    evictions: {},
    relayed: {},
    rejected: {},
    hostActions: {},
  };
}

/** Adds `by` to the count of `key` in one of the per-label tables. */
export function bump(table: Record<string, number>, key: string, by = 1): void {
  table[key] = (table[key] ?? 0) + by;
}

/** Isolates silent for longer than this are left out of the scrape (they stopped). */
const STALE_MS = 30_000;
/** How long a rendered page is served again: scrapers come every 10 to 60 s, in bursts. */
export const METRICS_CACHE_MS = 1_000;
/** A scrape does not wait longer for KV: it answers with this isolate's own numbers instead. */
const READ_TIMEOUT_MS = 3_000;
/** KvU64 sums above this wrapped below zero (a decrement of a count that was never added). */
const WRAPPED = 1n << 63n;

/** Copies this isolate's KV health and heap size into `m`. */
function noteKvHealth(m: IsolateMetrics): void {
  m.kvOk = kvHealth.ok;
  m.kvErrors = { ...kvHealth.errors };
  try {
    // Only with `--expose-gc` (the bench's servers): then the gauge is the live heap, without
    // the garbage a full collection would free. Production never exposes it.
    (globalThis as { gc?: () => void }).gc?.();
    m.heapUsedBytes = Deno.memoryUsage().heapUsed;
  } catch {
    // Not offered everywhere (some hosted isolates): the gauge is left out.
  }
}

/**
 * Writes this isolate's metrics to KV, where any isolate's `/metrics` finds them. Throws when KV
 * cannot be written (counted as `metrics publish` in the KV errors).
 */
export async function publishMetrics(kv: Deno.Kv, m: IsolateMetrics): Promise<void> {
  m.updatedAt = Date.now();
  noteKvHealth(m);
  await commitUnchecked(
    "metrics publish",
    () => kv.atomic().set(metricsKey(m.isolate), m, { expireIn: 5 * 60_000 }),
  );
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** A `STATS_KEYS` total: missing is 0, and so is a sum that wrapped below zero. */
function total(entry: Deno.KvEntryMaybe<unknown>): number {
  const value = entry.value;
  if (!(value instanceof Deno.KvU64)) return 0;
  return value.value >= WRAPPED ? 0 : Number(value.value);
}

/** Other isolates' published metrics and the store's totals. */
async function readShared(
  kv: Deno.Kv,
  self: string,
): Promise<{ others: IsolateMetrics[]; rooms: number; participants: number }> {
  return await retryKv("metrics read", async () => {
    const now = Date.now();
    const others: IsolateMetrics[] = [];
    for await (const e of kv.list<IsolateMetrics>({ prefix: METRICS_PREFIX })) {
      if (e.value.isolate !== self && now - e.value.updatedAt <= STALE_MS) others.push(e.value);
    }
    const [rooms, participants] = await kv.getMany([STATS_KEYS.rooms, STATS_KEYS.participants]);
    return { others, rooms: total(rooms), participants: total(participants) };
  });
}

/** What `work` gives within `ms`, else null (a hung KV counts as failing). */
async function within<T>(ms: number, work: Promise<T>): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      kvHealth.failed("metrics timeout", new Error(`KV did not answer within ${ms} ms`));
      resolve(null);
    }, ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Prometheus text exposition of every live isolate's metrics, with this isolate's own from
 * memory, and the room totals from the store's counters. When KV fails or hangs, this isolate's
 * metrics alone (with `mooz_kv_ok 0`), without the totals: the page that tells KV fails must not
 * need it.
 */
export async function renderMetrics(kv: Deno.Kv, self: IsolateMetrics): Promise<string> {
  // Failures are counted (and logged once) by kv_retry.ts: the page shows this isolate alone.
  const shared = await within(
    READ_TIMEOUT_MS,
    Promise.all([
      publishMetrics(kv, self).catch(() => {}),
      readShared(kv, self.isolate).catch(() => null),
    ]).then(([, read]) => read),
  );
  noteKvHealth(self);
  const all = [self, ...(shared?.others ?? [])];

  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      lines.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
    }
  };
  const per = (f: (m: IsolateMetrics) => number): [string, number][] =>
    all.map((m) => [`isolate="${label(m.isolate)}"`, f(m)]);
  const perKey = (f: (m: IsolateMetrics) => Record<string, number>, key: string) =>
    all.flatMap((m) =>
      Object.entries(f(m)).map(([k, v]): [string, number] => [
        `isolate="${label(m.isolate)}",${key}="${label(k)}"`,
        v,
      ])
    );

  if (shared) {
    metric("mooz_rooms", "gauge", "Rooms in the store.", [["", shared.rooms]]);
    metric("mooz_participants", "gauge", "Members of all rooms, including those resuming.", [[
      "",
      shared.participants,
    ]]);
  }
  metric("mooz_isolate_connections", "gauge", "Open signaling sockets.", per((m) => m.connections));
  metric("mooz_isolate_rooms", "gauge", "Rooms with a socket on the isolate.", per((m) => m.rooms));
  metric("mooz_joins_total", "counter", "Successful joins.", per((m) => m.joins));
  metric("mooz_resumes_total", "counter", "Successful resumes.", per((m) => m.resumes));
  metric("mooz_leaves_total", "counter", "Members who left.", per((m) => m.leaves));
  metric(
    "mooz_evictions_total",
    "counter",
    "Members removed by the server, by reason.",
    perKey((m) => m.evictions, "reason"),
  );
  metric(
    "mooz_messages_relayed_total",
    "counter",
    "Signals relayed, by path.",
    perKey((m) => m.relayed, "path"),
  );
  metric(
    "mooz_inputs_rejected_total",
    "counter",
    "Rejected inbound frames and requests, by code.",
    perKey((m) => m.rejected, "code"),
  );
  metric(
    "mooz_host_actions_total",
    "counter",
    "Host actions carried out, by type; `waiting` counts newcomers who waited in a lobby.",
    perKey((m) => m.hostActions ?? {}, "action"),
  );
  metric(
    "mooz_kv_ok",
    "gauge",
    "1 while KV works, 0 from a failed KV operation until a write succeeds again.",
    all.filter((m) => m.kvOk !== undefined).map((m) => [
      `isolate="${label(m.isolate)}"`,
      m.kvOk ? 1 : 0,
    ]),
  );
  metric(
    "mooz_isolate_heap_used_bytes",
    "gauge",
    "V8 heap in use by the isolate (the JavaScript objects it holds).",
    all.filter((m) => m.heapUsedBytes !== undefined).map((m) => [
      `isolate="${label(m.isolate)}"`,
      m.heapUsedBytes!,
    ]),
  );
  metric(
    "mooz_kv_errors_total",
    "counter",
    "Failed KV operations, by operation.",
    perKey((m) => m.kvErrors ?? {}, "operation"),
  );
  return lines.join("\n") + "\n";
}

/**
 * The `/metrics` page of one isolate: rendered at most once per `ttlMs`, and concurrent scrapes
 * share the render in flight, so 20 scrapers cost what one does.
 *
 * @example
 * ```ts
 * const page = new MetricsPage(() => renderMetrics(kv, metrics));
 * const text = await page.text();
 * ```
 */
export class MetricsPage {
  readonly #render: () => Promise<string>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #cached: { text: string; at: number } | null = null;
  #rendering: Promise<string> | null = null;

  constructor(
    render: () => Promise<string>,
    opts: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.#render = render;
    this.#ttlMs = opts.ttlMs ?? METRICS_CACHE_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** The page, from the last `ttlMs`, the render in flight, or a new render. */
  text(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < this.#ttlMs) return Promise.resolve(cached.text);
    return this.#rendering ??= (async () => {
      try {
        const text = await this.#render();
        this.#cached = { text, at: this.#now() };
        return text;
      } finally {
        this.#rendering = null;
      }
    })();
  }
}
