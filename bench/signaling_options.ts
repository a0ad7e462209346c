/**
 * What the signaling bench runs (sizes, rates, phase lengths, server modes) and the bounds on its
 * waits. `deno task bench` starts from `DEFAULT_SIGNALING` and overrides it from the command line.
 */

/** How one server run is started: one isolate, or `--parallel` with two. */
export type ServerMode = "single" | "parallel";

/** Load and phase lengths of a signaling bench run; recorded as is in .bench/results.json. */
export interface SignalingOptions {
  rooms: number;
  peers: number;
  /** Sockets connecting and joining at the same time during the ramp. */
  concurrency: number;
  /** Relay phases: a warm-up (not counted), then the measuring window. */
  relayWarmupS: number;
  relayS: number;
  /** Window of each of the two "active rooms with / without idle rooms" phases. */
  scaleS: number;
  /** Rooms that send in the idle-rooms comparison; the other rooms are the idle ones. */
  activeRooms: number;
  /** Signals per second each relaying connection sends: under the server's 50/s limit. */
  ratePerS: number;
  /** A sender waits while this many of its signals are undelivered, so no backlog builds up. */
  maxInFlight: number;
  /** ICE candidates each side sends per pair (the exchange phase). */
  candidates: number;
  /**
   * Peers report their link states as browsers do: `connecting` for each member they learn of,
   * `connected` once a pair's exchange is through on their side (`--no-link-reports`: never).
   */
  linkReports: boolean;
  modes: ServerMode[];
}

/** The full run: 2,000 sockets against each server mode (`--quick` shortens it). */
export const DEFAULT_SIGNALING: SignalingOptions = {
  rooms: 500,
  peers: 4,
  concurrency: 64,
  relayWarmupS: 1,
  relayS: 10,
  scaleS: 5,
  activeRooms: 100,
  ratePerS: 45,
  maxInFlight: 32,
  candidates: 5,
  linkReports: true,
  modes: ["single", "parallel"],
};

// Bounds, so a broken server makes the bench fail fast instead of hanging.
/** `new WebSocket` -> open, per socket. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Join sent -> `welcome`, per socket. */
export const WELCOME_TIMEOUT_MS = 10_000;
/** The whole join ramp; peers not started by then count as failed joins. */
export const RAMP_TIMEOUT_MS = 60_000;
/** Waiting for every pair's exchange to complete. */
export const PAIRS_TIMEOUT_MS = 20_000;
/** Stop waiting for the exchanges when none has completed for this long (signals were lost). */
export const PAIRS_STALL_MS = 3_000;
/** After a relay window, for the signals still in flight to arrive. */
export const DRAIN_TIMEOUT_MS = 3_000;
/** For close handshakes when sockets leave or the run ends. */
export const CLOSE_TIMEOUT_MS = 5_000;
/** Sockets each side of the bench needs besides the clients (server files, KV, pipes). */
export const FD_HEADROOM = 200;
