/**
 * What the signaling bench measures, as written to .bench/results.json (`signaling`) and read by
 * the README table, plus the one-line description of error counts both the progress lines and the
 * table use.
 */
import type { CpuUse } from "./cpu_use.ts";
import type { SteadyResult } from "./signaling_steady.ts";
import type { ServerMetrics } from "./signaling_server.ts";
import type { ServerMode, SignalingOptions } from "./signaling_options.ts";
import type { Summary } from "./stats.ts";

/** One relay phase: who sent, what arrived inside the window, and what it cost the server. */
export interface RelayResult {
  senders: number;
  /** Connections open on the server meanwhile (senders included). */
  connected: number;
  windowS: number;
  offeredPerS: number;
  delivered: number;
  deliveredPerS: number;
  /** Send -> receive, measured in this process. */
  latencyMs: Summary;
  /** Sent but never delivered (checked after the drain). */
  lost: number;
  /** Error frames received by code (rate-limited would mean the bench overran the limit). */
  errors: Record<string, number>;
  /** CPU over the window. */
  cpu: CpuUse;
  /** Server CPU time per delivered message. */
  serverCpuUsPerMsg: number;
}

/** Every phase of one server mode (one isolate or `--parallel`). */
export interface ModeResult {
  mode: ServerMode;
  label: string;
  isolates: number;
  /** 1-minute load average when the mode started (other work on the machine adds noise). */
  loadAverage: number;
  connections: number;
  joinFailures: number;
  joinFailureSamples: string[];
  /** `new WebSocket` -> open. */
  connectMs: Summary;
  /** Open (join sent) -> welcome. */
  joinMs: Summary;
  rampS: number;
  joinsPerS: number;
  /** CPU during the ramp. */
  rampCpu: CpuUse;
  pairs: { expected: number; completed: number; ms: Summary };
  /** Per newcomer with earlier members: its join sent → all of its pairs exchanged. */
  allPairsMs: Summary;
  /** Error frames of the ramp and the exchanges (unknown-peer = a signal was refused). */
  joinErrors: Record<string, number>;
  memory: { baselineKiB: number; loadedKiB: number; perConnKiB: number; heapPerConnKiB?: number };
  relayAll: RelayResult;
  scale: { activeRooms: number; idleRooms: number; withIdle: RelayResult; noIdle: RelayResult };
  /** Joins at a steady rate below capacity (signaling_steady.ts). */
  steady: SteadyResult;
  /** Cumulative over the run: signals relayed within an isolate and between isolates, sockets per isolate. */
  server: ServerMetrics;
}

/** A bare Deno WebSocket echo server, measured like Mooz: what any Deno WebSocket costs. */
export interface FloorResult {
  connections: number;
  baselineKiB: number;
  loadedKiB: number;
  perConnKiB: number;
}

/** The whole signaling bench: the options it actually ran with (rooms may be scaled down). */
export interface SignalingReport {
  options: SignalingOptions;
  openFileLimit: number;
  notes: string[];
  floor: FloorResult | null;
  modes: ModeResult[];
}

/** Error frames by code as "code n, code n", or "none". */
export function describeErrors(errors: Record<string, number>): string {
  return Object.entries(errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
}
