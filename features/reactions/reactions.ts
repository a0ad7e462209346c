/**
 * Reactions' engine part: an emoji from a small set floats over the sender's tile on every
 * screen for a few seconds. Paced on the sender (so a held key does not spam the room) and on
 * every receiver (so a modified client cannot flood anyone's screen). Built only on the feature
 * API: this folder and one line in features/mod.ts are all it takes.
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { isObject } from "../../mesh/checks.ts";
import { defineFeature } from "../../mesh/feature.ts";
import { TokenBucket } from "../../mesh/token_bucket.ts";
import type { PeerId } from "../../mesh/types.ts";

/** The emoji one can send, with the words a screen reader says for each. */
export const REACTIONS = {
  "👍": "thumbs up",
  "👏": "clapping",
  "😂": "laughing",
  "❤️": "heart",
  "🎉": "party",
  "😮": "surprised",
} as const;

/** One of the emoji in `REACTIONS`. */
export type Emoji = keyof typeof REACTIONS;

/** How long a reaction floats. */
export const SHOW_MS = 4_000;
/** What one person may send: 3 at once, then one a second. */
export const SEND_RATE = { burst: 3, perSecond: 1 };
/** What a receiver accepts from one peer: a little more, for clock and network jitter. */
export const RECEIVE_RATE = { burst: 5, perSecond: 2 };
/** Reactions shown at once on one tile; older ones make room. */
const MAX_PER_TILE = 6;

/** One reaction on screen. */
export interface Reaction {
  id: number;
  /** Who sent it; null for our own. */
  peer: PeerId | null;
  emoji: Emoji;
}

/** The reactions feature's instance. */
export interface Reactions {
  /** What floats right now, oldest first. */
  readonly active: ReadonlySignal<readonly Reaction[]>;
  /** False for a moment after sending too many. */
  readonly canSend: ReadonlySignal<boolean>;
  /** Sends to everyone and shows it on our tile; false when paced or unknown. */
  send(emoji: string): boolean;
}

/** Validator of `reactions/send`: `{ emoji }` from the set, nothing else. */
export function parseReaction(body: unknown): { emoji: Emoji } | null {
  if (!isObject(body) || typeof body.emoji !== "string") return null;
  return Object.hasOwn(REACTIONS, body.emoji) ? { emoji: body.emoji as Emoji } : null;
}

/** Reactions: topic `reactions/send`, paced on both ends. */
export const reactions = defineFeature<Reactions>("reactions", (ctx) => {
  const active = signal<readonly Reaction[]>([]);
  const paced = signal(false);
  const outgoing = new TokenBucket(SEND_RATE);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let seq = 0;

  const show = (peer: PeerId | null, emoji: Emoji) => {
    const reaction = { id: ++seq, peer, emoji };
    const same = active.peek().filter((r) => r.peer === peer);
    const drop = same.length >= MAX_PER_TILE ? same[0].id : null;
    active.value = [...active.peek().filter((r) => r.id !== drop), reaction];
    const timer = setTimeout(() => {
      timers.delete(timer);
      active.value = active.peek().filter((r) => r.id !== reaction.id);
    }, SHOW_MS);
    timers.add(timer);
  };

  const topic = ctx.topic("send", { validate: parseReaction, maxBytes: 64, rate: RECEIVE_RATE });
  topic.onMessage((from, { emoji }) => show(from, emoji));
  ctx.on("peer-left", (peer) => {
    active.value = active.peek().filter((r) => r.peer !== peer);
  });
  ctx.on("ended", () => timers.forEach(clearTimeout));

  return {
    active,
    canSend: computed(() => !paced.value),
    send(emoji) {
      const reaction = parseReaction({ emoji });
      if (!reaction || !outgoing.take()) return false;
      show(null, reaction.emoji);
      topic.send("all", reaction);
      if (!outgoing.ready) {
        paced.value = true;
        const timer = setTimeout(() => {
          timers.delete(timer);
          paced.value = false;
        }, outgoing.waitMs);
        timers.add(timer);
      }
      return true;
    },
  };
});
