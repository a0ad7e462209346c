/**
 * The feature API: how a feature (chat, raise hand, reactions, file sharing, a whiteboard…) plugs
 * into the meeting core without editing it. A feature is an engine part built on this module and
 * an optional UI part (components/meeting/slots.ts); README "Writing a feature" walks through one.
 *
 * What the core guarantees a feature:
 * - **Validated input only.** A topic's `validate` sees every message before the feature does;
 *   what it refuses, what is too big, what floods, what names an unknown topic never reaches
 *   `onMessage` (the core counts it, see `MeetingCore.dropped`).
 * - **Unforgeable senders.** `from` is the peer whose link the message arrived on, never a field of
 *   the message. Don't trust ids inside a body.
 * - **Late joiners catch up.** A feature that keeps state offers a snapshot; a newcomer asks one
 *   member for it once its first link opens.
 * - **Bulk on its own channel.** A feature that moves a lot of data gets data channels of its own,
 *   so it never delays another feature's messages.
 * - **The room as the server runs it.** `ctx.room` has the hosts, the lock, the lobby and its
 *   knocks, recent removals and the meeting key, and sends host actions (`RoomControls`).
 *
 * @example A feature that counts claps
 * ```ts
 * import { defineFeature, type FeatureContext } from "../../mesh/feature.ts";
 * import { signal } from "@preact/signals-core";
 *
 * export const claps = defineFeature("claps", (ctx: FeatureContext) => {
 *   const count = signal(0);
 *   const topic = ctx.topic("clap", {
 *     validate: (body) => body === 1 ? 1 : null,
 *     rate: { burst: 5, perSecond: 2 },
 *   });
 *   topic.onMessage(() => count.value++);
 *   return { count, clap: () => topic.send("all", 1) };
 * });
 * ```
 */
import type { ReadonlySignal } from "@preact/signals-core";
import type { HostAction, MuteKind, RemovalView } from "../signaling/protocol.ts";
import type { LinkState, MeetingEnd, Notice, PeerId, PeerView } from "./types.ts";

export type { HostAction, MuteKind, RemovalView };

/** One peer, or every peer whose link is open. */
export type Recipient = PeerId | "all";

/** Token bucket for what one peer may send on a topic: `burst` at once, then `perSecond`. */
export interface Rate {
  burst: number;
  perSecond: number;
}

export interface TopicOptions<T> {
  /**
   * Turns an untrusted JSON value into the message the feature sees, or null to drop it. Build a
   * fresh object from the fields you checked rather than returning the input.
   */
  validate(body: unknown): T | null;
  /** Largest encoded message, bytes (default 16 KiB; at most `MAX_MESSAGE_BYTES`). */
  maxBytes?: number;
  /** What each peer may send (default: a burst of 50, then 20 a second). */
  rate?: Rate;
}

/** Messages of one kind between the browsers of a meeting, over the core data channel. */
export interface Topic<T> {
  /**
   * Sends `message` to one peer or to all; returns to how many peers it went (0 when no link is
   * open yet). Throws if the encoded message exceeds the topic's `maxBytes`.
   */
  send(to: Recipient, message: T): number;
  /** Receives validated messages; `from` is the sending link's peer. Returns an unsubscribe. */
  onMessage(handler: (from: PeerId, message: T) => void): () => void;
}

/** State a newcomer receives from one member who was there before (chat history, a board). */
export interface SnapshotOptions<S> {
  /** On the member asked: the state to give, within `budget` bytes of JSON; null for none. */
  take(budget: number): S | null;
  /** On the newcomer: checks what arrived, like `TopicOptions.validate`. */
  validate(body: unknown): S | null;
  /** On the newcomer: merges the member's state. Called at most once per meeting. */
  apply(from: PeerId, snapshot: S): void;
}

/** A data channel of a feature's own to one peer: for bulk data that must not delay messages. */
export interface PeerChannel {
  readonly peer: PeerId;
  /** Whether `send` can be called. */
  readonly open: boolean;
  /** Largest message the other side accepts (Chromium: 256 KiB). */
  readonly maxMessageSize: number;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Sends; throws when closed or when `data` exceeds `maxMessageSize`. */
  send(data: string | ArrayBuffer | ArrayBufferView<ArrayBuffer>): void;
  /** Resolves once `bufferedAmount` is at most `lowWater` bytes (flow control). */
  drained(lowWater?: number): Promise<void>;
  /**
   * Receives what the peer sent, unvalidated: bytes on a feature's own channel mean what the
   * feature says, so the feature checks them itself.
   */
  onMessage(handler: (data: string | ArrayBuffer) => void): () => void;
  onClose(handler: () => void): () => void;
}

/** A feature's own kind of data channel, opened to every peer. */
export interface FeatureChannel {
  /** The channel to `peer`, or null while it is not open. */
  get(peer: PeerId): PeerChannel | null;
  /** Called for every channel that opens, now and later (also after a link is rebuilt). */
  onOpen(handler: (channel: PeerChannel) => void): () => void;
}

/** Moments in a meeting a feature may react to. */
export interface FeatureEvents {
  /** Someone joined (their link may still be connecting). */
  "peer-joined": PeerId;
  /** Someone left or was removed. */
  "peer-left": PeerId;
  /** A link's state changed. */
  "link-state": { peer: PeerId; state: LinkState };
  /** The core data channel to a peer opened: messages can go to it now. */
  "link-open": PeerId;
  /** The local microphone, camera or screen share changed. */
  "local-media": { micOn: boolean; cameraOn: boolean; sharing: boolean };
  /** The meeting ended for this page. */
  ended: MeetingEnd;
  /**
   * A host turned something of ours off: the core has already done it (microphone muted,
   * camera off, screen share stopped) and told the person; turning it back on is theirs.
   */
  muted: { what: MuteKind; by: PeerId };
  /**
   * A member was removed: by a host (`code: "kicked"`, `by` the host), or by the full-mesh
   * guarantee (`code: "mesh-incomplete"`, `unreachable` the members it could not reach). Comes
   * with the roster that drops it, before its `peer-left`; once per removal, and never for the
   * removals listed when we joined.
   */
  removed: RemovalView;
}

/** A newcomer waiting in the lobby, as hosts see it. */
export interface KnockEntry {
  /** The peer id it will have once admitted (`AdmitMessage.knock`). */
  id: PeerId;
  /**
   * The name it sealed with the meeting key: null while its knock has not arrived (or is still
   * being opened), "" when it could not be opened (another key: an old or different link).
   */
  name: string | null;
  /** Whether the name opened with this meeting's key (show "Could not verify" otherwise). */
  verified: boolean;
  /** When it started waiting (server clock, ms). */
  at: number;
}

/**
 * The room's host controls, for the host feature and the UI (`MeetingCore.room` is the same
 * object). Before joining, and for members who are not hosts, the lists are empty and `act`
 * does nothing; the server checks every action anyway (a member who is not a host gets a
 * non-fatal `forbidden`, shown as a toast).
 *
 * @example Lock the meeting, and admit everyone waiting whose name could be verified
 * ```ts
 * export const doorman = defineFeature("doorman", (ctx) => {
 *   const { room } = ctx;
 *   ctx.on("removed", (r) => console.log(`${r.peer} was removed (${r.code})`));
 *   return {
 *     isHost: room.isHost, // show the buttons to hosts only
 *     lock: () => room.act({ type: "lock", locked: true }),
 *     admitVerified: () => {
 *       for (const knock of room.knocks.peek()) {
 *         if (knock.verified) room.act({ type: "admit", knock: knock.id, allow: true });
 *       }
 *     },
 *   };
 * });
 * ```
 */
export interface RoomControls {
  /** Every host, in the order they became one (the server's `room.hosts`). */
  readonly hosts: ReadonlySignal<readonly PeerId[]>;
  /** Whether we are a host. */
  readonly isHost: ReadonlySignal<boolean>;
  /** Whether the room refuses newcomers. */
  readonly locked: ReadonlySignal<boolean>;
  /** Whether newcomers wait in the lobby until a host admits them. */
  readonly lobby: ReadonlySignal<boolean>;
  /** Hosts only: who is waiting in the lobby, oldest first; empty for everyone else. */
  readonly knocks: ReadonlySignal<readonly KnockEntry[]>;
  /**
   * Hosts only: pairs of members whose reports of their link disagree (one says connected),
   * which the full-mesh guarantee does not settle by itself; a host may remove one of them.
   */
  readonly disputes: ReadonlySignal<readonly [PeerId, PeerId][]>;
  /** Recent removals (the server keeps the last 16), newest last. */
  readonly removals: ReadonlySignal<readonly RemovalView[]>;
  /**
   * Sends a host action; false when not joined or not a host (nothing sent). True means sent,
   * not done: the roster that follows shows the outcome.
   */
  act(action: HostAction): boolean;
  /** The meeting key as written in the link (base64url), the current one after any switch. */
  readonly key: ReadonlySignal<string>;
  /**
   * How many times the key has been switched in this meeting (0: the link's key). Hosts send
   * `{ key, epoch }` to the others after a removal; a page takes only a higher epoch.
   */
  readonly keyEpoch: ReadonlySignal<number>;
  /**
   * Switches this page to a new meeting key (from a host, over the mesh): signals are sealed
   * with it from now on, and for 60 s those sealed with the previous key still open (members
   * who have not switched yet stay verified). Resolves false, changing nothing, for a key that
   * is not a meeting key or an `epoch` not above `keyEpoch` (the same epoch: the larger key
   * string wins, so two hosts rotating at once end on the same key everywhere).
   */
  useKey(key: string, epoch: number): Promise<boolean>;
}

/** What the core gives a feature when it creates it. */
export interface FeatureContext {
  /** The feature's name (its topics and channels live under it). */
  readonly name: string;
  /** Our peer id once joined. */
  readonly self: ReadonlySignal<PeerId | null>;
  /** Our display name. */
  readonly selfName: string;
  /** Everyone else, in join order. */
  readonly peers: ReadonlySignal<readonly PeerView[]>;
  /** The room's hosts, lobby, removals and key, and the host actions (see `RoomControls`). */
  readonly room: RoomControls;
  /** Registers a topic; names are unique within the feature. */
  topic<T>(name: string, options: TopicOptions<T>): Topic<T>;
  /** Offers state to newcomers (one snapshot per feature). */
  snapshot<S>(options: SnapshotOptions<S>): void;
  /** Declares a data channel of the feature's own (before the meeting joins). */
  channel(name: string): FeatureChannel;
  /** Subscribes to a lifecycle event; returns an unsubscribe. */
  on<K extends keyof FeatureEvents>(
    event: K,
    handler: (value: FeatureEvents[K]) => void,
  ): () => void;
  /** Shows a toast. */
  notify(kind: Notice["kind"], text: string): void;
}

/** A feature's engine part: a name and a factory the core calls once per meeting. */
export interface FeatureDefinition<E> {
  readonly name: string;
  create(ctx: FeatureContext): E;
}

/** Feature names: lowercase words with dashes, so topics and channel labels stay readable. */
export const FEATURE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Declares a feature's engine part. `create` runs once per meeting, before it joins; what it
 * returns is the feature's instance, which its UI reads (`MeetingCore.feature(definition)`).
 */
export function defineFeature<E>(
  name: string,
  create: (ctx: FeatureContext) => E,
): FeatureDefinition<E> {
  if (!FEATURE_NAME.test(name)) {
    throw new Error(
      `Feature name ${JSON.stringify(name)} is not valid: use lowercase letters, digits and ` +
        "dashes, starting with a letter, at most 32 characters.",
    );
  }
  return { name, create };
}
