/**
 * Recording's engine part, built only on the feature API: who is recording (everyone shows it,
 * and by whom), who may record (hosts decide), and requests to record. The recording itself is
 * made in the recorder's browser (recorder.ts, loaded when someone presses Record); this part only
 * says so to everyone and keeps everyone's view of it.
 *
 * Topics:
 * - `recording/state` `{ on, paused, ago }`: what a recorder announces, to everyone on every
 *   change and to each peer whose link opens. The recorder is always the link's peer, never a
 *   field of the message: nobody can make another person look like they record, nor hide
 *   another's recording. A peer who leaves takes its indicator with it.
 * - `recording/policy` `{ v, everyone, allowed }`: who may record, sent by hosts and taken only
 *   from peers the roster lists as hosts, and only when newer (`v`) than the one held.
 * - `recording/ask` `{}`: a request to record, sent to the hosts.
 *
 * What this cannot do: stop a modified client from recording without announcing it (or anyone
 * from filming their screen). It makes the honest recorder visible to everyone, unhideably.
 */
import { computed, effect, type ReadonlySignal, signal } from "@preact/signals-core";
import { isObject } from "../../mesh/checks.ts";
import { defineFeature, type FeatureContext, type RoomControls } from "../../mesh/feature.ts";
import type { PeerId } from "../../mesh/types.ts";
import { PEER_ID_PATTERN } from "../../signaling/protocol.ts";

/** A recorder's announcement: recording or not, paused, and how long ago it started (ms). */
export interface RecordingState {
  on: boolean;
  paused: boolean;
  /** Milliseconds since the recording started (0 when off). */
  ago: number;
}

/** Who may record: hosts always; everyone when `everyone`, else the peers in `allowed`. */
export interface RecordingPolicy {
  /** Version: a host's change takes the held version plus one; 0 is the default policy. */
  v: number;
  everyone: boolean;
  allowed: readonly PeerId[];
}

/** Someone else who records, as every page shows them. */
export interface Recorder {
  peer: PeerId;
  /** Their name from the roster (never from the message). */
  name: string;
  paused: boolean;
  /** When they started, on this page's clock (`Date.now()`). */
  since: number;
}

/** Longest recording a peer may claim to have been running (a day): bounds `ago`. */
export const MAX_AGO_MS = 86_400_000;
/** Largest policy version taken (one per host change; never reached honestly). */
export const MAX_POLICY_VERSION = 2 ** 31;
/** Most peers a policy may name (rooms hold at most 64). */
export const MAX_ALLOWED = 64;
/** An announcement older than this when it arrives is old news: shown without "started". */
export const NEWS_MS = 5_000;

/** The default: hosts only. */
export const HOSTS_ONLY: RecordingPolicy = { v: 0, everyone: false, allowed: [] };

/** Validator of `recording/state`: booleans `on` and `paused`, `ago` whole ms within a day. */
export function parseRecordingState(body: unknown): RecordingState | null {
  if (!isObject(body) || typeof body.on !== "boolean" || typeof body.paused !== "boolean") {
    return null;
  }
  const ago = body.ago;
  if (!Number.isSafeInteger(ago) || (ago as number) < 0 || (ago as number) > MAX_AGO_MS) {
    return null;
  }
  return { on: body.on, paused: body.on && body.paused, ago: body.on ? ago as number : 0 };
}

/** Validator of `recording/policy`: a version ≥ 1, a boolean, and distinct peer ids. */
export function parsePolicy(body: unknown): RecordingPolicy | null {
  if (!isObject(body) || typeof body.everyone !== "boolean") return null;
  const { v, allowed } = body;
  if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > MAX_POLICY_VERSION) {
    return null;
  }
  if (!Array.isArray(allowed) || allowed.length > MAX_ALLOWED) return null;
  if (!allowed.every((p) => typeof p === "string" && PEER_ID_PATTERN.test(p))) return null;
  if (new Set(allowed).size !== allowed.length) return null;
  return { v: v as number, everyone: body.everyone, allowed: [...allowed] as PeerId[] };
}

/** Validator of `recording/ask`: an empty object (who asks is the link's peer). */
export function parseAsk(body: unknown): Record<never, never> | null {
  return isObject(body) && Object.keys(body).length === 0 ? {} : null;
}

/** Whether `offer` replaces `held`: a larger version only (a host's change adds one). */
export function isNewerPolicy(held: RecordingPolicy, offer: RecordingPolicy): boolean {
  return offer.v > held.v;
}

/** Whether `peer` may record under `policy` in a room whose hosts are `hosts`. */
export function mayRecord(
  peer: PeerId | null,
  hosts: readonly PeerId[],
  policy: RecordingPolicy,
): boolean {
  if (peer === null) return false;
  return hosts.includes(peer) || policy.everyone || policy.allowed.includes(peer);
}

/** Our own recording as announced. */
export interface OwnRecording {
  on: boolean;
  paused: boolean;
  /** When it started (`Date.now()`), while on. */
  since: number;
}

/** The recording feature's instance: what the panel, the banner and the recorder read. */
export interface Recording {
  /** The others who record now, earliest first. */
  readonly recorders: ReadonlySignal<readonly Recorder[]>;
  /** Our own recording as we announced it. */
  readonly own: ReadonlySignal<OwnRecording>;
  /** Who may record. */
  readonly policy: ReadonlySignal<RecordingPolicy>;
  /** Whether we may record now (hosts always). */
  readonly allowed: ReadonlySignal<boolean>;
  /** Whether we are a host (hosts set the policy). */
  readonly isHost: ReadonlySignal<boolean>;
  /** Hosts only: who asked to record and is not allowed yet, oldest first. */
  readonly asks: ReadonlySignal<readonly PeerId[]>;
  /** Announcements and policies refused: forged, not from a host, or old (diagnostics, tests). */
  readonly refused: ReadonlySignal<number>;
  /** A peer's display name as last seen, or "Someone". */
  nameOf(peer: PeerId): string;
  /** Tells everyone we started, paused, resumed or stopped recording. */
  announce(state: { on: boolean; paused: boolean }): void;
  /** Hosts: changes who may record; false when not a host (nothing sent). */
  setPolicy(policy: { everyone: boolean; allowed: readonly PeerId[] }): boolean;
  /** Asks the hosts to let us record; false when there is no host to ask. */
  ask(): boolean;
}

/** The engine on a given `room` (the core's `ctx.room`; tests pass their own). */
export function createRecording(ctx: FeatureContext, room: RoomControls): Recording {
  const states = signal<ReadonlyMap<PeerId, { paused: boolean; since: number }>>(new Map());
  const own = signal<OwnRecording>({ on: false, paused: false, since: 0 });
  const policy = signal<RecordingPolicy>(HOSTS_ONLY);
  const asks = signal<readonly PeerId[]>([]);
  const refused = signal(0);
  const names = new Map<PeerId, string>();
  const nameOf = (peer: PeerId) => names.get(peer) || "Someone";

  const stateTopic = ctx.topic("state", {
    validate: parseRecordingState,
    maxBytes: 160,
    rate: { burst: 10, perSecond: 2 },
  });
  const policyTopic = ctx.topic("policy", {
    validate: parsePolicy,
    maxBytes: 2048,
    rate: { burst: 6, perSecond: 1 },
  });
  const askTopic = ctx.topic("ask", {
    validate: parseAsk,
    maxBytes: 32,
    rate: { burst: 2, perSecond: 0.1 },
  });

  const ownState = (): RecordingState => {
    const o = own.peek();
    return o.on
      ? { on: true, paused: o.paused, ago: Math.min(MAX_AGO_MS, Date.now() - o.since) }
      : { on: false, paused: false, ago: 0 };
  };

  const setState = (peer: PeerId, state: RecordingState | null) => {
    const current = states.peek();
    const had = current.get(peer);
    if (!state?.on) {
      if (!had) return;
      const next = new Map(current);
      next.delete(peer);
      states.value = next;
      if (state) ctx.notify("info", `${nameOf(peer)} stopped recording.`);
      return;
    }
    // The start time of a recording already shown stays; a late announcement does not move it.
    const since = had?.since ?? Date.now() - state.ago;
    if (had && had.paused === state.paused) return;
    const next = new Map(current).set(peer, { paused: state.paused, since });
    states.value = new Map([...next].sort((a, b) => a[1].since - b[1].since));
    if (!had) {
      ctx.notify(
        "info",
        state.ago > NEWS_MS
          ? `${nameOf(peer)} is recording this meeting.`
          : `${nameOf(peer)} started recording this meeting.`,
      );
    } else {
      ctx.notify(
        "info",
        state.paused
          ? `${nameOf(peer)} paused the recording.`
          : `${nameOf(peer)} resumed recording.`,
      );
    }
  };

  stateTopic.onMessage((from, state) => setState(from, state));

  policyTopic.onMessage((from, offer) => {
    const hosts = room.hosts.peek();
    if (from === ctx.self.peek() || !hosts.includes(from) || !isNewerPolicy(policy.peek(), offer)) {
      refused.value++;
      return;
    }
    policy.value = offer;
  });

  askTopic.onMessage((from) => {
    if (!room.isHost.peek()) {
      refused.value++;
      return;
    }
    if (asks.peek().includes(from) || mayRecord(from, room.hosts.peek(), policy.peek())) return;
    asks.value = [...asks.peek(), from];
    ctx.notify("info", `${nameOf(from)} asks to record. Open Recording to allow it.`);
  });

  // A new link hears our state and, from a host, who may record.
  ctx.on("link-open", (peer) => {
    stateTopic.send(peer, ownState());
    if (room.isHost.peek() && policy.peek().v > 0) policyTopic.send(peer, policy.peek());
  });
  ctx.on("peer-left", (peer) => {
    setState(peer, null);
    if (asks.peek().includes(peer)) asks.value = asks.peek().filter((p) => p !== peer);
  });

  const stops = [
    effect(() => {
      for (const p of ctx.peers.value) if (p.name) names.set(p.peer, p.name);
    }),
    // Someone allowed since they asked is no longer waiting.
    effect(() => {
      const p = policy.value;
      const hosts = room.hosts.value;
      const waiting = asks.peek().filter((peer) => !mayRecord(peer, hosts, p));
      if (waiting.length !== asks.peek().length) asks.value = waiting;
    }),
  ];
  ctx.on("ended", () => stops.forEach((stop) => stop()));

  return {
    recorders: computed(() =>
      [...states.value].map(([peer, s]) => ({
        peer,
        name: ctx.peers.value.find((p) => p.peer === peer)?.name || nameOf(peer),
        paused: s.paused,
        since: s.since,
      }))
    ),
    own,
    policy,
    allowed: computed(() => mayRecord(ctx.self.value, room.hosts.value, policy.value)),
    isHost: room.isHost,
    asks,
    refused,
    nameOf,
    announce({ on, paused }) {
      const o = own.peek();
      own.value = on
        ? { on: true, paused, since: o.on ? o.since : Date.now() }
        : { on: false, paused: false, since: 0 };
      stateTopic.send("all", ownState());
    },
    setPolicy({ everyone, allowed }) {
      if (!room.isHost.peek()) return false;
      const next: RecordingPolicy = {
        v: policy.peek().v + 1,
        everyone,
        allowed: [...new Set(allowed)].filter((p) => PEER_ID_PATTERN.test(p)).slice(
          0,
          MAX_ALLOWED,
        ),
      };
      policy.value = next;
      policyTopic.send("all", next);
      return true;
    },
    ask() {
      const hosts = room.hosts.peek().filter((h) => h !== ctx.self.peek());
      let sent = 0;
      for (const host of hosts) sent += askTopic.send(host, {});
      return sent > 0;
    },
  };
}

/** Recording: who records, shown to everyone; who may record, decided by hosts. */
export const recording = defineFeature<Recording>(
  "recording",
  (ctx) => createRecording(ctx, ctx.room),
);
