/**
 * File sharing's engine part: anyone shares files with everyone or with one person; receivers
 * see the name, size and sender and accept or decline; accepted files come over a data channel of
 * the feature's own (so chat and everything else stay instant), piece by piece, each checked
 * against its SHA-256, into this browser's storage, and from there into the file the person
 * chose. Built only on the feature API (mesh/feature.ts).
 *
 * The halves: sender.ts (what we share, and serving it) and receiver.ts (what is offered to us);
 * wire.ts (what travels, and every check on it), manifest.ts (hashes), store.ts (storage).
 * README "File sharing" has the design and the measured throughput.
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { defineFeature, type FeatureDefinition, type PeerChannel } from "../../mesh/feature.ts";
import type { PeerId } from "../../mesh/types.ts";
import { Receiver } from "./receiver.ts";
import { Sender } from "./sender.ts";
import type { FileStore } from "./store.ts";
import { OpfsStore } from "./store_opfs.ts";
import {
  DEFAULT_TUNING,
  type FilesIO,
  type SaveTarget,
  type TransferView,
  type Tuning,
} from "./types.ts";
import {
  MAX_TOPIC_BYTES,
  type Offer,
  type OfferRef,
  parseFrame,
  parseOffer,
  parseOfferRef,
  parseStop,
  type Stop,
} from "./wire.ts";

/** Files one person may share at once (each is an offer every receiver keeps until answered). */
export const MAX_SHARED = 50;
/** What one peer may send on each files topic: enough for everything it shares at once. */
const TOPIC_RATE = { burst: 64, perSecond: 16 };
/** Frames bigger than this are dropped unread (256 KiB is the most any browser sends here). */
const MAX_FRAME_IN = 256 * 1024;
/** What earlier pages kept in this browser is removed after a day. */
const KEEP_MS = 24 * 60 * 60 * 1000;
/** The list the UI shows is rebuilt at most this often while bytes flow. */
const PUBLISH_MS = 200;

/** The file sharing feature's instance, which its UI reads. */
export interface Files {
  /** Files offered to us and files we share, newest first. */
  readonly transfers: ReadonlySignal<readonly TransferView[]>;
  /** Offers waiting for our answer. */
  readonly waiting: ReadonlySignal<number>;
  /** Whether this browser can keep received files (it has an origin-private file system). */
  readonly canReceive: boolean;
  /** Shares files with everyone (newcomers too) or with one person; each is hashed first. */
  share(files: readonly File[], to: PeerId | "all"): void;
  /**
   * Accepts an offer; once whole and verified, the file is written to `target` if given (a file
   * the person chose), otherwise kept in this browser to be saved from there (`file`).
   */
  accept(id: string, target?: SaveTarget): Promise<void>;
  decline(id: string): void;
  /** Cancels a file being received. */
  cancel(id: string): Promise<void>;
  /** Stops sharing a file with everyone, or with one receiver. */
  stop(id: string, peer?: PeerId): void;
  /** Removes a transfer from the list (stopping it, and deleting what this browser kept of it). */
  remove(id: string): Promise<void>;
  /** A received file kept in this browser, read from disk as it is read. */
  file(id: string): Promise<Blob | null>;
  /** Messages and frames peers sent that were refused, by reason. */
  readonly dropped: Readonly<Record<string, number>>;
  /**
   * For tests, benches and diagnostics: the halves' counters and hooks, and the tuning in use
   * (changing it takes effect at once).
   */
  readonly debug: { sender: Sender["debug"]; receiver: Receiver["debug"]; tuning: Tuning };
}

/** How to make the feature; the app uses the defaults (`files`). */
export interface FilesOptions {
  /** Where received files are kept (default: OPFS where the browser has it, else nowhere). */
  store?: FileStore | null;
  /** Flow control and pacing (default `DEFAULT_TUNING`). */
  tuning?: Partial<Tuning>;
  /** Clock for rates and stalls (default `performance.now`). */
  now?: () => number;
}

/** File sharing with `options`: see `files` for the app's. */
export function filesFeature(options: FilesOptions = {}): FeatureDefinition<Files> {
  return defineFeature<Files>("files", (ctx) => {
    const tuning: Tuning = { ...DEFAULT_TUNING, ...options.tuning };
    const now = options.now ?? (() => performance.now());
    const store = options.store !== undefined
      ? options.store
      : OpfsStore.supported()
      ? new OpfsStore()
      : null;
    const dropped: Record<string, number> = {};

    const offerTopic = ctx.topic<Offer>("offer", {
      validate: parseOffer,
      maxBytes: MAX_TOPIC_BYTES,
      rate: TOPIC_RATE,
    });
    const stopTopic = ctx.topic<Stop>("stop", {
      validate: parseStop,
      maxBytes: 256,
      rate: TOPIC_RATE,
    });
    const resumeTopic = ctx.topic<OfferRef>("resume", {
      validate: parseOfferRef,
      maxBytes: 256,
      rate: TOPIC_RATE,
    });
    const withdrawTopic = ctx.topic<OfferRef>("withdraw", {
      validate: parseOfferRef,
      maxBytes: 256,
      rate: TOPIC_RATE,
    });
    const channels = ctx.channel("data");

    const transfers = signal<readonly TransferView[]>([]);
    let publishTimer: ReturnType<typeof setTimeout> | undefined;
    let publishedAt = -Infinity;
    let ended = false;
    const publish = () => {
      publishTimer = undefined;
      publishedAt = now();
      transfers.value = [...receiver.view(), ...sender.view()];
    };

    const io: FilesIO = {
      tuning,
      channel: (peer) => channels.get(peer),
      peersOnline: () => ctx.peers.peek().filter((p) => p.link === "connected").map((p) => p.peer),
      present: (peer) => ctx.peers.peek().some((p) => p.peer === peer),
      nameOf: (peer) => ctx.peers.peek().find((p) => p.peer === peer)?.name ?? "Someone",
      sendOffer: (peer, offer) => offerTopic.send(peer, offer) > 0,
      sendWithdraw: (peer, id) => void withdrawTopic.send(peer, { id }),
      sendStop: (peer, id, why) => void stopTopic.send(peer, { id, why }),
      sendResume: (peer, id) => void resumeTopic.send(peer, { id }),
      notify: (kind, text) => ctx.notify(kind, text),
      changed: () => {
        if (publishTimer !== undefined || ended) return;
        publishTimer = setTimeout(publish, Math.max(0, publishedAt + PUBLISH_MS - now()));
      },
      drop: (reason) => void (dropped[reason] = (dropped[reason] ?? 0) + 1),
      now,
    };
    const sender = new Sender(io);
    const receiver = new Receiver(io, store);

    offerTopic.onMessage((from, offer) => void receiver.offered(from, offer));
    stopTopic.onMessage((from, { id, why }) => sender.stopped(from, id, why));
    resumeTopic.onMessage((from, { id }) => sender.resume(from, id));
    withdrawTopic.onMessage((from, { id }) => receiver.withdrawn(from, id));

    channels.onOpen((channel: PeerChannel) => {
      const peer = channel.peer;
      channel.onMessage((data) => {
        const frame = parseFrame(data, MAX_FRAME_IN);
        if (!frame) return io.drop("bad-frame");
        // Requests and acknowledgements are for our sending half, the rest for our receiving one.
        if (
          frame.type === "manifest-request" || frame.type === "piece-request" ||
          frame.type === "piece-stored"
        ) sender.receive(peer, frame);
        else receiver.receive(peer, frame);
      });
      channel.onClose(() => {
        // A channel replaced by a new link's closes after the new one opened: not a drop.
        const current = channels.get(peer);
        if (current && current !== channel) return;
        sender.channelClosed(peer);
        receiver.channelClosed(peer);
      });
      receiver.channelOpen(peer);
    });
    ctx.on("link-open", (peer) => {
      sender.linkOpen(peer);
      receiver.linkOpen(peer);
    });
    ctx.on("peer-left", (peer) => {
      sender.peerLeft(peer);
      receiver.peerLeft(peer);
    });
    ctx.on("ended", () => {
      ended = true;
      clearTimeout(publishTimer);
      sender.close();
      receiver.close();
    });
    void receiver.restore(KEEP_MS);

    const waiting = computed(() =>
      transfers.value.filter((t) => t.dir === "in" && t.state === "offered").length
    );
    return {
      transfers,
      waiting,
      canReceive: store !== null,
      share(list, to) {
        const active = sender.view().filter((t) => t.state === "preparing" || t.state === "shared");
        const room = MAX_SHARED - active.length;
        if (list.length > room) {
          ctx.notify(
            "error",
            `You can share up to ${MAX_SHARED} files at a time. Stop sharing some first, or ` +
              "put them into one archive.",
          );
        }
        for (const file of list.slice(0, Math.max(0, room))) sender.share(file, to);
      },
      accept: (id, target) => receiver.accept(id, target),
      decline: (id) => receiver.decline(id),
      cancel: (id) => receiver.cancel(id),
      stop: (id, peer) => sender.stop(id, peer),
      async remove(id) {
        sender.remove(id);
        await receiver.remove(id);
      },
      file: (id) => receiver.file(id),
      dropped,
      debug: { sender: sender.debug, receiver: receiver.debug, tuning },
    };
  });
}

/** The app's file sharing: received files kept in the origin-private file system. */
export const files: FeatureDefinition<Files> = filesFeature();
