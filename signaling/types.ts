/**
 * Shared shapes of the signaling server: rooms and members as stored in Deno KV, and link states.
 * Browser-safe (types and constants only).
 */

/** Server-assigned participant id: 16 URL-safe characters (96 random bits). Never chosen by a client. */
export type PeerId = string;

/** A browser's view of its WebRTC link to one other member. */
export type LinkState = "connecting" | "connected" | "failed";
/** Every link state, for validation. */
export const LINK_STATES: readonly LinkState[] = ["connecting", "connected", "failed"];

/** `["rooms", roomId]`: the room and its membership. Every membership change rewrites it atomically. */
export interface RoomMeta {
  id: string;
  createdAt: number;
  capacity: number;
  locked: boolean;
  /** The first member, for host controls; passes to the longest-present member when they leave. */
  host: PeerId | null;
  /** Member ids in join order. */
  members: PeerId[];
}

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

/** What a room looks like at one moment: meta plus every member with heartbeat and links. */
export interface RoomSnapshot {
  meta: RoomMeta;
  members: (Member & { heartbeatAt: number; links: Links })[];
}

/** Why a member was removed, for the UI and for metrics. */
export type RemovalReason = "left" | "mesh-incomplete" | "heartbeat" | "grace-expired" | "kicked";
