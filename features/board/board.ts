/**
 * The whiteboard's light part, loaded with the meeting screen: it declares the board's data
 * channel, answers peers for a board that was never opened here, and loads the engine
 * (engine.ts: Yjs and the sync) with `import()` only when the board is first opened or a peer
 * sends something drawn. Until then it costs the meeting a data channel per link and this file.
 *
 * Before the engine is loaded:
 * - a peer's step 1 (it has a board, or just opened one) gets an empty step 2, and the first
 *   such peer also our empty step 1, so that it sends us its board: a newcomer keeps a copy,
 *   and the board outlives anyone who leaves;
 * - what is drawn (updates, a step 2 with something in it) loads the engine and waits for it,
 *   within a bound; awareness (cursors) is not kept.
 */
import { effect, type ReadonlySignal, signal } from "@preact/signals-core";
import { defineFeature, type PeerChannel } from "../../mesh/feature.ts";
import { TokenBucket } from "../../mesh/token_bucket.ts";
import type { PeerId } from "../../mesh/types.ts";
import type { BoardEngine } from "./engine.ts";
import {
  asBytes,
  EMPTY_STEP1,
  EMPTY_STEP2,
  frameKind,
  MAX_SYNC_BYTES,
  SYNC_UPDATE,
} from "./frames.ts";

/** Frames kept for the engine while it loads, bytes (a whole board from two peers). */
const MAX_WAITING_BYTES = 2 * MAX_SYNC_BYTES;
/** Step 1s answered per peer before the engine is here: a few, then one every 5 s. */
const STEP1_RATE = { burst: 4, perSecond: 0.2 };

/** The whiteboard feature's instance, which its UI reads. */
export interface Board {
  /** Whether this page shows the board. */
  readonly open: ReadonlySignal<boolean>;
  /** The engine, once loaded. */
  readonly engine: ReadonlySignal<BoardEngine | null>;
  /** Why the engine could not be loaded (a network error), or "". */
  readonly loadError: ReadonlySignal<string>;
  /** Opens or closes the board here; opening loads the engine. */
  setOpen(open: boolean): void;
  /** Loads the engine (once); resolves with it. */
  load(): Promise<BoardEngine>;
}

/**
 * When the board's parts arrived on this page (performance.now(), ms), for the late-joiner
 * bench and tests: the first board channel opened, the engine loaded, the first whole board
 * from a peer was applied.
 */
export interface BoardTimeline {
  firstLink: number | null;
  loaded: number | null;
  synced: number | null;
}

/**
 * What tests and diagnostics read as `globalThis.__moozBoard` (tests/MEETING_UI_CONTRACT.md):
 * the engine, the open channels (a test plays a modified client with them), the timeline; the
 * view adds `svg()` once open.
 */
export interface BoardDebug {
  engine: BoardEngine | null;
  channels: ReadonlyMap<PeerId, PeerChannel>;
  timeline: BoardTimeline;
  svg?: () => string;
  /** The last paint of the board's elements: when, how long it took, how many it drew. */
  painted?: { at: number; ms: number; elements: number };
}

/** The engine module once this page has loaded it (then a rejoin loads the engine at once). */
let engineCode: typeof import("./engine.ts") | null = null;

/** What the light part did on a link before the engine was there. */
interface LinkState {
  sentStep1: boolean;
  awaiting: boolean;
}

/**
 * The feature, with `carryOver`: whether the document outlives this meeting core on this page
 * (a rejoin after losing the connection brings the strokes drawn meanwhile back). Tests that
 * run several meetings in one process turn it off.
 */
export function boardFeature(options: { carryOver: boolean }) {
  return defineFeature<Board>("board", (ctx) => {
    const open = signal(false);
    const engine = signal<BoardEngine | null>(null);
    const loadError = signal("");
    const channels = new Map<PeerId, PeerChannel>();
    const waiting = new Map<PeerId, Uint8Array[]>();
    let waitingBytes = 0;
    const links = new Map<PeerId, LinkState>();
    const step1s = new Map<PeerId, TokenBucket>();
    /** Peers that sent step 1 (they have a board), in order; the first we asked. */
    const holders: PeerId[] = [];
    let loading: Promise<BoardEngine> | null = null;
    let told = false;
    let ended = false;
    const timeline: BoardTimeline = { firstLink: null, loaded: null, synced: null };
    const debug: BoardDebug = { engine: null, channels, timeline };
    (globalThis as { __moozBoard?: BoardDebug }).__moozBoard = debug;

    const nameOf = (peer: PeerId) =>
      ctx.peers.peek().find((p) => p.peer === peer)?.name || "Someone";

    const send = (channel: PeerChannel, frame: Uint8Array) => {
      try {
        if (channel.open) channel.send(frame as Uint8Array<ArrayBuffer>);
      } catch (err) {
        console.warn(`Sending to ${channel.peer}'s board failed:`, err);
      }
    };

    /** Asks the next peer that has a board for it, if we are not waiting for one already. */
    const askNext = () => {
      if ([...links.values()].some((l) => l.awaiting)) return;
      const peer = holders.find((p) => channels.has(p) && !links.get(p)?.sentStep1);
      if (!peer) return;
      links.set(peer, { sentStep1: true, awaiting: true });
      send(channels.get(peer)!, EMPTY_STEP1);
    };

    /** A frame before the engine is here. */
    const early = (channel: PeerChannel, data: string | ArrayBuffer) => {
      const bytes = asBytes(data);
      if (!bytes) return;
      const peer = channel.peer;
      switch (frameKind(bytes)) {
        case "step1": {
          let bucket = step1s.get(peer);
          if (!bucket) step1s.set(peer, bucket = new TokenBucket(STEP1_RATE));
          if (!bucket.take()) return;
          send(channel, EMPTY_STEP2);
          if (!holders.includes(peer)) holders.push(peer);
          askNext();
          return;
        }
        case "empty-step2": {
          // It had nothing after all (it had just opened an empty board): ask another.
          const link = links.get(peer);
          if (link?.awaiting) link.awaiting = false;
          askNext();
          return;
        }
        case "content": {
          if (waitingBytes + bytes.length > MAX_WAITING_BYTES) {
            // Over the bound: the engine asks this peer again for everything once it is here.
            links.set(peer, { sentStep1: false, awaiting: false });
            return;
          }
          waitingBytes += bytes.length;
          const list = waiting.get(peer) ?? [];
          list.push(bytes);
          waiting.set(peer, list);
          if (!told && !open.peek()) {
            told = true;
            ctx.notify(
              "info",
              bytes[1] === SYNC_UPDATE
                ? `${nameOf(peer)} is drawing on the whiteboard.`
                : "The whiteboard has drawings on it.",
            );
          }
          void load().catch(() => {});
          return;
        }
        default:
          return; // awareness of a board we do not show, or junk
      }
    };

    const feature = ctx.channel("sync");
    feature.onOpen((channel) => {
      const peer = channel.peer;
      timeline.firstLink ??= performance.now();
      channels.set(peer, channel);
      links.delete(peer);
      channel.onMessage((data) => {
        if (channels.get(peer) !== channel) return;
        const e = engine.peek();
        if (e) e.receive(peer, data);
        else early(channel, data);
      });
      channel.onClose(() => {
        if (channels.get(peer) !== channel) return;
        channels.delete(peer);
        links.delete(peer);
        engine.peek()?.detach(peer);
        askNext();
      });
      engine.peek()?.attach(channel);
    });

    ctx.on("peer-left", (peer) => {
      channels.delete(peer);
      links.delete(peer);
      step1s.delete(peer);
      const at = holders.indexOf(peer);
      if (at >= 0) holders.splice(at, 1);
      waitingBytes -= (waiting.get(peer) ?? []).reduce((n, f) => n + f.length, 0);
      waiting.delete(peer);
      engine.peek()?.peerLeft(peer);
      askNext();
    });

    ctx.on("ended", () => {
      ended = true;
      engine.peek()?.setPresence(null);
      engine.peek()?.dispose();
    });

    const load = (): Promise<BoardEngine> => {
      loading ??= import("./engine.ts").then((code) => {
        engineCode = code;
        const e = new code.BoardEngine({
          doc: options.carryOver ? code.pageDocument() : undefined,
        });
        if (ended) {
          e.dispose();
          return e;
        }
        timeline.loaded = performance.now();
        effect(() => {
          if (e.synced.value.size > 0) timeline.synced ??= performance.now();
        });
        debug.engine = e;
        for (const [peer, channel] of channels) e.attach(channel, links.get(peer));
        for (const [peer, frames] of waiting) for (const f of frames) e.receive(peer, f);
        waiting.clear();
        waitingBytes = 0;
        engine.value = e;
        loadError.value = "";
        return e;
      }).catch((err) => {
        loading = null;
        loadError.value =
          "The whiteboard could not be loaded. Check your connection, then open it again.";
        throw err;
      });
      return loading;
    };

    // This page drew before (an earlier meeting core, the connection lost since): the document
    // is here with what may be unsent, so the engine starts now and offers it.
    if (options.carryOver && engineCode?.pageDocument().store.clients.size) {
      void load().catch(() => {});
    }

    return {
      open,
      engine,
      loadError,
      load,
      setOpen(value) {
        open.value = value;
        if (value) void load().catch(() => {});
        else engine.peek()?.setPresence(null);
      },
    };
  });
}

/** The whiteboard feature as the app registers it. */
export const board = boardFeature({ carryOver: true });
