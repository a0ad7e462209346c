/**
 * The whiteboard's engine: one Yjs document per meeting, kept in step with every peer over the
 * board's own data channel, and the local operations on it (add, move, erase, clear, undo, redo).
 * Loaded with `import()` only when the board is first opened or a peer sends something drawn.
 *
 * Sync (y-protocols' messages, in wire.ts frames):
 * - A peer with something on its board sends step 1 (its state vector) when a link opens; the
 *   other side answers with step 2 (what the asker lacks) and, once per link, its own step 1.
 *   Both then have everything; a partition heals the same way when the link comes back.
 * - Every local change goes to every peer as an update. Updates from others are not passed on
 *   (the mesh is full): when someone leaves, everyone exchanges step 1 again in case their last
 *   update reached only some.
 * - A newcomer asks one peer first and the others only after that answer, so a large board
 *   arrives once, not once per peer.
 *
 * What a peer sends is bounded and checked before it touches the document: a sync message is at
 * most 16 MiB, and a peer may send at most 16 MiB at once and 2 MiB a second after that; the
 * update must parse, must not claim our own client id, and may not leave more than 4 MiB waiting
 * for missing pieces (then it is dropped and the board resyncs). Stored values are checked when
 * read (model.ts `parseElement`); what fails is not shown.
 */
import { batch, type ReadonlySignal, signal } from "@preact/signals-core";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { writeSyncStep1, writeSyncStep2, writeUpdate } from "y-protocols/sync";
import * as Y from "yjs";
import { TokenBucket } from "../../mesh/token_bucket.ts";
import type { PeerId } from "../../mesh/types.ts";
import { ByteBudget } from "./budget.ts";
import {
  type BoardElement,
  compareElements,
  type ElementInput,
  moveStored,
  newElementId,
  parseElement,
  type StoredElement,
  storeElement,
} from "./model.ts";
import {
  mergePresence,
  parsePresence,
  type Presence,
  presenceMessage,
  sentAfter,
} from "./presence.ts";
import { MAX_SYNC_BYTES, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE } from "./frames.ts";
import { Assembler, awarenessFrame, syncFrames } from "./wire.ts";

/** The name of the map of elements in the document. */
export const ELEMENTS = "el";
/** Largest stacking order: beyond it, new elements share it (and order by id). */
export const MAX_Z = 2 ** 40;
/** Largest step 1 (a state vector): 64 KiB is thousands of clients. */
const MAX_STEP1_BYTES = 64 * 1024;
/** What a peer may make us decode: a whole board at once, then a steady trickle. */
const BYTES_RATE = { burst: MAX_SYNC_BYTES, perSecond: 2 * 1024 * 1024 };
/** Frames a peer may send: a board's pieces at once, then pointer-rate awareness and updates. */
const FRAMES_RATE = { burst: 400, perSecond: 200 };
/** Step 1s a peer may send (each costs us a step 2): a few, then one every 5 s. */
const STEP1_RATE = { burst: 4, perSecond: 0.2 };
/** After dropping a peer's frames for their rate, ask it for what we lack this much later. */
const RATE_RESYNC_MS = 2_000;
/** Updates waiting for missing pieces, bytes; beyond, they are dropped and the board resyncs. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** Missing pieces that have not come this long: ask everyone for what we lack. */
const PENDING_RESYNC_MS = 3_000;
/** A newcomer's first answer not here after this long: ask the others anyway. */
const FIRST_ANSWER_MS = 5_000;
/** After someone leaves, exchange state vectors with everyone (their last update may be partial). */
const LEFT_RESYNC_MS = 1_500;
/** Awareness: at most one frame per peer this often, a keep-alive this often, expiry after. */
const AWARENESS_MS = 50;
const KEEPALIVE_MS = 10_000;
const PRESENCE_TTL_MS = 30_000;
/** Flow control on the board's channel: wait above the high mark until the low one. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
/** Awareness is skipped (not queued) for a peer with this much still to go out. */
const AWARENESS_SKIP_BYTES = 256 * 1024;

/** The part of a feature channel the engine uses (mesh/feature.ts `PeerChannel`). */
export interface BoardChannel {
  readonly peer: PeerId;
  readonly open: boolean;
  readonly bufferedAmount: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  drained(lowWater?: number): Promise<void>;
}

/** Why something a peer sent was not used; counted in `BoardEngine.dropped`. */
export type BoardDrop =
  | "not-binary"
  | "malformed"
  | "too-big"
  | "rate"
  | "forged"
  | "rejected"
  | "pending-overflow"
  | "awareness";

/** Where a transaction came from: a peer (never passed on, never undone by us). */
class RemoteOrigin {
  constructor(readonly peer: PeerId) {}
}

/** Our own changes (what undo tracks). */
const LOCAL = Symbol("local");

interface PeerState {
  channel: BoardChannel;
  assembler: Assembler;
  /** We sent our step 1 on this link. */
  sentStep1: boolean;
  /** We are waiting for its step 2. */
  awaiting: boolean;
  /** Bytes handed to `send` but not yet to the channel. */
  queued: number;
  chain: Promise<void>;
  frames: TokenBucket;
  bytes: ByteBudget;
  step1s: TokenBucket;
  /** Points of our draft this peer has. */
  draftSent: number;
  draftId: string | null;
  /** When we last sent it awareness. */
  awarenessAt: number;
  /** A resync after a drop for its rate, pending. */
  resync: ReturnType<typeof setTimeout> | undefined;
}

/** What a peer is doing on the board. */
export interface RemotePresence extends Presence {
  at: number;
}

export interface EngineOptions {
  /** The document to use: one carried over from an earlier meeting core of this page. */
  doc?: Y.Doc;
  now?: () => number;
}

/** See the module comment. */
export class BoardEngine {
  readonly doc: Y.Doc;
  /** Bumped on every change of the elements (read `elements()`). */
  readonly version: ReadonlySignal<number>;
  /** What each peer is pointing at and drawing. */
  readonly presence: ReadonlySignal<ReadonlyMap<PeerId, RemotePresence>>;
  readonly canUndo: ReadonlySignal<boolean>;
  readonly canRedo: ReadonlySignal<boolean>;
  /** Peers whose whole board we have (their step 2 arrived since the link opened). */
  readonly synced: ReadonlySignal<ReadonlySet<PeerId>>;
  /** What peers sent that was not used, by reason. */
  readonly dropped: Record<BoardDrop, number> = {
    "not-binary": 0,
    malformed: 0,
    "too-big": 0,
    rate: 0,
    forged: 0,
    rejected: 0,
    "pending-overflow": 0,
    awareness: 0,
  };
  /** Stored values that failed `parseElement` (not shown). */
  invalid = 0;

  readonly #map: Y.Map<unknown>;
  readonly #undo: Y.UndoManager;
  readonly #now: () => number;
  readonly #peers = new Map<PeerId, PeerState>();
  readonly #elements = new Map<string, BoardElement>();
  #sorted: BoardElement[] | null = null;
  #maxZ = 0;
  readonly #version = signal(0);
  readonly #presence = signal<ReadonlyMap<PeerId, RemotePresence>>(new Map());
  readonly #canUndo = signal(false);
  readonly #canRedo = signal(false);
  readonly #synced = signal<ReadonlySet<PeerId>>(new Set());
  /** Before the first answer: peers to ask once it is in. */
  #bootstrapping = true;
  #firstAnswerTimer: ReturnType<typeof setTimeout> | undefined;
  #pendingTimer: ReturnType<typeof setTimeout> | undefined;
  #leftTimer: ReturnType<typeof setTimeout> | undefined;
  #awarenessTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #local: Presence | null = null;
  #outgoing: Uint8Array[] = [];
  #disposed = false;
  readonly #onUpdate: (update: Uint8Array, origin: unknown) => void;
  readonly #onChange: (event: Y.YMapEvent<unknown>) => void;

  constructor(opts: EngineOptions = {}) {
    this.doc = opts.doc ?? new Y.Doc();
    this.#now = opts.now ?? Date.now;
    this.version = this.#version;
    this.presence = this.#presence;
    this.canUndo = this.#canUndo;
    this.canRedo = this.#canRedo;
    this.synced = this.#synced;
    this.#map = this.doc.getMap(ELEMENTS);
    for (const [id, value] of this.#map) this.#read(id, value);
    this.#onChange = (event) => {
      for (const id of event.keysChanged) this.#read(id, this.#map.get(id));
      this.#sorted = null;
      this.#version.value++;
    };
    this.#map.observe(this.#onChange);
    this.#onUpdate = (update, origin) => {
      if (origin instanceof RemoteOrigin) return;
      // Changes made in one go (a script, undoing many steps) leave as one update.
      if (this.#outgoing.push(update) === 1) queueMicrotask(() => this.#flushOutgoing());
    };
    this.doc.on("update", this.#onUpdate);
    this.#undo = new Y.UndoManager(this.#map, {
      trackedOrigins: new Set([LOCAL]),
      captureTimeout: 0,
    });
    const stacks = () => {
      this.#canUndo.value = this.#undo.canUndo();
      this.#canRedo.value = this.#undo.canRedo();
    };
    this.#undo.on("stack-item-added", stacks);
    this.#undo.on("stack-item-popped", stacks);
    this.#undo.on("stack-cleared", stacks);
    this.#sweepTimer = setInterval(() => this.#sweep(), 5_000);
  }

  // ---- The elements ----

  /** The elements to show, in stacking order. */
  elements(): readonly BoardElement[] {
    return this.#sorted ??= [...this.#elements.values()].sort(compareElements);
  }

  get(id: string): BoardElement | undefined {
    return this.#elements.get(id);
  }

  get size(): number {
    return this.#elements.size;
  }

  #read(id: string, value: unknown): void {
    if (value === undefined) {
      this.#elements.delete(id);
      return;
    }
    const element = parseElement(id, value);
    if (!element || element.z > MAX_Z) {
      this.#elements.delete(id);
      this.invalid++;
      return;
    }
    this.#elements.set(id, element);
    if (element.z > this.#maxZ) this.#maxZ = element.z;
  }

  // ---- Local operations (each one undo step) ----

  /** Adds an element on top; returns its id, or null when there was nothing to add. */
  add(input: ElementInput, id = newElementId()): string | null {
    const stored = storeElement(input, Math.min(this.#maxZ + 1, MAX_Z));
    if (!stored) return null;
    this.doc.transact(() => this.#map.set(id, stored), LOCAL);
    return id;
  }

  /** Moves elements by (dx, dy) board pixels. */
  move(ids: Iterable<string>, dx: number, dy: number): void {
    if (dx === 0 && dy === 0) return;
    this.doc.transact(() => {
      for (const id of ids) {
        const stored = this.#map.get(id);
        if (this.#elements.has(id)) this.#map.set(id, moveStored(stored as StoredElement, dx, dy));
      }
    }, LOCAL);
  }

  /** Removes elements. */
  erase(ids: Iterable<string>): void {
    const present = [...ids].filter((id) => this.#map.has(id));
    if (present.length === 0) return;
    this.doc.transact(() => present.forEach((id) => this.#map.delete(id)), LOCAL);
  }

  /** Removes everything (one undo step brings it back). */
  clear(): void {
    this.erase([...this.#map.keys()]);
  }

  /** Undoes our own last step (others' are never touched). */
  undo(): void {
    this.#undo.undo();
  }

  redo(): void {
    this.#undo.redo();
  }

  // ---- Links ----

  /**
   * The board's channel to `peer` opened. `state` says what the light part already did on it
   * before the engine was loaded (sent our empty step 1, waits for the answer).
   */
  attach(channel: BoardChannel, state: { sentStep1?: boolean; awaiting?: boolean } = {}): void {
    this.detach(channel.peer);
    const st: PeerState = {
      channel,
      assembler: new Assembler((type, bytes) => this.#admit(st, type, bytes)),
      sentStep1: state.sentStep1 ?? false,
      awaiting: state.awaiting ?? false,
      queued: 0,
      chain: Promise.resolve(),
      frames: new TokenBucket(FRAMES_RATE, this.#now),
      bytes: new ByteBudget(BYTES_RATE, this.#now),
      step1s: new TokenBucket(STEP1_RATE, this.#now),
      draftSent: 0,
      draftId: null,
      awarenessAt: 0,
      resync: undefined,
    };
    this.#peers.set(channel.peer, st);
    if (st.awaiting) this.#armFirstAnswer();
    if (this.#bootstrapping) {
      // Ask one peer for the board; the others once it has answered (#bootstrapped).
      if (!this.#asking()) this.#sendStep1(st);
    } else if (this.doc.store.clients.size > 0) {
      // We have something (if only deletions): the other side may lack it.
      this.#sendStep1(st);
    }
    if (this.#local) this.#scheduleAwareness();
  }

  /** The channel to `peer` closed (or the peer left). */
  detach(peer: PeerId): void {
    const st = this.#peers.get(peer);
    if (!st) return;
    this.#peers.delete(peer);
    clearTimeout(st.resync);
    if (this.#synced.peek().has(peer)) {
      const synced = new Set(this.#synced.peek());
      synced.delete(peer);
      this.#synced.value = synced;
    }
    if (this.#presence.peek().has(peer)) {
      const presence = new Map(this.#presence.peek());
      presence.delete(peer);
      this.#presence.value = presence;
    }
    // The one we asked first went away before answering: ask the others.
    if (st.awaiting && this.#bootstrapping) this.#bootstrapped();
  }

  /** `peer` left the meeting: its last update may have reached only some of us. */
  peerLeft(peer: PeerId): void {
    this.detach(peer);
    clearTimeout(this.#leftTimer);
    this.#leftTimer = setTimeout(() => {
      if (this.#disposed || this.#map.size === 0) return;
      for (const st of this.#peers.values()) this.#sendStep1(st);
    }, LEFT_RESYNC_MS);
  }

  /** Whether we wait for some peer's step 2. */
  #asking(): boolean {
    for (const st of this.#peers.values()) if (st.awaiting) return true;
    return false;
  }

  /** Peers with an open board channel. */
  get peers(): PeerId[] {
    return [...this.#peers.keys()];
  }

  /** Something arrived from `peer` on its board channel. */
  receive(peer: PeerId, data: string | ArrayBuffer | Uint8Array): void {
    const st = this.#peers.get(peer);
    if (!st || this.#disposed) return;
    if (typeof data === "string") return this.#drop("not-binary");
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (!st.frames.take()) {
      // A dropped piece breaks the message it belongs to: the assembler must start over.
      st.assembler = new Assembler((type, n) => this.#admit(st, type, n));
      this.#resyncLater(st);
      return this.#drop("rate");
    }
    const out = st.assembler.push(bytes);
    switch (out.kind) {
      case "partial":
        return;
      case "refused":
        if (out.reason === "rate") this.#resyncLater(st);
        return this.#drop(out.reason);
      case "awareness":
        return this.#onAwareness(peer, out.state);
      case "sync":
        return this.#onSync(st, out.message);
    }
  }

  /** Whether a sync message of `type` and `bytes` may be taken from this peer. */
  #admit(st: PeerState, type: number, bytes: number): "ok" | "too-big" | "rate" {
    const max = type === SYNC_STEP1 ? MAX_STEP1_BYTES : MAX_SYNC_BYTES;
    if (bytes > max) return "too-big";
    return st.bytes.take(bytes) ? "ok" : "rate";
  }

  #onSync(st: PeerState, message: Uint8Array): void {
    let type: number;
    let payload: Uint8Array;
    try {
      const decoder = decoding.createDecoder(message);
      type = decoding.readVarUint(decoder);
      payload = decoding.readVarUint8Array(decoder);
      if (decoding.hasContent(decoder)) throw new Error("trailing bytes");
    } catch {
      return this.#drop("malformed");
    }
    if (type === SYNC_STEP1) {
      if (!st.step1s.take()) return this.#drop("rate");
      let answer: Uint8Array;
      try {
        Y.decodeStateVector(payload);
        answer = encodeMessage((e) => writeSyncStep2(e, this.doc, payload));
      } catch {
        return this.#drop("malformed");
      }
      this.#sendSync(st, answer);
      // Once per link, what they have that we lack (a newcomer asks the others after its first
      // answer: see #bootstrapped).
      if (!st.sentStep1 && !(this.#bootstrapping && this.#asking())) this.#sendStep1(st);
      return;
    }
    if (type !== SYNC_STEP2 && type !== SYNC_UPDATE) return this.#drop("malformed");
    const answered = type === SYNC_STEP2 && st.awaiting;
    if (!this.#apply(st.channel.peer, payload)) {
      if (answered) st.awaiting = false;
      if (answered && this.#bootstrapping) this.#bootstrapped();
      return;
    }
    if (answered) {
      st.awaiting = false;
      this.#synced.value = new Set(this.#synced.peek()).add(st.channel.peer);
      if (this.#bootstrapping) this.#bootstrapped();
    }
  }

  /** Checks and applies an update from `peer`; false when it was refused. */
  #apply(peer: PeerId, update: Uint8Array): boolean {
    let meta: { from: Map<number, number>; to: Map<number, number> };
    try {
      meta = Y.parseUpdateMeta(update);
    } catch {
      this.#drop("malformed");
      return false;
    }
    // Nobody else makes items in our name: a peer claiming to is lying (or replaying).
    const ours = meta.to.get(this.doc.clientID);
    if (ours !== undefined && ours > Y.getState(this.doc.store, this.doc.clientID)) {
      this.#drop("forged");
      return false;
    }
    try {
      Y.applyUpdate(this.doc, update, new RemoteOrigin(peer));
    } catch (err) {
      console.warn(`A board update from ${peer} could not be applied:`, err);
      this.#drop("rejected");
      return false;
    }
    this.#checkPending();
    return true;
  }

  /** Updates that wait for pieces we lack: bounded, and not for long. */
  #checkPending(): void {
    const store = this.doc.store;
    const pending = (store.pendingStructs?.update.length ?? 0) + (store.pendingDs?.length ?? 0);
    if (pending === 0) {
      clearTimeout(this.#pendingTimer);
      this.#pendingTimer = undefined;
      return;
    }
    if (pending > MAX_PENDING_BYTES) {
      store.pendingStructs = null;
      store.pendingDs = null;
      this.#drop("pending-overflow");
      this.#askEveryone();
      return;
    }
    this.#pendingTimer ??= setTimeout(() => {
      this.#pendingTimer = undefined;
      if (this.doc.store.pendingStructs || this.doc.store.pendingDs) this.#askEveryone();
    }, PENDING_RESYNC_MS);
  }

  #askEveryone(): void {
    for (const st of this.#peers.values()) this.#sendStep1(st);
  }

  #armFirstAnswer(): void {
    clearTimeout(this.#firstAnswerTimer);
    this.#firstAnswerTimer = setTimeout(() => {
      if (this.#bootstrapping) this.#bootstrapped();
    }, FIRST_ANSWER_MS);
  }

  /** The first peer answered (or could not): ask everyone else for what they have beyond it. */
  #bootstrapped(): void {
    this.#bootstrapping = false;
    clearTimeout(this.#firstAnswerTimer);
    for (const st of this.#peers.values()) if (!st.sentStep1) this.#sendStep1(st);
  }

  #sendStep1(st: PeerState): void {
    st.sentStep1 = true;
    st.awaiting = true;
    if (this.#bootstrapping) this.#armFirstAnswer();
    this.#sendSync(st, encodeMessage((e) => writeSyncStep1(e, this.doc)));
  }

  #sendSync(st: PeerState, message: Uint8Array): void {
    this.#send(st, syncFrames(message));
  }

  /** Queues frames to one peer in order, with flow control. */
  #send(st: PeerState, frames: Uint8Array[]): void {
    const total = frames.reduce((n, f) => n + f.length, 0);
    st.queued += total;
    const channel = st.channel;
    const run = async () => {
      for (const frame of frames) {
        if (!channel.open) return;
        if (channel.bufferedAmount > HIGH_WATER) await channel.drained(LOW_WATER);
        if (!channel.open) return;
        try {
          channel.send(frame as Uint8Array<ArrayBuffer>);
        } catch (err) {
          console.warn(`Sending to ${channel.peer}'s board failed:`, err);
          return;
        }
      }
    };
    st.chain = st.chain.then(run).finally(() => (st.queued -= total));
  }

  #flushOutgoing(): void {
    const updates = this.#outgoing;
    this.#outgoing = [];
    if (updates.length === 0 || this.#disposed) return;
    const update = updates.length === 1 ? updates[0] : Y.mergeUpdates(updates);
    const message = encodeMessage((e) => writeUpdate(e, update));
    for (const st of this.#peers.values()) this.#sendSync(st, message);
  }

  /** Something of this peer's was dropped for its rate: ask it again for what we lack, later. */
  #resyncLater(st: PeerState): void {
    if (st.resync !== undefined) return;
    st.resync = setTimeout(() => {
      st.resync = undefined;
      if (this.#peers.get(st.channel.peer) === st && !this.#disposed) this.#sendStep1(st);
    }, RATE_RESYNC_MS);
  }

  #drop(reason: BoardDrop): void {
    this.dropped[reason]++;
  }

  // ---- Awareness ----

  /** What we show the others: our pointer and the stroke being drawn (null: board closed). */
  setPresence(presence: Presence | null): void {
    const closing = this.#local !== null && presence === null;
    this.#local = presence;
    if (closing) {
      // Say goodbye now: nothing follows it.
      for (const st of this.#peers.values()) this.#sendAwareness(st, true);
      return;
    }
    this.#scheduleAwareness();
  }

  #scheduleAwareness(): void {
    if (this.#awarenessTimer !== undefined || this.#disposed) return;
    this.#awarenessTimer = setTimeout(() => {
      this.#awarenessTimer = undefined;
      if (!this.#local) return;
      let more = false;
      for (const st of this.#peers.values()) {
        this.#sendAwareness(st);
        const draft = this.#local.draft;
        if (draft && st.draftSent < draft.points.length / 2) more = true;
      }
      if (more) this.#scheduleAwareness();
    }, AWARENESS_MS);
  }

  #sendAwareness(st: PeerState, force = false): void {
    if (!st.channel.open) return;
    const busy = st.queued > AWARENESS_SKIP_BYTES ||
      st.channel.bufferedAmount > AWARENESS_SKIP_BYTES;
    if (busy && !force) {
      return; // busy with a large sync: the next frame carries what this one would have
    }
    const draft = this.#local?.draft ?? null;
    if (draft?.id !== st.draftId) {
      st.draftId = draft?.id ?? null;
      st.draftSent = 0;
    }
    const message = presenceMessage(this.#local, st.draftSent);
    st.draftSent = sentAfter(this.#local, st.draftSent);
    st.awarenessAt = this.#now();
    this.#send(st, [awarenessFrame(message)]);
  }

  #onAwareness(peer: PeerId, value: unknown): void {
    const message = parsePresence(value);
    if (!message) return this.#drop("awareness");
    const presence = new Map(this.#presence.peek());
    if (message.c === null && message.d === null) presence.delete(peer);
    else {presence.set(peer, {
        ...mergePresence(presence.get(peer) ?? null, message),
        at: this.#now(),
      });}
    this.#presence.value = presence;
  }

  /** Forgets presence nobody refreshed; sends our keep-alive. */
  #sweep(): void {
    const now = this.#now();
    const old = [...this.#presence.peek()].filter(([, p]) => now - p.at > PRESENCE_TTL_MS);
    if (old.length > 0) {
      const presence = new Map(this.#presence.peek());
      for (const [peer] of old) presence.delete(peer);
      this.#presence.value = presence;
    }
    if (!this.#local) return;
    for (const st of this.#peers.values()) {
      if (now - st.awarenessAt > KEEPALIVE_MS) this.#sendAwareness(st);
    }
  }

  // ---- Inspection (tests, benchmarks, exports) ----

  /** The whole document as one update. */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  /** The document's state vector. */
  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** The state vector as sorted [client, clock] pairs: equal on peers with the same document. */
  state(): [number, number][] {
    return [...Y.decodeStateVector(this.stateVector())].sort((a, b) => a[0] - b[0]);
  }

  /** The elements as plain data, in stacking order: equal on peers that agree. */
  snapshot(): BoardElement[] {
    return this.elements().map((e) => ({ ...e }));
  }

  /** Stops timers and listeners; the document stays (it may be carried over). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    batch(() => {
      for (const peer of [...this.#peers.keys()]) this.detach(peer);
    });
    clearTimeout(this.#firstAnswerTimer);
    clearTimeout(this.#pendingTimer);
    clearTimeout(this.#leftTimer);
    clearTimeout(this.#awarenessTimer);
    clearInterval(this.#sweepTimer);
    this.doc.off("update", this.#onUpdate);
    this.#map.unobserve(this.#onChange);
    this.#undo.destroy();
  }
}

/** A y-protocols message. */
function encodeMessage(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

let pageDoc: Y.Doc | null = null;

/**
 * This page's board document. A page is one meeting, so the document outlives a meeting core
 * that ended (the connection was lost): after "Rejoin", what was drawn meanwhile syncs back.
 */
export function pageDocument(): Y.Doc {
  return pageDoc ??= new Y.Doc();
}
