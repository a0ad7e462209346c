/**
 * Shared shapes of the signaling server: rooms, members and lobby knocks as stored in Deno KV,
 * and link states. Browser-safe (types and constants only).
 */
import type { DepartureView, JsonValue, RemovalView } from "./protocol.ts";

/** Server-assigned participant id: 16 URL-safe characters (96 random bits). Never chosen by a client. */
export type PeerId = string;

/** A browser's view of its WebRTC link to one other member. */
export type LinkState = "connecting" | "connected" | "failed";
/** Every link state, for validation. */
export const LINK_STATES: readonly LinkState[] = ["connecting", "connected", "failed"];

/**
 * `["rooms", roomId]`: the room, its membership and its host controls. Every membership change
 * and every host action rewrites (or at least version-checks) it atomically. Rooms stored by an
 * older version lack the host fields; `normalizeMeta` (room_read.ts) fills them in.
 */
export interface RoomMeta {
  id: string;
  createdAt: number;
  capacity: number;
  /** Fresh joins are refused (`room-locked`); resumes and host reclaims still get in. */
  locked: boolean;
  /** `hosts[0] ?? null`, kept for older clients and tools. */
  host: PeerId | null;
  /** Member ids in join order. */
  members: PeerId[];
  /** Host peers (all members), in the order they became one. */
  hosts: PeerId[];
  /**
   * SHA-256 (hex) of the secrets that make a fresh joiner a host again ("reclaim"): of every
   * current host, and of hosts who left, unless a host removed them.
   */
  hostSecrets: string[];
  /** SHA-256 (hex) of the secrets of members removed by a host; oldest first, `MAX_BANNED` at most. */
  banned: string[];
  /** Fresh joiners wait in the lobby until a host admits them. */
  lobby: boolean;
  /** The last `MAX_REMOVALS` removals by a host or by the full-mesh guarantee, newest last. */
  removals: RemovalView[];
  /** The last `MAX_DEPARTURES` departures with a reason (not removals), newest last. */
  departures?: DepartureView[];
}

/** How a room goes on when its last host leaves (`MOOZ_HOST_FALLBACK`). */
export type HostFallback = "oldest" | "lock";

/** `["rooms", roomId, "member", peerId]`: one participant. */
export interface Member {
  peer: PeerId;
  name: string;
  joinedAt: number;
  /** Id of the server isolate that holds this member's socket. */
  isolate: string;
  /** False while the socket is gone and the member may still resume (grace period). */
  connected: boolean;
  disconnectedAt: number | null;
  /** SHA-256 (hex) of the resume token's secret; the secret itself is never stored. */
  tokenHash: string;
  /** SHA-256 (hex) of the browser's meeting secret (`join.secret`), null when it sent none. */
  secretHash: string | null;
  /** Its `join.card` (sealed by the browser), shown by `GET /api/rooms/{room}`; absent: none. */
  card?: JsonValue;
}

/**
 * `["rooms", roomId, "knock", peerId]`: a newcomer waiting in the lobby, not a member. Its peer id
 * and resume token are reserved for it; an admitted knock becomes a member with them.
 */
export interface KnockRecord {
  peer: PeerId;
  /** Display name from its `join` ("" for browsers, which seal names). */
  name: string;
  /** Id of the server isolate that holds the waiting socket. */
  isolate: string;
  /** The `knock` message's payload (sealed by the browser), null until it arrives. */
  payload: JsonValue | null;
  /** When it started waiting. */
  at: number;
  /** The waiting isolate's last heartbeat for it; knocks older than the heartbeat timeout are dead. */
  beatAt: number;
  /** SHA-256 (hex) of the reserved resume token's secret. */
  tokenHash: string;
  /** As `Member.secretHash`. */
  secretHash: string | null;
  /** A host's answer; null while nobody has decided. */
  decision: null | "admit" | "deny";
  /** Its `join.card`, for the member it becomes; absent: none. */
  card?: JsonValue;
}

/**
 * One reported link: its state, and since when (server clock) it has been in that state, where
 * "connecting" and "failed" count as one state, "not connected".
 */
export interface LinkReport {
  state: LinkState;
  since: number;
}

/**
 * `["rooms", roomId, "links", peerId]`: the member's own view of its links, keyed by the other
 * member.
 */
export type Links = Record<PeerId, LinkReport>;

/** What a room looks like at one moment: meta, every member with heartbeat and links, the lobby. */
export interface RoomSnapshot {
  meta: RoomMeta;
  members: (Member & { heartbeatAt: number; links: Links })[];
  /** Live knocks (beaten within the heartbeat timeout), oldest first. */
  knocks: KnockRecord[];
}

/** Why a member was removed, for the UI and for metrics. */
export type RemovalReason = "left" | "mesh-incomplete" | "heartbeat" | "grace-expired" | "kicked";
