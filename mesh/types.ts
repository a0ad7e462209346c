/**
 * Shapes of the browser's meeting engine: what the UI reads, and what peers tell each other over
 * their data channel. Framework-free.
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

/** What a participant tells the others about itself (data channel `state` message). */
export interface PeerStatus {
  name: string;
  audioMuted: boolean;
  videoOff: boolean;
  handRaised: boolean;
  /** `MediaStream.id` of its camera+microphone stream, as seen in our `ontrack`. */
  cameraStream: string | null;
  /** `MediaStream.id` of its screen share, or null when not sharing. */
  screenStream: string | null;
}

/** One remote participant as the UI shows it. */
export interface RemotePeer {
  peer: PeerId;
  /** Our WebRTC link to it. */
  link: LinkState;
  /** Whether its signaling connection is up (false while it reconnects). */
  online: boolean;
  status: PeerStatus;
  camera: MediaStream | null;
  screen: MediaStream | null;
  quality: LinkQuality;
  /** Audio level 0..1 from stats; drives the active-speaker highlight. */
  audioLevel: number;
}

/** One chat message; plain text, never rendered as HTML. */
export interface ChatMessage {
  /** Globally unique: `${from}:${seq}`; deduplicates history from several peers. */
  id: string;
  from: PeerId;
  name: string;
  text: string;
  /** Sender's clock, ms since epoch; for display order only. */
  sentAt: number;
}

/** Messages on the peer-to-peer data channel, validated on receipt (see mesh/wire.ts). */
export type PeerMessage =
  | { t: "state"; status: PeerStatus }
  | { t: "chat"; message: ChatMessage }
  /** A late joiner asks for the chat so far; peers answer with `history`. */
  | { t: "history-request" }
  | { t: "history"; messages: ChatMessage[] };

/** Limits of the data channel protocol. */
export const MAX_CHAT_LENGTH = 2_000;
export const MAX_HISTORY = 200;
export const MAX_PEER_MESSAGE_BYTES = 512 * 1024;
