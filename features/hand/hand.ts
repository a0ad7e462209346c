/** Raise hand's engine part: our hand, and whose hands are up. Built only on the feature API. */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { isObject } from "../../mesh/checks.ts";
import { defineFeature } from "../../mesh/feature.ts";
import type { PeerId } from "../../mesh/types.ts";

/** The raise-hand feature's instance. */
export interface Hand {
  /** Whether our hand is up. */
  readonly raised: ReadonlySignal<boolean>;
  /** The others whose hand is up, earliest raised first. */
  readonly raisedBy: ReadonlySignal<ReadonlySet<PeerId>>;
  /**
   * When each of the others raised their hand, on this page's clock (`Date.now()`), earliest
   * first. A hand we hear of when a link opens went up before: its time is in the past.
   */
  readonly raisedAt: ReadonlySignal<ReadonlyMap<PeerId, number>>;
  /** Everyone whose hand is up, our own peer id included, earliest raised first. */
  readonly order: ReadonlySignal<readonly PeerId[]>;
  /** Raises or lowers our hand, for everyone. */
  set(raised: boolean): void;
}

/** Longest a hand is said to have been up (a day): bounds what a peer can claim. */
export const MAX_AGO_MS = 86_400_000;

/** A hand state on the wire: up or down, and for a hand up, how long ago it went up (ms). */
export interface HandState {
  raised: boolean;
  ago?: number;
}

/**
 * Validator of `hand/state`: `{ raised: boolean, ago?: number }`, `ago` a whole number of
 * milliseconds from 0 to `MAX_AGO_MS` (older senders leave it out: just now).
 */
export function parseHandState(body: unknown): HandState | null {
  if (!isObject(body) || typeof body.raised !== "boolean") return null;
  if (body.ago === undefined) return { raised: body.raised };
  const ago = body.ago;
  if (typeof ago !== "number" || !Number.isInteger(ago) || ago < 0 || ago > MAX_AGO_MS) {
    return null;
  }
  return { raised: body.raised, ago };
}

/**
 * Raise hand: topic `hand/state`, sent to every link when it opens (with how long ago the hand
 * went up, so a newcomer lists hands in the order they were raised) and on every change.
 */
export const hand = defineFeature<Hand>("hand", (ctx) => {
  const raised = signal(false);
  /** When our hand went up (`Date.now()`), while it is. */
  let ownSince = 0;
  const raisedAt = signal<ReadonlyMap<PeerId, number>>(new Map());
  const topic = ctx.topic("state", {
    validate: parseHandState,
    maxBytes: 64,
    rate: { burst: 10, perSecond: 4 },
  });
  const mark = (peer: PeerId, state: HandState) => {
    const current = raisedAt.peek();
    // A hand already up keeps its place (a link that opens again repeats the state).
    if (current.has(peer) === state.raised) return;
    const next = new Map(current);
    if (state.raised) next.set(peer, Date.now() - (state.ago ?? 0));
    else next.delete(peer);
    raisedAt.value = new Map([...next].sort((a, b) => a[1] - b[1]));
  };
  topic.onMessage(mark);
  // A new link hears where our hand is; someone who leaves takes their hand with them.
  ctx.on("link-open", (peer) => topic.send(peer, stateOf(raised.peek())));
  ctx.on("peer-left", (peer) => mark(peer, { raised: false }));

  function stateOf(up: boolean): HandState {
    return up ? { raised: true, ago: Math.min(MAX_AGO_MS, Date.now() - ownSince) } : {
      raised: false,
    };
  }

  return {
    raised,
    raisedAt,
    raisedBy: computed(() => new Set(raisedAt.value.keys())),
    order: computed(() => {
      const self = ctx.self.value;
      const all = [...raisedAt.value];
      if (raised.value && self) all.push([self, ownSince]);
      return all.sort((a, b) => a[1] - b[1]).map(([peer]) => peer);
    }),
    set(up) {
      if (up && !raised.peek()) ownSince = Date.now();
      raised.value = up;
      topic.send("all", up ? { raised: true } : { raised: false });
    },
  };
});
