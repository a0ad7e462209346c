/**
 * File sharing's shapes: what the UI shows of each transfer, the tuning both sides share, and
 * what the sender and receiver halves need from the feature around them.
 */
import type { PeerChannel } from "../../mesh/feature.ts";
import type { Notice, PeerId } from "../../mesh/types.ts";
import type { Offer, StopReason } from "./wire.ts";

/**
 * - `offered`: waiting for the person's answer; `declined`: they said no.
 * - `receiving`: accepted, pieces arriving (or about to: `detail` says what it waits for).
 * - `paused`: accepted, but the sender cannot be reached now; it continues when it can.
 * - `saving`: every piece is here and verified; being written to the file the person chose.
 * - `done`: whole and verified (`location` says where); `failed`: gave up, `detail` says why.
 * - `cancelled`: the person cancelled; `stopped`: the sender stopped sharing it.
 */
export type IncomingState =
  | "offered"
  | "declined"
  | "receiving"
  | "paused"
  | "saving"
  | "done"
  | "failed"
  | "cancelled"
  | "stopped";

/** A file someone offered us, as the UI shows it. */
export interface IncomingView {
  dir: "in";
  id: string;
  name: string;
  size: number;
  type: string;
  from: PeerId;
  fromName: string;
  state: IncomingState;
  /** Bytes here (verified pieces and what has arrived of the next ones). */
  done: number;
  /** Bytes a second, and seconds left, while receiving; null when unknown. */
  rate: number | null;
  secondsLeft: number | null;
  /** What to tell the person besides the state: where it went, why it paused or failed. */
  detail: string;
  /** Where a finished file is: this browser's storage (save it from there) or the chosen file. */
  location: "browser" | "chosen" | null;
  /** Bytes of it this browser held already when it was offered (an earlier, interrupted try). */
  alreadyHere: number;
}

/** One receiver of a file we share, as the sender sees it. */
export type ReceiverState =
  | "offered"
  | "declined"
  | "receiving"
  | "done"
  | "cancelled"
  | "failed"
  | "left"
  | "removed";

export interface ReceiverView {
  peer: PeerId;
  name: string;
  state: ReceiverState;
  /** Bytes it verified and stored (from its acknowledgements). */
  done: number;
  rate: number | null;
  secondsLeft: number | null;
}

/** - `preparing`: being hashed; `shared`: offered; `stopped`: we stopped; `failed`: unreadable. */
export type OutgoingState = "preparing" | "shared" | "stopped" | "failed";

/** A file we share. */
export interface OutgoingView {
  dir: "out";
  id: string;
  name: string;
  size: number;
  type: string;
  /** Everyone (`all`, newcomers included) or one person. */
  to: PeerId | "all";
  toName: string | null;
  state: OutgoingState;
  /** Share of the file hashed so far (0..1), while preparing. */
  prepared: number;
  detail: string;
  receivers: ReceiverView[];
}

export type TransferView = IncomingView | OutgoingView;

/** Flow control and pacing; the defaults are what the bench measured as good (README). */
export interface Tuning {
  /**
   * Wait for the channel to drain once more than this is queued on it… Small on purpose: with
   * megabytes queued, Chromium's data channels stalled for seconds now and then, chat included
   * (README "File sharing"); 256 KiB kept chat within tens of milliseconds at the same rate.
   */
  highWater: number;
  /** …down to this. */
  lowWater: number;
  /**
   * Bytes a receiver has asked one sender for and not received yet. Bounds what can be queued
   * ahead of that sender's chat messages (in its channel, the network, and the receiving page).
   */
  window: number;
  /**
   * Bytes of pieces a receiver holds in memory at once (arriving, being checked or written); a
   * new piece waits while storage is behind. At least two pieces.
   */
  memory: number;
  /** Bytes asked for at once (a block of a piece). */
  block: number;
  /** Largest frame sent (the link's `maxMessageSize` caps it too). */
  frame: number;
  /** A piece asked for that got no bytes this long is asked for again. */
  stallMs: number;
  /** Times one piece may fail its hash before the transfer gives up. */
  maxPieceFailures: number;
  /** Pieces of one file the sender keeps read, for receivers that ask for the same ones. */
  cachePieces: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_TUNING: Tuning = {
  highWater: 256 * 1024,
  lowWater: 128 * 1024,
  window: 4 * MiB,
  memory: 16 * MiB,
  block: 1 * MiB,
  frame: 256 * 1024,
  stallMs: 15_000,
  maxPieceFailures: 3,
  cachePieces: 4,
};

/** Where a received file can be written once complete: a file the person chose. */
export interface SaveTarget {
  readonly name: string;
  createWritable(): Promise<WritableStream<BufferSource>>;
}

/** What the sender and receiver halves use of the feature (and of the meeting) around them. */
export interface FilesIO {
  readonly tuning: Tuning;
  /** Our files channel to `peer`, if open. */
  channel(peer: PeerId): PeerChannel | null;
  /** Peers whose core link is open now. */
  peersOnline(): PeerId[];
  /** Whether `peer` is in the meeting (its link may be down). */
  present(peer: PeerId): boolean;
  nameOf(peer: PeerId): string;
  sendOffer(peer: PeerId, offer: Offer): boolean;
  sendWithdraw(peer: PeerId, id: string): void;
  sendStop(peer: PeerId, id: string, why: StopReason): void;
  sendResume(peer: PeerId, id: string): void;
  notify(kind: Notice["kind"], text: string): void;
  /** Something shown changed: publish a new view soon. */
  changed(): void;
  /** Counts a frame or message dropped, by reason (tests and diagnostics). */
  drop(reason: string): void;
  now(): number;
}
