/**
 * Signaling bench: the real server (`deno serve main.ts`, one isolate and `--parallel`) in a
 * subprocess, driven over 127.0.0.1 by R rooms × P peers of WebSocket clients in this process.
 *
 * Per server mode it measures
 * - the join ramp: socket open -> `welcome` latency and joins per second, with bounded concurrency;
 * - signaling per new pair: when a member joins, it sends each older member an offer, the older
 *   member answers and sends 5 ICE candidates, the newcomer sends its 5 candidates on the answer;
 *   time from the newcomer's `welcome` until both sides have everything;
 * - memory: server RSS before the first socket and with every socket open, per connection;
 * - relay throughput: every connection signals its room peers round-robin, kept under the rate
 *   limit, and messages are counted where they arrive;
 * - relay cost against idle rooms: the same active senders with and without idle rooms connected,
 *   as messages/s and server CPU time per delivered message.
 */
import { newRoomId } from "../signaling/room_id.ts";
import { clientMessage, PROTOCOL_VERSION, type ServerMessage } from "../signaling/protocol.ts";
import {
  machineCpuMs,
  openFileLimit,
  processCpuMs,
  type ServerMetrics,
  type SignalingServer,
  startSignalingServer,
} from "./signaling_server.ts";
import { int, ms, summarize, type Summary } from "./stats.ts";

export interface SignalingOptions {
  rooms: number;
  peers: number;
  /** Sockets connecting and joining at the same time during the ramp. */
  concurrency: number;
  /** Relay phases: a warm-up (not counted), then the measuring window. */
  relayWarmupS: number;
  relayS: number;
  /** Window of each of the two "active rooms with / without idle rooms" phases. */
  scaleS: number;
  /** Rooms that send in the idle-rooms comparison; the other rooms are the idle ones. */
  activeRooms: number;
  /** Signals per second each relaying connection sends: under the server's 50/s limit. */
  ratePerS: number;
  /** A sender waits while this many of its signals are undelivered, so no backlog builds up. */
  maxInFlight: number;
  /** ICE candidates each side sends per pair (the exchange phase). */
  candidates: number;
  modes: ServerMode[];
}

export type ServerMode = "single" | "parallel";

export const DEFAULT_SIGNALING: SignalingOptions = {
  rooms: 500,
  peers: 4,
  concurrency: 64,
  relayWarmupS: 1,
  relayS: 10,
  scaleS: 5,
  activeRooms: 100,
  ratePerS: 45,
  maxInFlight: 32,
  candidates: 5,
  modes: ["single", "parallel"],
};

/** The predecessor (Socket.IO, one process) measured on this machine; see FIELD-NOTES.md. */
export const PREDECESSOR = {
  joinsPerS: 307,
  pairP50Ms: 21,
  pairP99Ms: 88,
  memoryPerConnKB: 45,
  relayPerS: 7_560,
};

/** Bounds, so a broken server makes the bench fail fast instead of hanging. */
const CONNECT_TIMEOUT_MS = 10_000;
const WELCOME_TIMEOUT_MS = 10_000;
const RAMP_TIMEOUT_MS = 60_000;
const PAIRS_TIMEOUT_MS = 20_000;
/** Stop waiting for the exchanges when none has completed for this long (signals were lost). */
const PAIRS_STALL_MS = 3_000;
const DRAIN_TIMEOUT_MS = 3_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** Sockets each side of the bench needs besides the clients (server files, KV, pipes). */
const FD_HEADROOM = 200;

// Payloads of realistic size: the server relays them as opaque JSON.
const CANDIDATE = "candidate:842163049 1 udp 1677729535 127.0.0.1 54321 typ host generation 0 " +
  "ufrag EsAw network-id 1 network-cost 10";
/** About the size of a browser's offer for audio, video and a data channel (~2 KB). */
const SDP = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1 2",
  ...Array.from({ length: 40 }, (_, i) => `a=rtpmap:${96 + i} VP8/90000 a=rtcp-fb:${96 + i} nack`),
].join("\r\n");

/** Signal payloads. `p` names the pair (`newcomer>older`) so either side can find its record. */
type Payload =
  | { k: "offer"; p: string; sdp: string }
  | { k: "answer"; p: string; sdp: string }
  | { k: "cand"; p: string; from: "new" | "old"; c: string }
  | { k: "relay"; t: number; c: string };

interface Pair {
  /** The newcomer's `welcome`. */
  startedAt: number;
  /** Messages the newcomer got (answer + candidates) and the older member got (offer + candidates). */
  newGot: number;
  oldGot: number;
}

class Peer {
  ws: WebSocket | null = null;
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

  constructor(readonly room: string, readonly previous: Peer | null) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  send(text: string): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  signal(to: string, payload: Payload): boolean {
    return this.send(clientMessage({ type: "signal", to, payload }));
  }
}

export interface RelayResult {
  senders: number;
  /** Connections open on the server meanwhile (senders included). */
  connected: number;
  windowS: number;
  offeredPerS: number;
  delivered: number;
  deliveredPerS: number;
  /** Send -> receive, measured in this process. */
  latencyMs: Summary;
  /** Sent but never delivered (checked after the drain). */
  lost: number;
  /** Error frames received by code (rate-limited would mean the bench overran the limit). */
  errors: Record<string, number>;
  /** CPU over the window. */
  cpu: CpuUse;
  /** Server CPU time per delivered message. */
  serverCpuUsPerMsg: number;
}

export interface ModeResult {
  mode: ServerMode;
  label: string;
  isolates: number;
  /** 1-minute load average when the mode started (other work on the machine adds noise). */
  loadAverage: number;
  connections: number;
  joinFailures: number;
  joinFailureSamples: string[];
  /** `new WebSocket` -> open. */
  connectMs: Summary;
  /** Open (join sent) -> welcome. */
  joinMs: Summary;
  rampS: number;
  joinsPerS: number;
  /** CPU during the ramp. */
  rampCpu: CpuUse;
  pairs: { expected: number; completed: number; ms: Summary };
  /** Error frames of the ramp and the exchanges (unknown-peer = a signal was refused). */
  joinErrors: Record<string, number>;
  memory: { baselineKiB: number; loadedKiB: number; perConnKiB: number };
  relayAll: RelayResult;
  scale: { activeRooms: number; idleRooms: number; withIdle: RelayResult; noIdle: RelayResult };
  /** Cumulative over the run: signals relayed within an isolate and through KV, sockets per isolate. */
  server: ServerMetrics;
}

/** A bare Deno WebSocket echo server, measured like Mooz: what any Deno WebSocket costs. */
export interface FloorResult {
  connections: number;
  baselineKiB: number;
  loadedKiB: number;
  perConnKiB: number;
}

export interface SignalingReport {
  options: SignalingOptions;
  openFileLimit: number;
  notes: string[];
  floor: FloorResult | null;
  modes: ModeResult[];
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const sleep = (msDelay: number) => new Promise((resolve) => setTimeout(resolve, msDelay));

/** Polls `done` every 20 ms until true or `timeoutMs` passed; returns whether it became true. */
async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Like `waitFor`, but also gives up once `progress()` has not changed for `stallMs`. */
async function waitForProgress(
  done: () => boolean,
  progress: () => number,
  timeoutMs: number,
  stallMs: number,
): Promise<boolean> {
  let last = progress();
  let lastChange = performance.now();
  return await waitFor(() => {
    const now = progress();
    if (now !== last) [last, lastChange] = [now, performance.now()];
    return done() || performance.now() - lastChange > stallMs;
  }, timeoutMs) && done();
}

/** The 1-minute load average: other work on the machine makes every figure here noisier. */
async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0]) || 0;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** CPU used over a phase, in % of one core: the server, this bench, and all other processes. */
export interface CpuUse {
  server: number;
  bench: number;
  /** Other work on the machine competes for the same cores: high values make a run unreliable. */
  other: number;
  /** The server's CPU time over the phase, in ms. */
  serverMs: number;
}

async function cpuReading(server: SignalingServer) {
  const [serverMs, benchMs, machineMs] = await Promise.all([
    server.cpuMs(),
    processCpuMs(Deno.pid),
    machineCpuMs(),
  ]);
  return { serverMs, benchMs, machineMs, at: performance.now() };
}

/** Starts measuring; the returned function ends the measurement. */
async function cpuMeter(server: SignalingServer): Promise<() => Promise<CpuUse>> {
  const start = await cpuReading(server);
  return async () => {
    const end = await cpuReading(server);
    // CPU ms per wall ms × 100 = % of one core.
    const pct = (ms: number) => round1(ms / (end.at - start.at) * 100);
    const serverMs = end.serverMs - start.serverMs;
    const benchMs = end.benchMs - start.benchMs;
    return {
      server: pct(serverMs),
      bench: pct(benchMs),
      other: pct(Math.max(0, end.machineMs - start.machineMs - serverMs - benchMs)),
      serverMs,
    };
  };
}

const describeCpu = (c: CpuUse) =>
  `CPU: server ${c.server}%, bench ${c.bench}%, other processes ${c.other}%`;

/** Every client of one server run, and what they measure. */
class Swarm {
  readonly rooms: Peer[][];
  readonly byId = new Map<string, Peer>();
  readonly pairs = new Map<string, Pair>();
  readonly pairMs: number[] = [];
  readonly connectMs: number[] = [];
  readonly joinMs: number[] = [];
  readonly joinFailures: string[] = [];
  errors: Record<string, number> = {};
  /** Set during a relay phase: arrivals inside [from, to] are counted. */
  window: { from: number; to: number; delivered: number; latencies: number[] } | null = null;

  constructor(readonly server: SignalingServer, readonly opts: SignalingOptions) {
    this.rooms = Array.from({ length: opts.rooms }, () => {
      const room = newRoomId();
      const peers: Peer[] = [];
      for (let i = 0; i < opts.peers; i++) peers.push(new Peer(room, peers[i - 1] ?? null));
      return peers;
    });
  }

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

  async join(peer: Peer): Promise<void> {
    const created = performance.now();
    const ws = new WebSocket(this.server.wsUrl(peer.room));
    peer.ws = ws;
    ws.onmessage = (e: MessageEvent<string>) => this.onMessage(peer, e.data);
    const closed = new Promise<never>((_, reject) => {
      ws.onclose = (e) => {
        peer.closed = true;
        peer.onClosed?.();
        reject(new Error(`socket closed (${e.code} ${e.reason})`));
      };
    });
    closed.catch(() => {}); // only awaited while joining
    await withTimeout(
      Promise.race([new Promise((resolve) => (ws.onopen = resolve)), closed]),
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

  onMessage(peer: Peer, data: string): void {
    const msg = JSON.parse(data) as ServerMessage;
    switch (msg.type) {
      case "welcome": {
        peer.welcomedAt = performance.now();
        peer.id = msg.peer;
        this.byId.set(msg.peer, peer);
        // The newcomer starts a negotiation with every member already there.
        for (const member of msg.members) {
          if (member.peer === msg.peer) continue;
          const p = `${msg.peer}>${member.peer}`;
          this.pairs.set(p, { startedAt: peer.welcomedAt, newGot: 0, oldGot: 0 });
          peer.signal(member.peer, { k: "offer", p, sdp: SDP });
        }
        peer.onWelcome?.();
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
        return; // roster, pong
    }
  }

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
    // Complete when each side has the other's description and all of its candidates.
    if (pair.newGot === candidates + 1 && pair.oldGot === candidates + 1) {
      this.pairMs.push(now - pair.startedAt);
    }
  }

  /**
   * `senders` each signal their room peers round-robin at `ratePerS` (never more than
   * `maxInFlight` undelivered) for warm-up + window; arrivals in the window are counted.
   */
  async relay(senders: Peer[], windowS: number): Promise<RelayResult> {
    const { ratePerS, maxInFlight, relayWarmupS } = this.opts;
    const active = senders.filter((p) => p.others.length > 0);
    for (const p of active) {
      p.sent = p.delivered = p.credit = 0;
    }
    const errorsBefore = { ...this.errors };
    const start = performance.now();
    const w = {
      from: start + relayWarmupS * 1000,
      to: start + (relayWarmupS + windowS) * 1000,
      delivered: 0,
      latencies: [] as number[],
    };
    this.window = w;
    let windowSent = 0;
    // One timer for all senders; credit accrues with the real time between ticks, capped so a
    // late tick cannot burst (the server's bucket allows 100; this stays far below).
    const maxCredit = Math.max(2, ratePerS / 10);
    let last = start;
    const tick = () => {
      const now = performance.now();
      const gained = (now - last) / 1000 * ratePerS;
      last = now;
      const inWindow = now >= w.from && now <= w.to;
      for (const p of active) {
        p.credit = Math.min(maxCredit, p.credit + gained);
        while (p.credit >= 1 && p.sent - p.delivered < maxInFlight) {
          const to = p.others[p.next++ % p.others.length];
          if (!p.signal(to.id, { k: "relay", t: performance.now(), c: CANDIDATE })) break;
          p.credit--;
          p.sent++;
          if (inWindow) windowSent++;
        }
      }
    };
    const timer = setInterval(tick, 10);
    let cpu: CpuUse;
    try {
      await sleep(w.from - performance.now());
      const stopMeter = await cpuMeter(this.server);
      await sleep(w.to - performance.now());
      cpu = await stopMeter();
    } finally {
      clearInterval(timer);
    }
    // Let what is in flight arrive, so `lost` only counts real losses.
    await waitFor(() => active.every((p) => p.delivered >= p.sent), DRAIN_TIMEOUT_MS);
    this.window = null;
    const errors: Record<string, number> = {};
    for (const [code, n] of Object.entries(this.errors)) {
      if (n > (errorsBefore[code] ?? 0)) errors[code] = n - (errorsBefore[code] ?? 0);
    }
    return {
      senders: active.length,
      connected: this.joined.length,
      windowS,
      offeredPerS: Math.round(windowSent / windowS),
      delivered: w.delivered,
      deliveredPerS: Math.round(w.delivered / windowS),
      latencyMs: summarize(w.latencies),
      lost: active.reduce((sum, p) => sum + Math.max(0, p.sent - p.delivered), 0),
      errors,
      cpu,
      serverCpuUsPerMsg: round1(cpu.serverMs * 1000 / Math.max(1, w.delivered)),
    };
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

const MODE_LABELS: Record<ServerMode, string> = {
  single: "one isolate",
  parallel: "--parallel (2 isolates)",
};

function describeErrors(errors: Record<string, number>): string {
  return Object.entries(errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
}

function relayLine(r: RelayResult): string {
  const l = r.latencyMs;
  return `${int(r.deliveredPerS)} msg/s delivered (offered ${int(r.offeredPerS)}/s by ${
    int(r.senders)
  } senders, ${int(r.connected)} connected)  latency p50 ${ms(l.median)} p99 ${ms(l.p99)}\n` +
    `      ${describeCpu(r.cpu)}; server ${r.serverCpuUsPerMsg} µs CPU/msg` +
    `, lost ${r.lost}, errors: ${describeErrors(r.errors)}`;
}

async function runMode(
  root: URL,
  mode: ServerMode,
  opts: SignalingOptions,
  log: (line: string) => void,
): Promise<ModeResult> {
  const label = MODE_LABELS[mode];
  const load = await loadAverage();
  const server = await startSignalingServer(root, {
    parallel: mode === "parallel",
    jobs: 2,
    // Bench clients never report WebRTC links; without this the full-mesh policy would evict
    // them 20 s after joining. Everything else is the default configuration.
    env: { MOOZ_LINK_DEADLINE_MS: String(10 * 60_000) },
  });
  // Ctrl-C skips `finally`: stop the server (and delete its KV file) from the signal too.
  const onSigint = () => void server.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSigint);
  const swarm = new Swarm(server, opts);
  try {
    log(
      `\n[signaling: ${label}] deno serve main.ts pid ${server.pid} at ${server.origin} ` +
        `(load average ${load})`,
    );
    const baselineKiB = await server.rssKiB();

    const stopRampMeter = await cpuMeter(server);
    const { seconds: rampS } = await swarm.ramp();
    const rampCpu = await stopRampMeter();
    const connections = swarm.joinMs.length;
    const joinsPerS = connections / rampS;
    const j = summarize(swarm.joinMs);
    log(
      `  ramp: ${int(connections)} joined in ${rampS.toFixed(2)} s = ${int(joinsPerS)} joins/s ` +
        `(${opts.concurrency} at a time; ${describeCpu(rampCpu)})` +
        `, join p50 ${ms(j.median)} p99 ${ms(j.p99)}` +
        (swarm.joinFailures.length ? `, ${swarm.joinFailures.length} failed` : ""),
    );
    if (swarm.joinFailures.length) {
      log(`  join failures: ${[...new Set(swarm.joinFailures)].slice(0, 5).join("; ")}`);
    }

    // Each newcomer negotiates with every member already there: n(n-1)/2 pairs per room.
    const expectedPairs = swarm.rooms.reduce((sum, room) => {
      const n = room.filter((p) => p.id).length;
      return sum + n * (n - 1) / 2;
    }, 0);
    await waitForProgress(
      () => swarm.pairMs.length >= expectedPairs,
      () => swarm.pairMs.length,
      PAIRS_TIMEOUT_MS,
      PAIRS_STALL_MS,
    );
    const pairMs = summarize(swarm.pairMs);
    const joinErrors = { ...swarm.errors };
    log(
      `  pairs: ${int(swarm.pairMs.length)}/${int(expectedPairs)} exchanged offer, answer and ` +
        `${opts.candidates}+${opts.candidates} candidates: p50 ${ms(pairMs.median)} p99 ${
          ms(pairMs.p99)
        } max ${ms(pairMs.max)}, errors: ${describeErrors(joinErrors)}`,
    );

    const loadedKiB = await server.rssKiB();
    const perConnKiB = (loadedKiB - baselineKiB) / Math.max(1, connections);
    log(
      `  memory: RSS ${int(baselineKiB)} KiB before, ${int(loadedKiB)} KiB with ${
        int(connections)
      } sockets = ${perConnKiB.toFixed(1)} KiB per connection`,
    );

    log(`  relay, every connection sending (${opts.relayS} s):`);
    const relayAll = await swarm.relay(swarm.joined, opts.relayS);
    log(`    ${relayLine(relayAll)}`);

    // The same active rooms with the idle ones connected, then without them.
    const activeRooms = Math.min(opts.activeRooms, Math.max(1, Math.floor(opts.rooms / 5)));
    const active = swarm.rooms.slice(0, activeRooms);
    const idle = swarm.rooms.slice(activeRooms);
    log(
      `  relay cost vs idle rooms: ${activeRooms} rooms sending, ${idle.length} idle rooms, ` +
        `${opts.scaleS} s each:`,
    );
    const withIdle = await swarm.relay(active.flat(), opts.scaleS);
    log(`    with ${idle.length} idle rooms: ${relayLine(withIdle)}`);
    await swarm.leave(idle);
    // Let the server finish the leaves (KV writes, rosters) before measuring.
    await sleep(1_000);
    const noIdle = await swarm.relay(active.flat(), opts.scaleS);
    log(`    with 0 idle rooms:   ${relayLine(noIdle)}`);

    const metrics = await server.metrics();
    if (mode === "parallel") {
      const local = metrics.relayed.local ?? 0;
      const bus = metrics.relayed.bus ?? 0;
      log(
        `  server: sockets per isolate now ${metrics.connections.join(" / ")}; signals relayed ` +
          `within an isolate ${int(local)}, through KV ${int(bus)} (${
            Math.round(bus / Math.max(1, local + bus) * 100)
          }%)`,
      );
    }
    return {
      mode,
      label,
      isolates: server.isolates,
      loadAverage: load,
      connections,
      joinFailures: swarm.joinFailures.length,
      joinFailureSamples: [...new Set(swarm.joinFailures)].slice(0, 5),
      connectMs: summarize(swarm.connectMs),
      joinMs: j,
      rampS: Math.round(rampS * 1000) / 1000,
      joinsPerS: Math.round(joinsPerS),
      rampCpu,
      pairs: { expected: expectedPairs, completed: swarm.pairMs.length, ms: pairMs },
      joinErrors,
      memory: { baselineKiB, loadedKiB, perConnKiB: round1(perConnKiB) },
      relayAll,
      scale: { activeRooms, idleRooms: idle.length, withIdle, noIdle },
      server: metrics,
    };
  } catch (err) {
    log(`  server log:\n${server.log()}`);
    throw err;
  } finally {
    await swarm.close();
    await server.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/**
 * RSS per connection of `bench/ws_floor.ts` (a bare echo server), with the same ramp: each socket
 * sends one frame and waits for its echo, like a join waits for its welcome.
 */
async function measureFloor(
  root: URL,
  sockets: number,
  concurrency: number,
): Promise<FloorResult> {
  const server = await startSignalingServer(root, { parallel: false, entry: "bench/ws_floor.ts" });
  const open: WebSocket[] = [];
  try {
    const baselineKiB = await server.rssKiB();
    let next = 0;
    const worker = async () => {
      while (next < sockets) {
        next++;
        const ws = new WebSocket(server.wsUrl(newRoomId()));
        open.push(ws);
        await withTimeout(
          new Promise((resolve, reject) => {
            ws.onopen = () => ws.send(clientMessage({ type: "join", v: 1, name: "Bench" }));
            ws.onmessage = resolve;
            ws.onclose = () => reject(new Error("closed"));
          }),
          CONNECT_TIMEOUT_MS,
          "echo",
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const loadedKiB = await server.rssKiB();
    return {
      connections: sockets,
      baselineKiB,
      loadedKiB,
      perConnKiB: round1((loadedKiB - baselineKiB) / sockets),
    };
  } finally {
    let closing = open.filter((ws) => ws.readyState <= WebSocket.OPEN).length;
    for (const ws of open) {
      ws.onclose = () => closing--;
      ws.close();
    }
    await waitFor(() => closing <= 0, CLOSE_TIMEOUT_MS);
    await server.stop();
  }
}

export async function runSignalingBench(
  root: URL,
  options: SignalingOptions,
  log: (line: string) => void = console.log,
): Promise<SignalingReport> {
  const opts = { ...options };
  const notes: string[] = [];
  // Every client socket takes a file descriptor here and its peer one in the server; a soft limit
  // this process cannot raise would make connects fail midway, so scale the rooms down instead.
  const limit = await openFileLimit();
  const fit = Math.floor((limit - FD_HEADROOM) / opts.peers);
  if (fit < opts.rooms) {
    notes.push(
      `ulimit -n is ${limit}: ran ${fit} rooms instead of ${opts.rooms} (raise the limit to run all)`,
    );
    opts.rooms = Math.max(1, fit);
  }
  const sockets = opts.rooms * opts.peers;
  log(
    `\n[signaling] ${opts.rooms} rooms × ${opts.peers} peers = ${int(sockets)} sockets ` +
      `(ulimit -n ${limit}), ${opts.concurrency} joining at a time, relay at ${opts.ratePerS}/s ` +
      `per socket (limit 50/s), load generator: this process`,
  );
  notes.forEach((n) => log(`  note: ${n}`));

  const floor = await measureFloor(root, sockets, opts.concurrency);
  log(
    `\n[signaling: floor] bare Deno WebSocket echo server (bench/ws_floor.ts): RSS ${
      int(floor.baselineKiB)
    } KiB before, ${int(floor.loadedKiB)} KiB with ${int(sockets)} sockets = ${
      floor.perConnKiB.toFixed(1)
    } KiB per connection`,
  );

  const modes: ModeResult[] = [];
  for (const mode of opts.modes) modes.push(await runMode(root, mode, opts, log));
  return { options: opts, openFileLimit: limit, notes, floor, modes };
}

/** Ratio to the predecessor, e.g. "4.1×". */
const times = (value: number, base: number) => `${(value / base).toFixed(1)}×`;

/** Whether a mode lost anything: failed joins, unfinished exchanges, refused or lost signals. */
function problems(m: ModeResult): string[] {
  const out: string[] = [];
  if (m.joinFailures) out.push(`${m.joinFailures} joins failed`);
  if (m.pairs.completed < m.pairs.expected) {
    out.push(`${m.pairs.expected - m.pairs.completed} of ${m.pairs.expected} exchanges unfinished`);
  }
  const errors = { ...m.joinErrors };
  for (const r of [m.relayAll, m.scale.withIdle, m.scale.noIdle]) {
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    if (r.lost) out.push(`${r.lost} relayed signals lost`);
  }
  if (Object.keys(errors).length) out.push(`error frames: ${describeErrors(errors)}`);
  return out;
}

/** The README table: predecessor, then one column per server mode. */
export function signalingTable(report: SignalingReport): string {
  const { modes, options, floor } = report;
  const col = (f: (m: ModeResult) => string) => modes.map(f).join(" | ");
  const p = PREDECESSOR;
  const sockets = int(options.rooms * options.peers);
  const scale = modes[0]?.scale;
  const rows = [
    `| ${sockets} sockets, ${options.rooms} rooms × ${options.peers} | Predecessor (Socket.IO, ` +
    `1 process) | ${col((m) => `Mooz, ${m.label}`)} | Target |`,
    `| --- | --- | ${col(() => "---")} | --- |`,
    `| Joins/s (${options.concurrency} joining at a time) | ~${p.joinsPerS} | ${
      col((m) => `${int(m.joinsPerS)} (${times(m.joinsPerS, p.joinsPerS)})`)
    } | ≥ 3× |`,
    `| Join latency (open → welcome), p50 / p99 | n/a | ${
      col((m) => `${ms(m.joinMs.median)} / ${ms(m.joinMs.p99)}`)
    } | |`,
    `| Signaling complete per pair (offer, answer, ${options.candidates}+${options.candidates} ` +
    `candidates), p50 / p99 | ${p.pairP50Ms} ms / ${p.pairP99Ms} ms | ${
      col((m) =>
        `${ms(m.pairs.ms.median)} / ${ms(m.pairs.ms.p99)}` +
        (m.pairs.completed < m.pairs.expected
          ? ` (${m.pairs.expected - m.pairs.completed} unfinished)`
          : "")
      )
    } | |`,
    `| Server RSS per connection (all open − before) / sockets | ~${p.memoryPerConnKB} KB | ${
      col((m) =>
        `${m.memory.perConnKiB.toFixed(1)} KiB (${times(m.memory.perConnKiB, p.memoryPerConnKB)})`
      )
    } | ≤ 1/3 (15 KB) |`,
    ...(floor
      ? [
        `| Same for a bare Deno WebSocket echo server (floor) | n/a | ${
          col(() => `${floor.perConnKiB.toFixed(1)} KiB`)
        } | |`,
      ]
      : []),
    `| Relay throughput, every socket sending (≤ ${options.ratePerS}/s each) | ${
      int(p.relayPerS)
    } msg/s | ${
      col((m) =>
        `${int(m.relayAll.deliveredPerS)} msg/s (${
          times(m.relayAll.deliveredPerS, p.relayPerS)
        }), server CPU ${m.relayAll.cpu.server}%`
      )
    } | ≥ 3× |`,
    `| Relay latency at that load (server saturated), p50 / p99 | n/a | ${
      col((m) => `${ms(m.relayAll.latencyMs.median)} / ${ms(m.relayAll.latencyMs.p99)}`)
    } | |`,
  ];
  if (scale) {
    rows.push(
      `| Relay, ${scale.activeRooms} rooms sending + 0 idle: msg/s, server CPU per msg | n/a | ${
        col((m) => `${int(m.scale.noIdle.deliveredPerS)}, ${m.scale.noIdle.serverCpuUsPerMsg} µs`)
      } | |`,
      `| Same + ${scale.idleRooms} idle rooms (${int(scale.idleRooms * options.peers)} more ` +
        `sockets) | scanned every socket per message | ${
          col((m) =>
            `${int(m.scale.withIdle.deliveredPerS)}, ${m.scale.withIdle.serverCpuUsPerMsg} µs`
          )
        } | flat |`,
      `| Relay latency with ${scale.activeRooms} rooms sending, 0 idle, p50 / p99 | n/a | ${
        col((m) => `${ms(m.scale.noIdle.latencyMs.median)} / ${ms(m.scale.noIdle.latencyMs.p99)}`)
      } | |`,
    );
  }
  const issues = modes.flatMap((m) => problems(m).map((issue) => `${m.label}: ${issue}`));
  // Other work on the machine takes cores from the server and the load generator alike.
  const otherCpu = Math.max(
    0,
    ...modes.flatMap((m) =>
      [m.rampCpu, m.relayAll.cpu, m.scale.withIdle.cpu, m.scale.noIdle.cpu].map((c) => c.other)
    ),
  );
  return [
    ...rows,
    "",
    "Relay messages are ~190 B ICE-candidate payloads, offers and answers ~2 KB. The load " +
    "generator (one Deno process) and the server share the machine; other processes used up " +
    `to ${otherCpu}% of a core during the measured phases. ` +
    (issues.length ? `Problems: ${issues.join("; ")}.` : "No failed joins, unfinished " +
      "exchanges, error frames or lost signals in any phase."),
  ].join("\n");
}
