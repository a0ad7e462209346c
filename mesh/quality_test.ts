import assert from "node:assert/strict";
import { linkQuality, type QualitySample } from "./quality.ts";

// Shapes as Chromium reports them (abridged to the fields that matter plus a few that do not).

function transport(selectedCandidatePairId: string) {
  return {
    id: "T01",
    type: "transport",
    timestamp: 1_700_000_000_000,
    dtlsState: "connected",
    iceState: "connected",
    selectedCandidatePairId,
    bytesSent: 123_456,
  };
}

function pair(
  id: string,
  fields: { rtt?: number; out?: number; nominated?: boolean; state?: string } = {},
) {
  return {
    id,
    type: "candidate-pair",
    timestamp: 1_700_000_000_000,
    transportId: "T01",
    localCandidateId: `I${id}L`,
    remoteCandidateId: `I${id}R`,
    state: fields.state ?? "succeeded",
    nominated: fields.nominated ?? true,
    writable: true,
    ...(fields.rtt === undefined ? {} : { currentRoundTripTime: fields.rtt }),
    ...(fields.out === undefined ? {} : { availableOutgoingBitrate: fields.out }),
    totalRoundTripTime: 1.2,
    responsesReceived: 30,
  };
}

function inbound(
  kind: "audio" | "video",
  ssrc: number,
  packetsReceived: number,
  packetsLost: number,
  audioLevel?: number,
) {
  return {
    id: `IT01${kind === "audio" ? "A" : "V"}${ssrc}`,
    type: "inbound-rtp",
    timestamp: 1_700_000_000_000,
    ssrc,
    kind,
    mid: kind === "audio" ? "0" : "1",
    transportId: "T01",
    codecId: "CIT01_111",
    packetsReceived,
    packetsLost,
    jitter: 0.003,
    bytesReceived: packetsReceived * 100,
    ...(audioLevel === undefined ? {} : { audioLevel, totalAudioEnergy: 0.5 }),
  };
}

const noise = [
  { id: "CIT01_111", type: "codec", mimeType: "audio/opus", clockRate: 48000 },
  { id: "ICPl", type: "local-candidate", candidateType: "host", protocol: "udp" },
  { id: "P", type: "peer-connection", dataChannelsOpened: 1 },
];

Deno.test("no stats at all: unknown, silent", () => {
  const { quality, audioLevel, sample } = linkQuality([]);
  assert.deepEqual(quality, { rttMs: null, loss: null, outgoingBitrate: null, level: "unknown" });
  assert.equal(audioLevel, 0);
  assert.equal(sample.inbound.size, 0);
});

Deno.test("the transport's selected pair is used, not other succeeded pairs", () => {
  const stats = [
    ...noise,
    pair("CPa", { rtt: 0.9, out: 100_000 }),
    transport("CPb"),
    pair("CPb", { rtt: 0.0423, out: 2_345_678 }),
  ];
  const { quality } = linkQuality(stats);
  assert.deepEqual(quality, { rttMs: 42, loss: null, outgoingBitrate: 2_345_678, level: "good" });
});

Deno.test("without a transport: a pair marked selected, else a nominated succeeded one", () => {
  const firefoxLike = [
    pair("a", { rtt: 0.5, nominated: true }),
    { ...pair("b", { rtt: 0.2 }), selected: true },
  ];
  assert.equal(linkQuality(firefoxLike).quality.rttMs, 200);
  const nominated = [
    pair("a", { rtt: 0.5, nominated: false }),
    pair("b", { rtt: 0.6, state: "in-progress" }),
    pair("c", { rtt: 0.3 }),
  ];
  assert.equal(linkQuality(nominated).quality.rttMs, 300);
  const none = [
    pair("a", { rtt: 0.5, nominated: false }),
    pair("b", { rtt: 0.5, state: "failed" }),
  ];
  assert.equal(linkQuality(none).quality.rttMs, null);
});

Deno.test("RTT falls back to remote-inbound-rtp when the pair has none", () => {
  const stats = [
    transport("CP1"),
    pair("CP1", { out: 500_000 }),
    { id: "RIA1", type: "remote-inbound-rtp", kind: "audio", roundTripTime: 0.12 },
    { id: "RIV1", type: "remote-inbound-rtp", kind: "video", roundTripTime: 0.16 },
  ];
  assert.equal(linkQuality(stats).quality.rttMs, 160);
});

Deno.test("first sample: loss from the totals over audio and video", () => {
  const stats = [
    transport("CP1"),
    pair("CP1", { rtt: 0.05 }),
    inbound("audio", 1, 950, 10),
    inbound("video", 2, 1030, 10),
  ];
  const { quality } = linkQuality(stats);
  assert.equal(quality.loss, 20 / 2000);
  assert.equal(quality.level, "good");
});

Deno.test("later samples: loss over the interval only", () => {
  const first = linkQuality([inbound("audio", 1, 10_000, 0), inbound("video", 2, 10_000, 0)]);
  assert.equal(first.quality.loss, 0);
  // 100 new packets, 10 of them lost: 10%, although the totals show 10 in 20,110 (0.05%).
  const second = linkQuality(
    [inbound("audio", 1, 10_050, 5), inbound("video", 2, 10_040, 5)],
    first.sample,
  );
  assert.equal(second.quality.loss, 0.1);
  assert.equal(second.quality.level, "poor");
  // Nothing arrived since: loss is unknown, not zero.
  const third = linkQuality(
    [inbound("audio", 1, 10_050, 5), inbound("video", 2, 10_040, 5)],
    second.sample,
  );
  assert.equal(third.quality.loss, null);
  assert.equal(third.quality.level, "unknown");
});

Deno.test("a new or restarted stream counts from its totals; a gone one is forgotten", () => {
  const first = linkQuality([inbound("audio", 1, 1000, 0), inbound("video", 2, 5000, 100)]);
  const second = linkQuality(
    [
      inbound("audio", 1, 1100, 0), // +100 received
      inbound("video", 2, 50, 2), // restarted: counters went backwards -> 52 from totals
      inbound("video", 3, 46, 2), // new (a screen share): 48 from totals
    ],
    first.sample,
  );
  assert.equal(second.quality.loss, 4 / 200);
  assert.deepEqual([...second.sample.inbound.keys()], ["IT01A1", "IT01V2", "IT01V3"]);
});

Deno.test("a late packet lowering packetsLost is no loss, not a restart", () => {
  const first = linkQuality([inbound("audio", 1, 10_000, 50)]);
  const second = linkQuality([inbound("audio", 1, 10_100, 49)], first.sample);
  assert.equal(second.quality.loss, 0);
});

Deno.test("negative packetsLost (duplicates) counts as no loss", () => {
  assert.equal(linkQuality([inbound("audio", 1, 100, -3)]).quality.loss, 0);
});

Deno.test("levels: thresholds for RTT and loss, each on its own and together", () => {
  const at = (rtt: number | undefined, received: number, lost: number) =>
    linkQuality([
      transport("CP1"),
      pair("CP1", { rtt }),
      ...(received + lost > 0 ? [inbound("audio", 1, received, lost)] : []),
    ]).quality.level;
  assert.equal(at(0.149, 0, 0), "good");
  assert.equal(at(0.15, 0, 0), "fair");
  assert.equal(at(0.399, 0, 0), "fair");
  assert.equal(at(0.4, 0, 0), "poor");
  assert.equal(at(undefined, 981, 19), "good"); // 1.9%
  assert.equal(at(undefined, 98, 2), "fair"); // 2%
  assert.equal(at(undefined, 921, 79), "fair"); // 7.9%
  assert.equal(at(undefined, 92, 8), "poor"); // 8%
  assert.equal(at(0.05, 90, 10), "poor"); // low RTT does not excuse 10% loss
  assert.equal(at(0.5, 1000, 0), "poor"); // no loss does not excuse 500 ms
  assert.equal(at(0.2, 97, 3), "fair");
  assert.equal(at(undefined, 0, 0), "unknown");
});

Deno.test("audio level: loudest inbound audio, clamped; video and missing levels ignored", () => {
  const level = (stats: Record<string, unknown>[]) => linkQuality(stats).audioLevel;
  assert.equal(level([inbound("audio", 1, 10, 0, 0.25), inbound("audio", 2, 10, 0, 0.5)]), 0.5);
  assert.equal(level([inbound("audio", 1, 10, 0)]), 0);
  assert.equal(level([{ ...inbound("video", 1, 10, 0), audioLevel: 0.9 }]), 0);
  assert.equal(level([inbound("audio", 1, 10, 0, 1.7)]), 1);
  assert.equal(level([inbound("audio", 1, 10, 0, Number.NaN)]), 0);
});

Deno.test("loosely typed fields are ignored rather than trusted", () => {
  const stats = [
    transport("CP1"),
    { ...pair("CP1"), currentRoundTripTime: "0.05", availableOutgoingBitrate: Infinity },
    { ...inbound("audio", 1, 0, 0), packetsReceived: "100", packetsLost: null },
  ];
  assert.deepEqual(linkQuality(stats).quality, {
    rttMs: null,
    loss: null,
    outgoingBitrate: null,
    level: "unknown",
  });
});

Deno.test("accepts an RTCStatsReport's values() iterator", () => {
  const report = new Map<string, Record<string, unknown>>(
    [transport("CP1"), pair("CP1", { rtt: 0.3, out: 1e6 })].map((s) => [s.id, s]),
  );
  const previous: QualitySample = { inbound: new Map() };
  const { quality } = linkQuality(report.values(), previous);
  assert.equal(quality.rttMs, 300);
  assert.equal(quality.level, "fair");
});
