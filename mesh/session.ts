/**
 * The meeting's signaling session: joins the room through the signaling client, keeps the roster,
 * passes signals to the links and link reports to the server, and turns however the connection
 * ended into one typed `MeetingEnd`.
 *
 * `reconnecting` is not an end: the client keeps trying for as long as the page wants the
 * meeting, and the meeting goes on between the browsers meanwhile. Whether it has lost everyone
 * is for the meeting to judge (`LiveMeeting`), which then ends the session with `abandon`.
 */
import { batch, signal } from "@preact/signals-core";
import { SignalingClient } from "../signaling/client.ts";
import type { MemberView } from "../signaling/protocol.ts";
import type { LinkState, MeetingEnd, PeerId } from "./types.ts";

/** Where to connect, as whom, and where signals and errors go. */
export interface SessionOptions {
  /** `ws(s)://host/api/rooms/{room}/ws`. */
  url: string;
  name: string;
  /** Signals from other members, unvalidated. */
  onSignal(from: PeerId, payload: unknown): void;
  /** A non-fatal error from the server, in words. */
  onError(message: string): void;
  /**
   * The server could not pass on a signal of ours to `peer` (busy or failing: `relay-busy`,
   * `relay-failed`); the link to it should redo what it needs.
   */
  onSignalLost?(peer: PeerId): void;
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
  readonly #client: SignalingClient;
  #graceMs = DEFAULT_GRACE_MS;

  constructor(opts: SessionOptions) {
    const client = this.#client = new SignalingClient({
      url: opts.url,
      name: opts.name,
      WebSocket: opts.WebSocket,
    });
    client.on("welcome", (w) =>
      batch(() => {
        this.#graceMs = w.config.graceMs;
        this.self.value = w.peer;
        this.capacity.value = w.room.capacity;
        this.members.value = w.members;
        this.state.value = "joined";
      }));
    client.on("roster", (r) => (this.members.value = r.members));
    client.on("signal", ({ from, payload }) => {
      if (from !== this.self.value) opts.onSignal(from, payload);
    });
    client.on("error", (e) => {
      // A signal to someone who left or is reconnecting: expected around every drop, and the
      // links redo what they need once that member is back (LiveMeeting), so nothing to show.
      if (e.code === "unknown-peer") return;
      // The server refused or lost one signal: its link redoes what it needs, quietly. Shown
      // only to a client that cannot say which link it was (an older server).
      if ((e.code === "relay-busy" || e.code === "relay-failed") && e.to && opts.onSignalLost) {
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

  /** Sends an opaque payload to one member; false when the server cannot be reached now. */
  signal(to: PeerId, payload: unknown): boolean {
    return this.#client.signal(to, payload);
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
    batch(() => {
      this.end.value = end;
      this.state.value = "ended";
    });
  }
}
