/**
 * Shapes of the browser's meeting core: what the UI and the features read. Framework-free.
 */
import type { LinkState, PeerId } from "../signaling/types.ts";

export type { LinkState, PeerId };

/** Connection quality of one link, from `getStats`. */
export interface LinkQuality {
  /** Round-trip time of the selected candidate pair, ms. */
  rttMs: number | null;
  /** Share of inbound packets lost over the last interval, 0..1. */
  loss: number | null;
  /** Estimated uplink on this link (availableOutgoingBitrate), bits/s. */
  outgoingBitrate: number | null;
  level: "good" | "fair" | "poor" | "unknown";
}

/**
 * Where the meeting is, from the pre-join screen to its end. `waiting`: in the lobby, until a
 * host lets us in (then `joined`) or turns us away (`ended`, kind `denied`).
 */
export type MeetingPhase =
  | "prejoin"
  | "joining"
  | "waiting"
  | "joined"
  | "reconnecting"
  | "ended";

/**
 * Why the meeting ended for this page: one typed reason, with words for the person.
 * - `left`: we left.
 * - `room-full`, `locked`: the room refused us (full; a host locked it).
 * - `denied`: a host did not let us in from the lobby (or no host was there to).
 * - `removed`: a host removed us (`by` when we were in the meeting; without `by` when our return
 *   was refused because of an earlier removal). Rejoining cannot work.
 * - `ended`: a host ended the meeting for everyone (`by` when we were in it).
 * - `evicted`: the server removed us: `unreachable` for the full-mesh guarantee, or another
 *   tab took our place, or we were away too long.
 * - `unreachable`: neither the server nor anyone in the meeting could be reached.
 * - `error`: anything else the server refused (its words in `message`).
 */
export interface MeetingEnd {
  kind:
    | "left"
    | "room-full"
    | "locked"
    | "denied"
    | "removed"
    | "ended"
    | "evicted"
    | "unreachable"
    | "error";
  /** What to tell the person, names included where known. */
  message: string;
  /**
   * `evicted`: why the server removed us (`mesh-incomplete`: we could not connect to everyone;
   * `replaced`: another tab took our place; `grace-expired`, `heartbeat`: away too long).
   */
  eviction?: "mesh-incomplete" | "heartbeat" | "grace-expired" | "replaced";
  /** `removed`, `ended`: the host who did it, when the server said. */
  by?: PeerId;
  /** The name of `by`, from its sealed hello, when we had it. */
  byName?: string;
  /** `evicted` by the full-mesh guarantee: the members we could not connect to. */
  unreachable?: PeerId[];
  /**
   * Their names where known, in the order of `unreachable` ("could not connect to Carol and
   * Dan"); a member whose name never arrived is left out.
   */
  unreachableNames?: string[];
}

/** Something to tell the person briefly (a toast). */
export interface Notice {
  id: number;
  kind: "join" | "leave" | "error" | "info";
  text: string;
}

/** Another participant as features see it: who, and whether we can reach them. */
export interface PeerView {
  peer: PeerId;
  /** Display name. */
  name: string;
  /** Our WebRTC link to it. */
  link: LinkState;
  /** Whether its signaling connection is up (false while it reconnects). */
  online: boolean;
}

/** One remote participant as the meeting UI shows it. */
export interface RemotePeer extends PeerView {
  /**
   * False when its signals do not open with our meeting key (another link's key, or forged by
   * whoever relays them): "could not verify". Such a peer is never linked to, and features never
   * see it.
   */
  verified: boolean;
  /**
   * The safety code of our pair once the link has connected: the same symbols on both screens
   * unless someone sits between the two browsers. Null before.
   */
  safetyCode: readonly { emoji: string; name: string }[] | null;
  audioMuted: boolean;
  videoOff: boolean;
  camera: MediaStream | null;
  screen: MediaStream | null;
  quality: LinkQuality;
  /** Audio level 0..1 from stats; drives the active-speaker highlight. */
  audioLevel: number;
}

/** Per-link counters, for diagnostics and end-to-end tests (`__mooz.meeting.stats()`). */
export interface LinkStats {
  audioPacketsReceived: number;
  videoFramesDecoded: number;
  connectionState: RTCPeerConnectionState;
  localCandidateType: string | null;
  /** Whether the core data channel (feature messages) is open. */
  channelOpen: boolean;
}
