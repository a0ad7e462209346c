/**
 * The meeting's signaling session: joins the room through the signaling client, keeps the roster,
 * passes signals to the links and link reports to the server, and turns however the connection
 * ended into one typed `MeetingEnd`.
 *
 * Every signal is sealed with the meeting key from the link (`seal.ts`) before it leaves, and
 * opened (or dropped and counted) before a link sees it: the server relays envelopes it can
 * neither read nor forge. A member whose signals keep failing to open is `unverified`.
 *
 * Display names never go to the server either: each member sends its name to each other member
 * in a sealed `hello` signal, once per peer id (`names`); the server's rosters carry "" instead.
 *
 * `reconnecting` is not an end: the client keeps trying for as long as the page wants the
 * meeting, and the meeting goes on between the browsers meanwhile. Whether it has lost everyone
 * is for the meeting to judge (`LiveMeeting`), which then ends the session with `abandon`.
 */
import { batch, signal } from "@preact/signals-core";
import { SignalingClient } from "../signaling/client.ts";
import type { MemberView } from "../signaling/protocol.ts";
import { checkName, isObject } from "./checks.ts";
import { type OpenFailure, Sealer, type SealSession } from "./seal.ts";
import type { LinkState, MeetingEnd, PeerId } from "./types.ts";

/** Where to connect, as whom, and where signals and errors go. */
export interface SessionOptions {
  /** `ws(s)://host/api/rooms/{room}/ws`. */
  url: string;
  /** Our display name: sent sealed to each member, never to the server. */
  name: string;
  /** The room id, as in the link: sealing binds every signal to it. */
  room: string;
  /** The meeting key's bytes, from the link's fragment (`parseMeetingKey`). */
  key: Uint8Array;
  /** Signals from other members that opened with the meeting key; unvalidated otherwise. */
  onSignal(from: PeerId, payload: unknown): void;
  /** A non-fatal error from the server, in words. */
  onError(message: string): void;
  /**
   * The server could not pass on a signal of ours to `peer` (busy or failing: `relay-busy`,
   * `relay-failed`); the link to it should redo what it needs.
   */
  onSignalLost?(peer: PeerId): void;
  /** A member's signals keep failing to open (another key, or forged): see `unverified`. */
  onUnverified?(peer: PeerId): void;
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

/** How the signaling client's close kinds map to what the end screen says. */
const END_KINDS: Record<string, MeetingEnd["kind"]> = {
  left: "left",
  "room-full": "room-full",
  "room-locked": "locked",
  evicted: "evicted",
  unreachable: "unreachable",
};

/** How often a `hello` that got no hello back is said again, and how many times in all. */
const HELLO_AGAIN_MS = 2_000;
const HELLO_TIMES = 5;

/** How long a dropped member keeps its place, until the server's welcome says (PROTOCOL.md). */
const DEFAULT_GRACE_MS = 30_000;

/** One signaling session: joined once, resumed after brief drops, ended once. */
export class Session {
  readonly state = signal<"joining" | "joined" | "reconnecting" | "ended">("joining");
  readonly end = signal<MeetingEnd | null>(null);
  readonly self = signal<PeerId | null>(null);
  /** Everyone in the room, us included, in join order. */
  readonly members = signal<MemberView[]>([]);
  /** Room capacity, from the server. */
  readonly capacity = signal<number | null>(null);
  /**
   * Members whose signals do not open with our key (`SealSession.untrusted`): another link's
   * key, or forgeries. Never linked to; shown as "could not verify".
   */
  readonly unverified = signal<ReadonlySet<PeerId>>(new Set());
  /** Display names of the other members, from their sealed `hello` signals. */
  readonly names = signal<ReadonlyMap<PeerId, string>>(new Map());
  /** Signals dropped because they did not open, by reason (tests, diagnostics). */
  readonly dropped: Record<OpenFailure, number> = {
    malformed: 0,
    failed: 0,
    replayed: 0,
    "stale-session": 0,
  };
  readonly #client: SignalingClient;
  readonly #sealer: Promise<Sealer>;
  /** The sealing session of our current peer id (a new one if we ever rejoin afresh). */
  #seal: Promise<SealSession> | null = null;
  #sealSelf: PeerId | null = null;
  /** Members we have sent our `hello` to, as our current peer id, and how often. */
  #greeted = new Map<PeerId, number>();
  #helloTimer: ReturnType<typeof setInterval> | undefined;
  readonly #name: string;
  #graceMs = DEFAULT_GRACE_MS;

  constructor(opts: SessionOptions) {
    this.#name = opts.name;
    // No name for the server: it travels sealed (`hello`).
    const client = this.#client = new SignalingClient({
      url: opts.url,
      WebSocket: opts.WebSocket,
    });
    const sealer = this.#sealer = Sealer.create({ key: opts.key, room: opts.room });
    // A key the sealer refuses cannot happen (the link was checked before joining); if it did,
    // every signal would be dropped: say so once instead of failing silently.
    sealer.catch((err) => opts.onError(`This meeting's key cannot be used: ${err.message}`));
    client.on("welcome", (w) =>
      batch(() => {
        // One sealing session per peer id: kept across resumes, new after a fresh join.
        if (w.peer !== this.#sealSelf) {
          this.#sealSelf = w.peer;
          this.#seal = sealer.then((s) => s.session(w.peer));
          this.#greeted = new Map();
        }
        this.#graceMs = w.config.graceMs;
        this.self.value = w.peer;
        this.capacity.value = w.room.capacity;
        this.members.value = w.members;
        this.state.value = "joined";
        this.#greet(w.members);
        this.#helloTimer ??= setInterval(() => this.#greetAgain(), HELLO_AGAIN_MS);
      }));
    client.on("roster", (r) => {
      this.members.value = r.members;
      this.#greet(r.members);
    });
    client.on("signal", ({ from, payload }) => {
      const seal = this.#seal;
      if (from === this.self.peek() || !seal) return;
      // Opens settle in arrival order (SealSession queues them), so links see signals in order.
      void seal.then((s) => s.open(from, payload)).then((opened) => {
        if (opened.ok) {
          if (isObject(opened.payload) && Object.hasOwn(opened.payload, "hello")) {
            return this.#hello(from, opened.payload.hello);
          }
          return opts.onSignal(from, opened.payload);
        }
        this.dropped[opened.reason]++;
        void seal.then((s) => {
          if (!s.untrusted(from) || this.unverified.peek().has(from)) return;
          this.unverified.value = new Set([...this.unverified.peek(), from]);
          opts.onUnverified?.(from);
        });
      });
    });
    client.on("error", (e) => {
      // A signal to someone who left or is reconnecting: expected around every drop, and the
      // links redo what they need once that member is back (LiveMeeting), so nothing to show.
      if (e.code === "unknown-peer") return;
      // The server refused or lost one signal: its link redoes what it needs, quietly. Shown
      // only to a client that cannot say which link it was (an older server).
      if ((e.code === "relay-busy" || e.code === "relay-failed") && e.to && opts.onSignalLost) {
        // It may have been our hello: say it again with the next roster.
        this.#greeted.delete(e.to);
        return opts.onSignalLost(e.to);
      }
      opts.onError(e.message);
    });
    client.on("state", (s) => {
      if (s === "reconnecting") this.state.value = "reconnecting";
      else if (s === "joined") this.state.value = "joined";
      else if (s === "closed") this.#ended();
    });
  }

  /** How long the server keeps a dropped member's place (from its welcome). */
  get graceMs(): number {
    return this.#graceMs;
  }

  /**
   * Seals `payload` for one member and sends it; false when it cannot go now (not joined, or the
   * server unreachable): the link redoes what it needs once we are back.
   */
  signal(to: PeerId, payload: unknown): boolean {
    const seal = this.#seal;
    if (!seal || this.state.peek() !== "joined") return false;
    // Seals settle in call order (SealSession queues them), so envelopes leave in order too.
    void seal.then((s) => s.seal(to, payload)).then(
      (envelope) => this.#client.signal(to, envelope),
      (err) => console.warn(`A signal to ${to} could not be sealed:`, err),
    );
    return true;
  }

  /** Sends our name, sealed, to every member not greeted yet as our current peer id. */
  #greet(members: readonly MemberView[]): void {
    const self = this.self.peek();
    for (const { peer } of members) {
      if (peer === self || this.#greeted.has(peer)) continue;
      if (this.signal(peer, { hello: { name: this.#name } })) this.#greeted.set(peer, 1);
    }
  }

  /**
   * Says hello again to members whose own hello has not opened here yet, a few times: a lost
   * hello comes again, and a member with another key sends enough envelopes that do not open
   * for the other side to call it unverified, even when it has nothing else to say (the polite
   * side of a link waits for an offer it cannot read).
   */
  #greetAgain(): void {
    const names = this.names.peek();
    for (const [peer, times] of this.#greeted) {
      if (names.has(peer) || times >= HELLO_TIMES) continue;
      if (this.signal(peer, { hello: { name: this.#name } })) this.#greeted.set(peer, times + 1);
    }
  }

  /** A member's sealed `hello`: its display name (checked like any input from the network). */
  #hello(from: PeerId, hello: unknown): void {
    const name = isObject(hello) ? checkName(hello.name) : null;
    if (name === null || this.names.peek().get(from) === name) return;
    this.names.value = new Map([...this.names.peek(), [from, name]]);
  }

  /**
   * Marks a member unverified for a reason found elsewhere (its DTLS certificate did not match
   * the fingerprint that arrived sealed).
   */
  markUnverified(peer: PeerId): void {
    if (this.unverified.peek().has(peer)) return;
    this.unverified.value = new Set([...this.unverified.peek(), peer]);
  }

  /** A member left the room: its sealing records go (its old envelopes stay refused). */
  forget(peer: PeerId): void {
    void this.#seal?.then((s) => s.forget(peer));
  }

  /** Tells the server our view of every link (the full-mesh guarantee rests on it). */
  reportLinks(links: Record<PeerId, LinkState>): void {
    this.#client.reportLinks(links);
  }

  /** Leaves at once; the others see us go. */
  leave(): void {
    this.#client.leave();
  }

  /** Closes without leaving (the page goes away): the server keeps our place for a while. */
  close(): void {
    clearInterval(this.#helloTimer);
    if (this.#client.state !== "closed") this.#client.close();
  }

  /** Ends the session for a reason of the meeting's own (e.g. it lost everyone). */
  abandon(end: MeetingEnd): void {
    this.#end(end);
    this.close();
  }

  #ended(): void {
    const kind = END_KINDS[this.#client.closeKind] ?? "error";
    this.#end({ kind, message: this.#client.closeReason });
  }

  #end(end: MeetingEnd): void {
    if (this.end.peek()) return;
    clearInterval(this.#helloTimer);
    batch(() => {
      this.end.value = end;
      this.state.value = "ended";
    });
  }
}
