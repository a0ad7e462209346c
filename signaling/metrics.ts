/**
 * Counters of one isolate, published to KV so that `/metrics`, answered by whichever isolate
 * the scrape lands on, shows every isolate (label `isolate`).
 */
import { isRoomMetaKey, METRICS_PREFIX, metricsKey, ROOMS_PREFIX } from "./keys.ts";
import type { RoomMeta } from "./types.ts";

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
  /** Signals relayed, by path: `local` (same isolate) or `bus` (through KV). */
  relayed: Record<string, number>;
  /** Rejected inputs by error code. */
  rejected: Record<string, number>;
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
  };
}

/** Adds `by` to the count of `key` in one of the per-label tables. */
export function bump(table: Record<string, number>, key: string, by = 1): void {
  table[key] = (table[key] ?? 0) + by;
}

/** Isolates silent for longer than this are left out of the scrape (they stopped). */
const STALE_MS = 30_000;

/** Writes this isolate's metrics to KV, where any isolate's `/metrics` finds them. */
export async function publishMetrics(kv: Deno.Kv, m: IsolateMetrics): Promise<void> {
  m.updatedAt = Date.now();
  await kv.set(metricsKey(m.isolate), m, { expireIn: 5 * 60_000 });
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** Prometheus text exposition of every live isolate's metrics, plus room totals from KV. */
export async function renderMetrics(kv: Deno.Kv, self: IsolateMetrics): Promise<string> {
  await publishMetrics(kv, self);
  const now = Date.now();
  const all: IsolateMetrics[] = [];
  for await (const e of kv.list<IsolateMetrics>({ prefix: METRICS_PREFIX })) {
    if (now - e.value.updatedAt <= STALE_MS) all.push(e.value);
  }
  let rooms = 0, participants = 0;
  // Members' keys lie below their room's (keys.ts): count the metas only.
  for await (const e of kv.list<RoomMeta>({ prefix: ROOMS_PREFIX }, { batchSize: 1000 })) {
    if (!isRoomMetaKey(e.key)) continue;
    rooms++;
    participants += e.value.members.length;
  }

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

  metric("mooz_rooms", "gauge", "Rooms in the store.", [["", rooms]]);
  metric("mooz_participants", "gauge", "Members of all rooms, including those resuming.", [[
    "",
    participants,
  ]]);
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
  return lines.join("\n") + "\n";
}
