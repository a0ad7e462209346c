/**
 * The meeting core's side of the feature API (mesh/feature.ts): creates features, routes what
 * arrives on the core data channel to the right topic after checking it, runs the snapshot
 * exchange for newcomers, hands out feature channels and fans out lifecycle events.
 *
 * Every check that protects a feature lives here, in one place: frame shape and size, known
 * topic, per-topic size, per-peer rate, the topic's validator, and the sender, which is always
 * the peer of the link a message came on.
 */
import type { ReadonlySignal } from "@preact/signals-core";
import { fitsBytes, MAX_MESSAGE_BYTES, openEnvelope, sealEnvelope } from "./envelope.ts";
import {
  FEATURE_NAME,
  type FeatureChannel,
  type FeatureContext,
  type FeatureDefinition,
  type FeatureEvents,
  type Rate,
  type Recipient,
  type RoomControls,
  type SnapshotOptions,
  type Topic,
  type TopicOptions,
} from "./feature.ts";
import { PeerChannelHandle } from "./peer_channel.ts";
import { detachedRoomControls } from "./room_controls.ts";
import { TokenBucket } from "./token_bucket.ts";
import type { Notice, PeerId, PeerView } from "./types.ts";

const DEFAULT_MAX_BYTES = 16 * 1024;
const DEFAULT_RATE: Rate = { burst: 50, perSecond: 20 };
/** Room left in a message for the envelope around a snapshot body. */
const ENVELOPE_SLACK = 256;
/** The core's own topics; no feature may be called this. */
const CORE = "core";
const SNAPSHOT_REQUEST = "core/snapshot-request";
const SNAPSHOT = "core/snapshot";
const MAX_SNAPSHOT_FEATURES = 32;

/** Why a message was dropped before reaching a feature; counted in `FeatureHost.dropped`. */
export type DropReason =
  | "not-text"
  | "too-big"
  | "malformed"
  | "unknown-topic"
  | "rate"
  | "invalid"
  | "unsolicited";

/** What the host needs from the links: sending on the core channel to one peer. */
export interface HostLinks {
  /** Sends encoded text on the core channel; false when it is not open. */
  send(peer: PeerId, text: string): boolean;
  /** Peers whose core channel is open. */
  openPeers(): PeerId[];
  /** The other side's message size limit on this link. */
  maxMessageSize(peer: PeerId): number;
}

/** What a host needs from the meeting: links, who we are, who the others are, toasts. */
export interface FeatureHostOptions {
  links: HostLinks;
  self: ReadonlySignal<PeerId | null>;
  selfName: string;
  peers: ReadonlySignal<readonly PeerView[]>;
  /**
   * The room's host controls, given to every feature as `ctx.room` (the meeting's
   * `MeetingRoomControls`). Without one, features get detached controls: empty lists, `act`
   * sends nothing (tests, `TestMesh`).
   */
  room?: RoomControls;
  notify(kind: Notice["kind"], text: string): void;
}

interface TopicEntry {
  maxBytes: number;
  rate: Rate;
  validate(body: unknown): unknown;
  handlers: Set<(from: PeerId, message: unknown) => void>;
}

type Handler<K extends keyof FeatureEvents> = (value: FeatureEvents[K]) => void;

/** Runs the features of one meeting: see the module comment. One per `LiveMeeting`. */
export class FeatureHost {
  /** Messages dropped before any feature saw them, by reason. */
  readonly dropped: Record<DropReason, number> = {
    "not-text": 0,
    "too-big": 0,
    malformed: 0,
    "unknown-topic": 0,
    rate: 0,
    invalid: 0,
    unsolicited: 0,
  };
  readonly #o: FeatureHostOptions;
  readonly #room: RoomControls;
  readonly #instances = new Map<string, unknown>();
  readonly #topics = new Map<string, TopicEntry>();
  readonly #snapshots = new Map<string, SnapshotOptions<unknown>>();
  readonly #channels = new Map<string, FeatureChannelImpl>();
  readonly #events = new Map<keyof FeatureEvents, Set<Handler<never>>>();
  /** Rate limits by peer, then topic. */
  readonly #buckets = new Map<PeerId, Map<string, TokenBucket>>();
  /** The member asked for snapshots, while waiting for its answer. */
  #askedFor: PeerId | null = null;
  /** Features whose snapshot arrived (or came empty). */
  readonly #applied = new Set<string>();

  constructor(opts: FeatureHostOptions) {
    this.#o = opts;
    this.#room = opts.room ?? detachedRoomControls();
    // The core's own topics go through the same checks as any feature's.
    this.#topics.set(SNAPSHOT_REQUEST, {
      maxBytes: MAX_MESSAGE_BYTES,
      rate: { burst: 4, perSecond: 1 },
      validate: parseSnapshotRequest,
      handlers: new Set([(from, features) => this.#onSnapshotRequest(features as string[], from)]),
    });
    this.#topics.set(SNAPSHOT, {
      maxBytes: MAX_MESSAGE_BYTES,
      // One answer per feature arrives at once.
      rate: { burst: MAX_SNAPSHOT_FEATURES, perSecond: 1 },
      // Who may answer is the host's to judge, with what it knows: see #onSnapshot.
      validate: (body) => ({ body }),
      handlers: new Set([(from, m) => this.#onSnapshot(from, (m as { body: unknown }).body)]),
    });
  }

  /** Creates a feature once; later calls return the same instance. */
  create<E>(definition: FeatureDefinition<E>): E {
    const { name } = definition;
    if (this.#instances.has(name)) return this.#instances.get(name) as E;
    if (!FEATURE_NAME.test(name) || name === CORE) {
      throw new Error(`Feature name ${JSON.stringify(name)} is reserved or invalid.`);
    }
    const instance = definition.create(this.#context(name));
    this.#instances.set(name, instance);
    return instance;
  }

  /** The instance of a feature created earlier. */
  get<E>(definition: FeatureDefinition<E>): E {
    if (!this.#instances.has(definition.name)) {
      throw new Error(
        `Feature "${definition.name}" is not part of this meeting: pass it in ` +
          "MeetingCore's `features` option (features/mod.ts lists them).",
      );
    }
    return this.#instances.get(definition.name) as E;
  }

  /** Labels of every feature channel, for the links to open. */
  get channelLabels(): string[] {
    return [...this.#channels.keys()];
  }

  /** Tells every feature subscribed to `event`. A feature that throws does not stop the others. */
  emit<K extends keyof FeatureEvents>(event: K, value: FeatureEvents[K]): void {
    for (const handler of this.#events.get(event) ?? []) {
      guard(`"${event}" handler`, () => (handler as Handler<K>)(value));
    }
  }

  /** Something arrived on the core channel from `from`'s link. */
  receive(from: PeerId, data: unknown): void {
    const opened = openEnvelope(data);
    if (!opened.ok) return this.#drop(opened.reason);
    const topic = this.#topics.get(opened.topic);
    if (!topic) return this.#drop("unknown-topic");
    if (!fitsBytes(opened.text, topic.maxBytes)) return this.#drop("too-big");
    if (!this.#bucket(from, opened.topic, topic.rate).take()) return this.#drop("rate");
    const message = topic.validate(opened.body);
    if (message === null || message === undefined) return this.#drop("invalid");
    for (const handler of topic.handlers) {
      guard(`${opened.topic} handler`, () => handler(from, message));
    }
  }

  /** The core channel to `peer` opened. */
  linkOpened(peer: PeerId): void {
    this.emit("link-open", peer);
    this.#askForSnapshots(peer);
  }

  /** `peer` left: forget its rate limits; ask someone else if it owed us snapshots. */
  peerGone(peer: PeerId): void {
    this.#buckets.delete(peer);
    for (const channel of this.#channels.values()) channel.detach(peer);
    if (this.#askedFor === peer) {
      this.#askedFor = null;
      const next = this.#o.links.openPeers()[0];
      if (next) this.#askForSnapshots(next);
    }
  }

  /** A feature channel to `peer` was created or announced. */
  attachChannel(peer: PeerId, label: string, channel: RTCDataChannel): void {
    const owner = this.#channels.get(label);
    if (!owner) return channel.close();
    owner.attach(new PeerChannelHandle(peer, channel, () => this.#o.links.maxMessageSize(peer)));
  }

  #drop(reason: DropReason): void {
    this.dropped[reason]++;
  }

  #bucket(peer: PeerId, topic: string, rate: Rate): TokenBucket {
    let byTopic = this.#buckets.get(peer);
    if (!byTopic) this.#buckets.set(peer, byTopic = new Map());
    let bucket = byTopic.get(topic);
    if (!bucket) byTopic.set(topic, bucket = new TokenBucket(rate));
    return bucket;
  }

  #context(feature: string): FeatureContext {
    const o = this.#o;
    return {
      name: feature,
      self: o.self,
      selfName: o.selfName,
      peers: o.peers,
      room: this.#room,
      topic: <T>(name: string, options: TopicOptions<T>) => this.#topic(feature, name, options),
      snapshot: <S>(options: SnapshotOptions<S>) => {
        if (this.#snapshots.has(feature)) {
          throw new Error(`Feature "${feature}" offers a snapshot already; one per feature.`);
        }
        this.#snapshots.set(feature, options as SnapshotOptions<unknown>);
      },
      channel: (name: string) => {
        const label = `f:${feature}/${name}`;
        if (this.#channels.has(label)) throw new Error(`Channel ${label} is declared already.`);
        const channel = new FeatureChannelImpl();
        this.#channels.set(label, channel);
        return channel;
      },
      on: (event, handler) => {
        let set = this.#events.get(event);
        if (!set) this.#events.set(event, set = new Set());
        set.add(handler as Handler<never>);
        return () => set.delete(handler as Handler<never>);
      },
      notify: o.notify,
    };
  }

  #topic<T>(feature: string, name: string, options: TopicOptions<T>): Topic<T> {
    const id = `${feature}/${name}`;
    if (this.#topics.has(id)) throw new Error(`Topic ${id} is registered already.`);
    const maxBytes = Math.min(options.maxBytes ?? DEFAULT_MAX_BYTES, MAX_MESSAGE_BYTES);
    const entry: TopicEntry = {
      maxBytes,
      rate: options.rate ?? DEFAULT_RATE,
      validate: options.validate,
      handlers: new Set(),
    };
    this.#topics.set(id, entry);
    return {
      send: (to: Recipient, message: T) => {
        const text = sealEnvelope(id, message);
        if (!fitsBytes(text, maxBytes)) {
          throw new Error(
            `A message on ${id} is over its ${maxBytes}-byte limit: raise the topic's maxBytes ` +
              `(at most ${MAX_MESSAGE_BYTES}), split the message, or use a feature channel.`,
          );
        }
        return this.#sendText(to, text);
      },
      onMessage: (handler) => {
        const h = handler as (from: PeerId, message: unknown) => void;
        entry.handlers.add(h);
        return () => entry.handlers.delete(h);
      },
    };
  }

  #sendText(to: Recipient, text: string): number {
    const links = this.#o.links;
    const targets = to === "all" ? links.openPeers() : [to];
    let sent = 0;
    for (const peer of targets) {
      if (fitsBytes(text, links.maxMessageSize(peer)) && links.send(peer, text)) sent++;
    }
    return sent;
  }

  // ---- Snapshots for newcomers ----

  /** Once per meeting, the first member we can talk to is asked for every feature's state. */
  #askForSnapshots(peer: PeerId): void {
    const done = this.#applied.size === this.#snapshots.size; // also: nothing to ask for
    if (done || this.#askedFor !== null) return;
    const features = [...this.#snapshots.keys()];
    if (this.#sendText(peer, sealEnvelope(SNAPSHOT_REQUEST, { features })) === 0) return;
    this.#askedFor = peer;
  }

  #onSnapshotRequest(features: string[], from: PeerId): void {
    const budget = Math.min(MAX_MESSAGE_BYTES, this.#o.links.maxMessageSize(from)) -
      ENVELOPE_SLACK;
    for (const feature of new Set(features)) {
      const offer = this.#snapshots.get(feature);
      if (!offer) continue;
      let state: unknown = null;
      guard(`${feature} snapshot`, () => (state = offer.take(budget)));
      const text = sealEnvelope(SNAPSHOT, { f: feature, b: state });
      if (fitsBytes(text, budget + ENVELOPE_SLACK)) this.#sendText(from, text);
      else console.warn(`The ${feature} snapshot is over its ${budget}-byte budget; not sent.`);
    }
  }

  #onSnapshot(from: PeerId, body: unknown): void {
    const { f, b } = (body ?? {}) as { f?: unknown; b?: unknown };
    // Only the member we asked may answer, once per feature; anyone else is refused.
    if (from !== this.#askedFor || typeof f !== "string" || this.#applied.has(f)) {
      return this.#drop("unsolicited");
    }
    const offer = this.#snapshots.get(f);
    if (!offer) return this.#drop("unknown-topic");
    this.#applied.add(f);
    if (this.#applied.size === this.#snapshots.size) this.#askedFor = null;
    if (b === null) return;
    const state = offer.validate(b);
    if (state === null || state === undefined) return this.#drop("invalid");
    guard(`${f} snapshot`, () => offer.apply(from, state));
  }
}

/** The features a snapshot request names, or null. */
function parseSnapshotRequest(body: unknown): string[] | null {
  const features = (body as { features?: unknown } | null)?.features;
  return Array.isArray(features) && features.length <= MAX_SNAPSHOT_FEATURES &&
      features.every((f) => typeof f === "string" && FEATURE_NAME.test(f))
    ? features as string[]
    : null;
}

/** Runs a feature's code; its exception is logged and goes no further. */
function guard(what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error(`Feature ${what} failed:`, err);
  }
}

class FeatureChannelImpl implements FeatureChannel {
  readonly #open = new Map<PeerId, PeerChannelHandle>();
  readonly #handlers = new Set<(channel: PeerChannelHandle) => void>();

  get(peer: PeerId): PeerChannelHandle | null {
    return this.#open.get(peer) ?? null;
  }

  onOpen(handler: (channel: PeerChannelHandle) => void): () => void {
    this.#handlers.add(handler);
    for (const channel of this.#open.values()) guard("channel handler", () => handler(channel));
    return () => this.#handlers.delete(handler);
  }

  attach(channel: PeerChannelHandle): void {
    channel.whenOpen(() => {
      this.#open.get(channel.peer)?.close();
      this.#open.set(channel.peer, channel);
      channel.onClose(() => {
        if (this.#open.get(channel.peer) === channel) this.#open.delete(channel.peer);
      });
      for (const handler of this.#handlers) guard("channel handler", () => handler(channel));
    });
  }

  detach(peer: PeerId): void {
    this.#open.get(peer)?.close();
    this.#open.delete(peer);
  }
}
