/**
 * Host controls' engine part, built only on the feature API: the host actions with the names
 * that go with them, toasts for hosts (someone is knocking), and the meeting key's rotation after
 * a removal, so the removed person's copy of the link stops opening anything.
 *
 * Key rotation (topic `host/key`, body `{ key, epoch }`): once the roster confirms a removal this
 * page made, it makes a new key, sends it with the next epoch to every verified peer but the
 * removed one, and switches itself. A receiver takes a key only from a peer the roster lists as
 * host and only when it is newer than its own (`isNewerKey`: a larger epoch; two hosts who rotated
 * at once agree on the larger key). A host tells a peer whose link opens the current key when
 * it has been rotated (a member who was away catches up).
 */
import { effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";
import { isObject } from "../../mesh/checks.ts";
import {
  defineFeature,
  type FeatureContext,
  type HostAction,
  type MuteKind,
  type RemovalView,
  type RoomControls,
} from "../../mesh/feature.ts";
import { newMeetingKey, parseMeetingKey } from "../../mesh/meeting_key.ts";
import type { PeerId } from "../../mesh/types.ts";

/** A meeting key and its epoch, as the topic `host/key` carries them. */
export interface KeyOffer {
  key: string;
  epoch: number;
}

/** Largest epoch taken: rotations are one per removal, so this is never reached honestly. */
export const MAX_KEY_EPOCH = 2 ** 31;

/** Validator of `host/key`: a key exactly as `newMeetingKey` writes it and an epoch ≥ 1. */
export function parseKeyOffer(body: unknown): KeyOffer | null {
  if (!isObject(body)) return null;
  const { key, epoch } = body;
  if (typeof key !== "string" || key.startsWith("#") || !parseMeetingKey(key).ok) return null;
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1 || (epoch as number) > MAX_KEY_EPOCH) {
    return null;
  }
  return { key, epoch: epoch as number };
}

/**
 * Whether `offer` replaces `current`: a larger epoch, or the same epoch and a larger key (two
 * hosts who rotated at once: everyone settles on the same one of the two).
 */
export function isNewerKey(current: KeyOffer, offer: KeyOffer): boolean {
  return offer.epoch > current.epoch || (offer.epoch === current.epoch && offer.key > current.key);
}

/** Whether `from` may give us a key: only a peer the roster lists as host, never ourselves. */
export function mayOfferKey(from: PeerId, self: PeerId | null, hosts: readonly PeerId[]): boolean {
  return from !== self && hosts.includes(from);
}

/** One removal's identity in `room.removals` (a peer is removed at most once per peer id). */
export function removalId(removal: RemovalView): string {
  return `${removal.peer}@${removal.at}`;
}

/** Removals made by `self` (by a host: `kicked`) that `seen` does not hold yet, oldest first. */
export function removalsToRotateFor(
  self: PeerId | null,
  removals: readonly RemovalView[],
  seen: ReadonlySet<string>,
): RemovalView[] {
  if (self === null) return [];
  return removals.filter((r) => r.code === "kicked" && r.by === self && !seen.has(removalId(r)));
}

/** The host feature's instance: what the host panel and the people menus call. */
export interface Host {
  /** The room controls of the core. */
  readonly room: RoomControls;
  /** How many times this page switched keys (its own rotations and keys taken from hosts). */
  readonly rotations: ReadonlySignal<number>;
  /** Key offers refused: not from a host, or not newer (diagnostics, tests). */
  readonly refused: ReadonlySignal<number>;
  /** A peer's display name as last seen (also after it left), or "Someone". */
  nameOf(peer: PeerId): string;
  /** Makes someone a host (`true`) or takes the role away (`false`). */
  setRole(peer: PeerId, host: boolean): boolean;
  /** Makes `peer` host and leaves the role ourselves. */
  handOver(peer: PeerId): boolean;
  /** Asks one member, or everyone but the hosts, to turn something off. */
  mute(peer: PeerId | "all", what: MuteKind): boolean;
  /** Removes a member for the rest of the meeting; the key rotates once the server confirms. */
  remove(peer: PeerId): boolean;
  admit(knock: PeerId, allow: boolean): boolean;
  /** Lets everyone waiting in. */
  admitAll(): boolean;
  setLocked(locked: boolean): boolean;
  setLobby(on: boolean): boolean;
  /** Ends the meeting for everyone. */
  end(): boolean;
}

const NOT_SENT =
  "That could not be sent: you are not connected to the meeting server right now, or not a host.";

const WHAT_WORDS: Record<MuteKind, string> = {
  audio: "mute their microphone",
  video: "turn off their camera",
  screen: "stop sharing their screen",
};

/** The engine on a given `room` (the core's `ctx.room`; tests pass their own). */
export function createHost(ctx: FeatureContext, room: RoomControls): Host {
  const rotations = signal(0);
  const refused = signal(0);
  /** Names of everyone seen, kept after they leave (a removal's toast names them). */
  const names = new Map<PeerId, string>();
  /** Removals already rotated for (or there before we joined). */
  const rotated = new Set<string>();
  /** Knocks whose name a toast told already. */
  const announced = new Set<PeerId>();
  /** Peers removed by any host: never sent a key, whatever their link says. */
  const removedPeers = new Set<PeerId>();
  let joined = false;

  const topic = ctx.topic("key", {
    validate: parseKeyOffer,
    maxBytes: 128,
    rate: { burst: 4, perSecond: 1 },
  });

  const current = (): KeyOffer => ({ key: room.key.peek(), epoch: room.keyEpoch.peek() });
  const nameOf = (peer: PeerId) => names.get(peer) || "Someone";

  topic.onMessage((from, offer) => {
    if (!mayOfferKey(from, ctx.self.peek(), room.hosts.peek()) || !isNewerKey(current(), offer)) {
      refused.value++;
      return;
    }
    // Our key already (we reloaded with the new link, so our epoch restarted at 0): take the
    // epoch quietly, nothing changed for the person.
    const same = offer.key === room.key.peek();
    void room.useKey(offer.key, offer.epoch).then((ok) => {
      if (!ok || same) return;
      rotations.value++;
      ctx.notify(
        "info",
        "The meeting link changed after someone was removed. Copy it again to invite others.",
      );
    });
  });

  /** A new key for everyone but whoever was removed; then this page switches too. */
  async function rotate(removed: RemovalView): Promise<void> {
    const offer = { key: newMeetingKey(), epoch: room.keyEpoch.peek() + 1 };
    for (const { peer } of ctx.peers.peek()) {
      if (peer !== removed.peer && !removedPeers.has(peer)) topic.send(peer, offer);
    }
    if (!await room.useKey(offer.key, offer.epoch)) return;
    rotations.value++;
    // The core says who was removed; this says what it means for the link.
    ctx.notify(
      "info",
      `The meeting link changed, so ${nameOf(removed.peer)}'s copy no longer works. Copy it ` +
        "again to invite others.",
    );
  }

  // A member who was away hears the current key from a host as soon as its link opens.
  ctx.on("link-open", (peer) => {
    if (!room.isHost.peek() || room.keyEpoch.peek() === 0 || removedPeers.has(peer)) return;
    topic.send(peer, current());
  });

  const stops = [
    effect(() => {
      for (const p of ctx.peers.value) if (p.name) names.set(p.peer, p.name);
    }),
    effect(() => {
      const removals = room.removals.value;
      const self = ctx.self.value;
      untracked(() => {
        for (const r of removals) if (r.code === "kicked") removedPeers.add(r.peer);
        // Removals listed before we joined (or before a reload) were rotated for by someone.
        if (!joined) {
          if (self === null) return;
          joined = true;
          for (const r of removals) rotated.add(removalId(r));
          return;
        }
        for (const r of removalsToRotateFor(self, removals, rotated)) {
          rotated.add(removalId(r));
          void rotate(r);
        }
      });
    }),
    effect(() => {
      const knocks = room.knocks.value;
      if (!room.isHost.value) return;
      untracked(() => {
        for (const k of knocks) {
          if (k.name === null || announced.has(k.id)) continue;
          announced.add(k.id);
          ctx.notify(
            "join",
            k.name === ""
              ? "Someone whose link has another key is waiting to join."
              : `${k.name} is waiting to join. Open Host controls to let them in.`,
          );
        }
      });
    }),
  ];
  ctx.on("ended", () => stops.forEach((stop) => stop()));

  const act = (action: HostAction, done?: string): boolean => {
    const sent = room.act(action);
    if (!sent) ctx.notify("error", NOT_SENT);
    else if (done) ctx.notify("info", done);
    return sent;
  };

  return {
    room,
    rotations,
    refused,
    nameOf,
    setRole: (peer, host) =>
      act(
        { type: "role", peer, host },
        host ? `${nameOf(peer)} is now a host.` : `${nameOf(peer)} is no longer a host.`,
      ),
    handOver(peer) {
      const self = ctx.self.peek();
      // In this order: the room always has a host, so the server accepts both.
      if (!self || !act({ type: "role", peer, host: true })) return false;
      return act({ type: "role", peer: self, host: false }, `${nameOf(peer)} is the host now.`);
    },
    mute: (peer, what) =>
      act(
        { type: "mute", peer, what },
        `Asked ${peer === "all" ? "everyone but the hosts" : nameOf(peer)} to ${WHAT_WORDS[what]}.`,
      ),
    remove: (peer) => act({ type: "remove", peer }),
    admit: (knock, allow) => act({ type: "admit", knock, allow }),
    admitAll() {
      const waiting = room.knocks.peek();
      return waiting.length > 0 &&
        waiting.map((k) => act({ type: "admit", knock: k.id, allow: true })).every(Boolean);
    },
    setLocked: (locked) => act({ type: "lock", locked }),
    setLobby: (on) => act({ type: "lobby", on }),
    end: () => act({ type: "end" }),
  };
}

/** Host controls: lock, lobby, roles, mute requests, removal, end; key rotation on removal. */
export const host = defineFeature<Host>("host", (ctx) => createHost(ctx, ctx.room));
