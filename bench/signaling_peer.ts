/**
 * One simulated meeting participant of the signaling bench: its socket, its join state and its
 * relay counters, plus the signal payloads it exchanges. Payloads have realistic sizes because the
 * server relays them as opaque JSON, so their size is part of what is measured.
 */
import { NoDelaySocket } from "./nodelay_socket.ts";
import { clientMessage } from "../signaling/protocol.ts";

/** A host ICE candidate line as a browser sends it. */
export const CANDIDATE =
  "candidate:842163049 1 udp 1677729535 127.0.0.1 54321 typ host generation 0 " +
  "ufrag EsAw network-id 1 network-cost 10";
/** About the size of a browser's offer for audio, video and a data channel (~2 KB). */
export const SDP = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1 2",
  ...Array.from({ length: 40 }, (_, i) => `a=rtpmap:${96 + i} VP8/90000 a=rtcp-fb:${96 + i} nack`),
].join("\r\n");

/** Signal payloads. `p` names the pair (`newcomer>older`) so either side can find its record. */
export type Payload =
  | { k: "offer"; p: string; sdp: string }
  | { k: "answer"; p: string; sdp: string }
  | { k: "cand"; p: string; from: "new" | "old"; c: string }
  | { k: "relay"; t: number; c: string };

/** A bench client; the swarm drives it and records what it measures. */
export class Peer {
  ws: NoDelaySocket | null = null;
  id = "";
  /** Settles when this peer's join has succeeded or failed. */
  readonly settled: Promise<void>;
  settle!: () => void;
  openedAt = 0;
  welcomedAt = 0;
  closed = false;
  onWelcome: (() => void) | null = null;
  onClosed: (() => void) | null = null;
  /** The other members of the room, relay targets in turn. */
  others: Peer[] = [];
  next = 0;
  /** Relay: signals sent and delivered (counted by the receiver), and send credit at the rate. */
  sent = 0;
  delivered = 0;
  credit = 0;

  /** `previous` is the member of `room` that joins just before this one (null for the first). */
  constructor(readonly room: string, readonly previous: Peer | null) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  /** Sends if the socket is open; returns whether it was. */
  send(text: string): boolean {
    if (!this.ws || this.ws.readyState !== NoDelaySocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** This peer's link states, reported to the server as a browser does (`linkReports`). */
  links: Record<string, "connecting" | "connected"> = {};
  /** The newcomer's pairs not yet fully exchanged (join → all pairs signaled). */
  pendingPairs = 0;

  /** Sets link states and reports the whole map when that changed anything (as browsers do). */
  setLinks(states: Record<string, "connecting" | "connected">): void {
    let changed = false;
    for (const [peer, state] of Object.entries(states)) {
      if (this.links[peer] !== state) (this.links[peer] = state), changed = true;
    }
    if (changed) this.send(clientMessage({ type: "links", links: this.links }));
  }

  /** A `signal` message to peer `to`; returns whether it was sent. */
  signal(to: string, payload: Payload): boolean {
    return this.send(clientMessage({ type: "signal", to, payload }));
  }
}
