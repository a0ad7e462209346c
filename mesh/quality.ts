/**
 * Link quality and speaking level from one peer connection's `getStats()`. Pass the report's
 * values (`report.values()`): iterating an `RTCStatsReport` itself yields [id, stats] pairs.
 */
import type { LinkQuality } from "./types.ts";

type Stats = Record<string, unknown>;

/** Cumulative inbound packet counters per RTP stream, to turn the next report into deltas. */
export interface QualitySample {
  inbound: Map<string, { lost: number; received: number }>;
}

export interface QualityResult {
  quality: LinkQuality;
  sample: QualitySample;
  /** Loudest inbound audio level, 0..1 (0 without audio): drives the active-speaker highlight. */
  audioLevel: number;
}

/** Finite number or null: stats fields are absent until media flows, and typed loosely here. */
function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The candidate pair in use: the one the transport names (Chromium, Safari), else the one marked
 * `selected` (Firefox), else a nominated pair whose checks succeeded.
 */
function selectedPair(transports: Stats[], pairs: Stats[]): Stats | undefined {
  const ids = transports.map((t) => t.selectedCandidatePairId);
  return pairs.find((p) => ids.includes(p.id)) ?? pairs.find((p) => p.selected === true) ??
    pairs.find((p) => p.nominated === true && p.state === "succeeded");
}

/** Thresholds as in common VoIP guidance: past 150 ms talk-over starts, past 400 ms it breaks. */
function level(rttMs: number | null, loss: number | null): LinkQuality["level"] {
  if (rttMs === null && loss === null) return "unknown";
  // A missing measure does not count against the link: judge by the one we have.
  const rtt = rttMs ?? 0;
  const lost = loss ?? 0;
  if (rtt < 150 && lost < 0.02) return "good";
  if (rtt < 400 && lost < 0.08) return "fair";
  return "poor";
}

export function linkQuality(
  stats: Iterable<Stats>,
  previous?: QualitySample,
): QualityResult {
  const transports: Stats[] = [];
  const pairs: Stats[] = [];
  const remoteRtts: number[] = [];
  const inbound: QualitySample["inbound"] = new Map();
  let lost = 0;
  let received = 0;
  let audioLevel = 0;

  for (const s of stats) {
    if (s.type === "transport") transports.push(s);
    else if (s.type === "candidate-pair") pairs.push(s);
    else if (s.type === "remote-inbound-rtp") {
      const rtt = num(s.roundTripTime);
      if (rtt !== null) remoteRtts.push(rtt);
    } else if (s.type === "inbound-rtp") {
      // RTCP can report negative loss (duplicates outnumbering losses); that is no loss.
      const total = {
        lost: Math.max(0, num(s.packetsLost) ?? 0),
        received: num(s.packetsReceived) ?? 0,
      };
      inbound.set(String(s.id), total);
      // Deltas since the previous sample; a new stream, or one whose received count went
      // backwards (restarted), counts from its totals. The lost count alone may go down a little:
      // a packet counted lost arrives late.
      const before = previous?.inbound.get(String(s.id));
      const fresh = !before || total.received < before.received;
      lost += fresh ? total.lost : Math.max(0, total.lost - before.lost);
      received += fresh ? total.received : total.received - before.received;
      const audio = num(s.audioLevel);
      if (s.kind === "audio" && audio !== null) audioLevel = Math.max(audioLevel, audio);
    }
  }

  const pair = selectedPair(transports, pairs);
  // Firefox's candidate pairs lack currentRoundTripTime; RTCP's round trip is next best.
  const rttSeconds = num(pair?.currentRoundTripTime) ??
    (remoteRtts.length > 0 ? Math.max(...remoteRtts) : null);
  const rttMs = rttSeconds === null ? null : Math.round(rttSeconds * 1000);
  // No packets in the interval says nothing about loss.
  const loss = lost + received > 0 ? lost / (lost + received) : null;
  return {
    quality: {
      rttMs,
      loss,
      outgoingBitrate: num(pair?.availableOutgoingBitrate),
      level: level(rttMs, loss),
    },
    sample: { inbound },
    audioLevel: Math.min(1, audioLevel),
  };
}
