/** Raise hand's engine part: our hand, and whose hands are up. Built only on the feature API. */
import { type ReadonlySignal, signal } from "@preact/signals-core";
import { isObject } from "../../mesh/checks.ts";
import { defineFeature } from "../../mesh/feature.ts";
import type { PeerId } from "../../mesh/types.ts";

/** The raise-hand feature's instance. */
export interface Hand {
  /** Whether our hand is up. */
  readonly raised: ReadonlySignal<boolean>;
  /** The others whose hand is up. */
  readonly raisedBy: ReadonlySignal<ReadonlySet<PeerId>>;
  /** Raises or lowers our hand, for everyone. */
  set(raised: boolean): void;
}

/** Validator of `hand/state`: `{ raised: boolean }`. */
export function parseHandState(body: unknown): { raised: boolean } | null {
  return isObject(body) && typeof body.raised === "boolean" ? { raised: body.raised } : null;
}

/** Raise hand: topic `hand/state`, sent to every link when it opens and on every change. */
export const hand = defineFeature<Hand>("hand", (ctx) => {
  const raised = signal(false);
  const raisedBy = signal<ReadonlySet<PeerId>>(new Set());
  const topic = ctx.topic("state", {
    validate: parseHandState,
    maxBytes: 64,
    rate: { burst: 10, perSecond: 4 },
  });
  const mark = (peer: PeerId, up: boolean) => {
    if (raisedBy.peek().has(peer) === up) return;
    const next = new Set(raisedBy.peek());
    if (up) next.add(peer);
    else next.delete(peer);
    raisedBy.value = next;
  };
  topic.onMessage((from, state) => mark(from, state.raised));
  // A new link hears where our hand is; someone who leaves takes their hand with them.
  ctx.on("link-open", (peer) => topic.send(peer, { raised: raised.peek() }));
  ctx.on("peer-left", (peer) => mark(peer, false));
  return {
    raised,
    raisedBy,
    set(up) {
      raised.value = up;
      topic.send("all", { raised: up });
    },
  };
});
