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
 * With the lobby on, the session first `waits`: it seals our name for the hosts as from the peer
 * id we will have, to `LOBBY_PEER` (`key_ring.ts`), and knocks with it. Hosts open knocks with
 * `openKnock`. The meeting key can change while the meeting runs (`useKey`: a host rotates it
 * after a removal); signals from members who have not switched yet still open for a while.
 *
 * `reconnecting` is not an end: the client keeps trying for as long as the page wants the
 * meeting, and the meeting goes on between the browsers meanwhile. Whether it has lost everyone
 * is for the meeting to judge (`LiveMeeting`), which then ends the session with `abandon`.
 */
import { batch, signal } from "@preact/signals-core";
import { SignalingClient } from "../signaling/client.ts";
import type {
  EvictedMessage,
  HostAction,
  JsonValue,
  KnockView,
  MemberView,
  MutedMessage,
  RoomView,
} from "../signaling/protocol.ts";
import { checkName, isObject } from "./checks.ts";
import { type OpenedKnock, type RingSession, SealRing } from "./key_ring.ts";
import type { OpenFailure } from "./seal.ts";
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
  /** This browser's secret for the meeting (`browser_secret.ts`), sent in every join. */
  secret?: string;
  /** Our sealed card for people about to join (`member_card.ts`), sent with fresh joins. */
  card?: JsonValue;
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
  /** A host turned our microphone, camera or screen share off: the meeting does the turning off. */
  onMuted?(muted: MutedMessage): void;
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

/** How the signaling client's close kinds map to what the end screen says. */
const END_KINDS: Record<string, MeetingEnd["kind"]> = {
  left: "left",
  "room-full": "room-full",
  "room-locked": "locked",
  denied: "denied",
  removed: "removed",
  "room-ended": "ended",
  evicted: "evicted",
  unreachable: "unreachable",
};

/** Knocks opened, remembered per knock id and payload (a lobby holds at most 16). */
const MAX_OPENED_KNOCKS = 64;

/** "Carol", "Carol and Dan", "Carol, Dan and Eve". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** How often a `hello` that got no hello back is said again, and how many times in all. */
const HELLO_AGAIN_MS = 2_000;
const HELLO_TIMES = 5;

/** How long a dropped member keeps its place, until the server's welcome says (PROTOCOL.md). */
const DEFAULT_GRACE_MS = 30_000;

/** One signaling session: joined once, resumed after brief drops, ended once. */
export class Session {
  readonly state = signal<"joining" | "waiting" | "joined" | "reconnecting" | "ended">("joining");
  readonly end = signal<MeetingEnd | null>(null);
  readonly self = signal<PeerId | null>(null);
  /** Everyone in the room, us included, in join order. */
  readonly members = signal<MemberView[]>([]);
  /** Room capacity, from the server. */
  readonly capacity = signal<number | null>(null);
  /** The room as of the latest welcome or roster: hosts, lock, lobby, removals. */
  readonly room = signal<RoomView | null>(null);
  /** Hosts only: who waits in the lobby, as the server lists them (knocks still sealed). */
  readonly knocks = signal<readonly KnockView[]>([]);
  /** Hosts only: pairs of members whose link reports disagree. */
  readonly disputes = signal<readonly [PeerId, PeerId][]>([]);
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
  readonly #ring: Promise<SealRing>;
  /** The sealing session of our current peer id (a new one if we ever rejoin afresh). */
  #seal: Promise<RingSession> | null = null;
  /** The current meeting key's bytes (the link's, until `useKey`). */
  #key: Uint8Array;
  /** Knocks opened so far, by key switch, knock id and payload. */
  readonly #opened = new Map<string, Promise<OpenedKnock>>();
  /** Key switches so far: a knock that did not open may open with the next key. */
  #keySwitches = 0;
  #sealSelf: PeerId | null = null;
  /** Members we have sent our `hello` to, as our current peer id, and how often. */
  #greeted = new Map<PeerId, number>();
  #helloTimer: ReturnType<typeof setInterval> | undefined;
  readonly #name: string;
  #graceMs = DEFAULT_GRACE_MS;

  constructor(opts: SessionOptions) {
    this.#name = opts.name;
    this.#key = opts.key;
    // No name for the server: it travels sealed (`hello`).
    const client = this.#client = new SignalingClient({
      url: opts.url,
      secret: opts.secret,
      card: opts.card,
      WebSocket: opts.WebSocket,
    });
    const ring = this.#ring = SealRing.create({ key: opts.key, room: opts.room });
    // A key the sealer refuses cannot happen (the link was checked before joining); if it did,
    // every signal would be dropped: say so once instead of failing silently.
    ring.catch((err) => opts.onError(`This meeting's key cannot be used: ${err.message}`));
    client.on("welcome", (w) =>
      batch(() => {
        // One sealing session per peer id: kept across resumes, new after a fresh join.
        if (w.peer !== this.#sealSelf) {
          this.#sealSelf = w.peer;
          this.#seal = ring.then((r) => r.session(w.peer));
          this.#greeted = new Map();
        }
        this.#graceMs = w.config.graceMs;
        this.self.value = w.peer;
        this.capacity.value = w.room.capacity;
        this.room.value = w.room;
        this.knocks.value = w.knocks ?? [];
        this.disputes.value = w.disputes ?? [];
        this.members.value = w.members;
        this.state.value = "joined";
        this.#greet(w.members);
        this.#helloTimer ??= setInterval(() => this.#greetAgain(), HELLO_AGAIN_MS);
      }));
    client.on("roster", (r) =>
      batch(() => {
        this.room.value = r.room;
        // Absent for members who are not hosts: nothing to show them.
        this.knocks.value = r.knocks ?? [];
        this.disputes.value = r.disputes ?? [];
        this.members.value = r.members;
        this.#greet(r.members);
      }));
    client.on("waiting", ({ knock }) => {
      this.state.value = "waiting";
      void this.#knock(knock);
    });
    client.on("muted", (m) => opts.onMuted?.(m));
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
      else if (s === "waiting") this.state.value = "waiting";
      else if (s === "closed") this.#ended();
    });
  }

  /** The current meeting key's bytes: the link's, or the last one `useKey` switched to. */
  get key(): Uint8Array {
    return this.#key;
  }

  /**
   * Switches to a new meeting key (from a host, after a removal): signals are sealed with it
   * from now on, and for `PREVIOUS_KEY_WINDOW_MS` (60 s) those sealed with the previous key
   * still open, so members who have not switched yet are not taken for unverified. Rejects for
   * a key the sealer refuses (`parseMeetingKey` it first).
   */
  async useKey(key: Uint8Array): Promise<void> {
    await (await this.#ring).useKey(key);
    this.#key = new Uint8Array(key);
    this.#keySwitches++;
  }

  /**
   * Sends a host action (the server checks that we are a host); false when not joined.
   */
  send(action: HostAction): boolean {
    return this.#client.send(action);
  }

  /**
   * Opens a knock as a host: the newcomer's sealed name, `verified: false` (name "") when it
   * does not open with the current key. Results are kept per key, knock id and payload.
   */
  openKnock(id: PeerId, payload: unknown): Promise<OpenedKnock> {
    const cacheKey = `${this.#keySwitches} ${id} ${JSON.stringify(payload)}`;
    let opened = this.#opened.get(cacheKey);
    if (!opened) {
      opened = this.#ring.then((r) => r.openKnock(id, payload), () => ({
        name: "",
        verified: false,
      }));
      this.#opened.set(cacheKey, opened);
      if (this.#opened.size > MAX_OPENED_KNOCKS) {
        this.#opened.delete(this.#opened.keys().next().value as string);
      }
    }
    return opened;
  }

  /** In the lobby: seals our name as from the peer id we will have, and knocks with it. */
  async #knock(knock: PeerId): Promise<void> {
    let payload;
    try {
      payload = await (await this.#ring).sealKnock(knock, this.#name);
    } catch (err) {
      return console.warn("The knock could not be sealed:", err);
    }
    // Still waiting as the same knock: after a drop the client knocks anew as another id.
    // An envelope is plain JSON (strings and a number); the type just lacks an index signature.
    const sealed = payload as unknown as JsonValue;
    if (this.#client.knock === knock) this.#client.send({ type: "knock", payload: sealed });
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
    const client = this.#client;
    const kind = END_KINDS[client.closeKind] ?? "error";
    const evicted = client.closeKind === "evicted" ? client.evicted : null;
    this.#end(evicted ? this.#evictedEnd(evicted) : { kind, message: client.closeReason });
  }

  /** An eviction as the end screen says it, with the names we know. */
  #evictedEnd(e: EvictedMessage): MeetingEnd {
    const names = this.names.peek();
    if (e.code === "kicked" || e.code === "ended") {
      const byName = e.by === undefined ? undefined : names.get(e.by);
      const who = byName ?? "A host";
      const end: MeetingEnd = e.code === "kicked"
        ? {
          kind: "removed",
          message: `${who} removed you from the meeting, so you cannot rejoin it.`,
        }
        : { kind: "ended", message: `${who} ended the meeting for everyone.` };
      if (e.by !== undefined) end.by = e.by;
      if (byName !== undefined) end.byName = byName;
      return end;
    }
    if (e.code === "mesh-incomplete" && e.unreachable?.length) {
      const unreachableNames = e.unreachable.flatMap((p) => names.get(p) ?? []);
      const whom = unreachableNames.length === e.unreachable.length
        ? listNames(unreachableNames)
        : e.unreachable.length === 1
        ? "one participant"
        : `${e.unreachable.length} participants`;
      return {
        kind: "evicted",
        message: `Your browser could not connect directly to ${whom} in time, so you were ` +
          "removed to keep the meeting whole. A VPN or strict firewall can block direct " +
          "connections; check your network and rejoin.",
        eviction: "mesh-incomplete",
        unreachable: e.unreachable,
        unreachableNames,
      };
    }
    return { kind: "evicted", message: e.reason, eviction: e.code };
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
