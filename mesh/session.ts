/**
 * The meeting's signaling session: joins the room through the signaling client, keeps the roster,
 * passes signals to the links and link reports to the server, and turns however the connection
 * ended into one typed `MeetingEnd`.
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
  expired: "unreachable",
};

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

  constructor(opts: SessionOptions) {
    const client = this.#client = new SignalingClient({
      url: opts.url,
      name: opts.name,
      WebSocket: opts.WebSocket,
    });
    client.on("welcome", (w) =>
      batch(() => {
        this.self.value = w.peer;
        this.capacity.value = w.room.capacity;
        this.members.value = w.members;
        this.state.value = "joined";
      }));
    client.on("roster", (r) => (this.members.value = r.members));
    client.on("signal", ({ from, payload }) => {
      if (from !== this.self.value) opts.onSignal(from, payload);
    });
    client.on("error", (e) => opts.onError(e.message));
    client.on("state", (s) => {
      if (s === "reconnecting") this.state.value = "reconnecting";
      else if (s === "joined") this.state.value = "joined";
      else if (s === "closed") this.#ended();
    });
  }

  /** Sends an opaque payload to one member. */
  signal(to: PeerId, payload: unknown): void {
    this.#client.signal(to, payload);
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

  #ended(): void {
    if (this.end.value) return;
    const kind = END_KINDS[this.#client.closeKind] ?? "error";
    batch(() => {
      this.end.value = { kind, message: this.#client.closeReason };
      this.state.value = "ended";
    });
  }
}
