/**
 * The load generator of the signaling bench: every simulated client of one server run, in this
 * process. It joins them in a ramp, plays both sides of each new pair's offer / answer / candidate
 * exchange as the server relays it, counts relay arrivals for `relay` (signaling_relay.ts), and
 * makes rooms leave or every socket close. What it measures stays in its arrays and counters.
 */
import { newRoomId } from "../signaling/room_id.ts";
import { clientMessage, PROTOCOL_VERSION, type ServerMessage } from "../signaling/protocol.ts";
import type { SignalingServer } from "./signaling_server.ts";
import {
  CLOSE_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  RAMP_TIMEOUT_MS,
  type SignalingOptions,
  WELCOME_TIMEOUT_MS,
} from "./signaling_options.ts";
import { NoDelaySocket } from "./nodelay_socket.ts";
import { CANDIDATE, type Payload, Peer, SDP } from "./signaling_peer.ts";
import { waitFor, withTimeout } from "./wait.ts";

interface Pair {
  /** The newcomer's `welcome`. */
  startedAt: number;
  /** Messages the newcomer got (answer + candidates) and the older member got (offer + candidates). */
  newGot: number;
  oldGot: number;
}

/** A relay phase's measuring window: arrivals inside [from, to] are counted. */
export interface RelayWindow {
  from: number;
  to: number;
  delivered: number;
  latencies: number[];
}

/** Every client of one server run, and what they measure. */
export class Swarm {
  readonly rooms: Peer[][];
  readonly byId = new Map<string, Peer>();
  readonly pairs = new Map<string, Pair>();
  readonly pairMs: number[] = [];
  /** Per newcomer with earlier members: its join sent → every one of its pairs exchanged. */
  readonly allPairsMs: number[] = [];
  readonly connectMs: number[] = [];
  readonly joinMs: number[] = [];
  readonly joinFailures: string[] = [];
  errors: Record<string, number> = {};
  /** Set during a relay phase: arrivals inside [from, to] are counted. */
  window: RelayWindow | null = null;

  /** `opts.rooms` fresh rooms of `opts.peers` peers each; nothing connects yet. */
  constructor(readonly server: SignalingServer, readonly opts: SignalingOptions) {
    this.rooms = Array.from({ length: opts.rooms }, () => {
      const room = newRoomId();
      const peers: Peer[] = [];
      for (let i = 0; i < opts.peers; i++) peers.push(new Peer(room, peers[i - 1] ?? null));
      return peers;
    });
  }

  /** Peers that joined and are still connected. */
  get joined(): Peer[] {
    return this.rooms.flat().filter((p) => p.id && !p.closed);
  }

  /**
   * Joins every peer, `concurrency` at a time, first peer of every room first, so members of one
   * room arrive apart, as people do. A member starts only once the previous member of its room
   * has its welcome (with few rooms it waits, with many it never does): each newcomer then finds
   * every earlier member in its welcome and negotiates each pair exactly once.
   */
  async ramp(): Promise<{ seconds: number }> {
    const jobs: Peer[] = [];
    for (let i = 0; i < this.opts.peers; i++) for (const room of this.rooms) jobs.push(room[i]);
    const started = performance.now();
    const deadline = started + RAMP_TIMEOUT_MS;
    let next = 0;
    let lastWelcome = started;
    const worker = async () => {
      while (next < jobs.length && performance.now() < deadline) {
        const peer = jobs[next++];
        await peer.previous?.settled;
        try {
          await this.join(peer);
          lastWelcome = Math.max(lastWelcome, peer.welcomedAt);
        } catch (err) {
          this.joinFailures.push(err instanceof Error ? err.message : String(err));
          peer.ws?.close();
        } finally {
          peer.settle();
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
    this.joinFailures.push(...jobs.slice(next).map(() => "not attempted: ramp time limit"));
    // Relay targets: the other members that did join.
    for (const room of this.rooms) {
      for (const peer of room) peer.others = room.filter((o) => o !== peer && o.id);
    }
    return { seconds: (lastWelcome - started) / 1000 };
  }

  /** Connects `peer` and joins its room; rejects on close or timeout. */
  async join(peer: Peer): Promise<void> {
    const created = performance.now();
    const ws = new NoDelaySocket(this.server.wsUrl(peer.room));
    peer.ws = ws;
    ws.onmessage = (e) => this.onMessage(peer, e.data);
    const closed = new Promise<never>((_, reject) => {
      ws.onclose = (e) => {
        peer.closed = true;
        peer.onClosed?.();
        reject(new Error(`socket closed (${e.code} ${e.reason})`));
      };
    });
    closed.catch(() => {}); // only awaited while joining
    await withTimeout(
      Promise.race([new Promise<void>((resolve) => (ws.onopen = resolve)), closed]),
      CONNECT_TIMEOUT_MS,
      "connect",
    );
    peer.openedAt = performance.now();
    this.connectMs.push(peer.openedAt - created);
    const welcomed = new Promise<void>((resolve) => (peer.onWelcome = resolve));
    ws.send(clientMessage({ type: "join", v: PROTOCOL_VERSION, name: "Bench" }));
    await withTimeout(Promise.race([welcomed, closed]), WELCOME_TIMEOUT_MS, "welcome");
    this.joinMs.push(peer.welcomedAt - peer.openedAt);
  }

  /** A server frame for `peer`: welcome starts its pairs, signals go on, errors are counted. */
  onMessage(peer: Peer, data: string): void {
    const msg = JSON.parse(data) as ServerMessage;
    switch (msg.type) {
      case "welcome": {
        peer.welcomedAt = performance.now();
        peer.id = msg.peer;
        this.byId.set(msg.peer, peer);
        // The newcomer starts a negotiation with every member already there.
        const others = msg.members.filter((m) => m.peer !== msg.peer).map((m) => m.peer);
        peer.pendingPairs = others.length;
        for (const other of others) {
          const p = `${msg.peer}>${other}`;
          this.pairs.set(p, { startedAt: peer.welcomedAt, newGot: 0, oldGot: 0 });
          peer.signal(other, { k: "offer", p, sdp: SDP });
        }
        if (this.opts.linkReports && others.length > 0) {
          peer.setLinks(Object.fromEntries(others.map((o) => [o, "connecting"])));
        }
        peer.onWelcome?.();
        return;
      }
      case "roster": {
        if (!this.opts.linkReports || !peer.id) return;
        // A browser starts a link to each newcomer it hears of and reports it connecting.
        const fresh = msg.members.filter((m) => m.peer !== peer.id && !(m.peer in peer.links));
        if (fresh.length > 0) {
          peer.setLinks(Object.fromEntries(fresh.map((m) => [m.peer, "connecting"])));
        }
        return;
      }
      case "signal":
        return this.onSignal(peer, msg.from, msg.payload as Payload);
      case "error":
        this.errors[msg.code] = (this.errors[msg.code] ?? 0) + 1;
        return;
      case "evicted":
        this.errors[`evicted:${msg.code}`] = (this.errors[`evicted:${msg.code}`] ?? 0) + 1;
        return;
      default:
        return; // pong
    }
  }

  /** A signal `peer` got from `from`: counts a relay arrival, or plays its side of the pair. */
  onSignal(peer: Peer, from: string, payload: Payload): void {
    const now = performance.now();
    if (payload.k === "relay") {
      const sender = this.byId.get(from);
      if (sender) sender.delivered++;
      const w = this.window;
      if (w && now >= w.from && now <= w.to) {
        w.delivered++;
        w.latencies.push(now - payload.t);
      }
      return;
    }
    const pair = this.pairs.get(payload.p);
    if (!pair) return;
    const candidates = this.opts.candidates;
    if (payload.k === "offer") {
      pair.oldGot++;
      peer.signal(from, { k: "answer", p: payload.p, sdp: SDP });
      for (let i = 0; i < candidates; i++) {
        peer.signal(from, { k: "cand", p: payload.p, from: "old", c: CANDIDATE });
      }
    } else if (payload.k === "answer") {
      pair.newGot++;
      for (let i = 0; i < candidates; i++) {
        peer.signal(from, { k: "cand", p: payload.p, from: "new", c: CANDIDATE });
      }
    } else if (payload.from === "old") pair.newGot++;
    else pair.oldGot++;
    // A side that has the other's description and all its candidates reports the link up.
    const mine = payload.k === "offer" || (payload.k === "cand" && payload.from === "new")
      ? pair.oldGot
      : pair.newGot;
    if (this.opts.linkReports && mine === candidates + 1) peer.setLinks({ [from]: "connected" });
    // Complete when each side has the other's description and all of its candidates.
    if (pair.newGot === candidates + 1 && pair.oldGot === candidates + 1) {
      this.pairMs.push(now - pair.startedAt);
      const newcomer = this.byId.get(payload.p.slice(0, payload.p.indexOf(">")));
      if (newcomer && --newcomer.pendingPairs === 0) {
        this.allPairsMs.push(now - newcomer.openedAt);
      }
    }
  }

  /** Members of `rooms` leave (no grace period) and their sockets close. */
  async leave(rooms: Peer[][]): Promise<void> {
    const peers = rooms.flat().filter((p) => p.ws && !p.closed);
    let open = peers.length;
    for (const p of peers) {
      p.onClosed = () => open--;
      p.send(clientMessage({ type: "leave" }));
    }
    await waitFor(() => open === 0, CLOSE_TIMEOUT_MS);
  }

  /** Closes every socket, waiting (bounded) for the close handshakes. */
  async close(): Promise<void> {
    const peers = this.rooms.flat().filter((p) => p.ws && !p.closed);
    let open = peers.length;
    for (const p of peers) {
      p.onClosed = () => open--;
      try {
        p.ws!.close(1000);
      } catch { /* already closing */ }
    }
    await waitFor(() => open === 0, CLOSE_TIMEOUT_MS);
  }
}
