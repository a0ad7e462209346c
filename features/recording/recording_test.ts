/**
 * Recording's engine: its validators and the policy rules; and the real feature on real feature
 * hosts joined by a TestMesh, each with a room whose hosts the test decides (it plays the
 * server), under attack by a member who forges who records and who may record.
 */
import assert from "node:assert/strict";
import { computed, type Signal, signal } from "@preact/signals-core";
import { defineFeature, type HostAction, type RoomControls } from "../../mesh/feature.ts";
import { sealEnvelope } from "../../mesh/envelope.ts";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import {
  createRecording,
  HOSTS_ONLY,
  isNewerPolicy,
  MAX_AGO_MS,
  MAX_ALLOWED,
  MAX_POLICY_VERSION,
  mayRecord,
  parseAsk,
  parsePolicy,
  parseRecordingState,
  type Recording,
} from "./recording.ts";

// Peer ids as the server makes them (16 characters), so that policies may name them.
const ADA = "adaAAAAAAAAAAAAA";
const BOB = "bobBBBBBBBBBBBBB";
const CID = "cidCCCCCCCCCCCCC";
const EVE = "eveEEEEEEEEEEEEE";
/** The names TestMesh gives them (its peer id, capitalised). */
const NAME: Record<string, string> = {
  [ADA]: "AdaAAAAAAAAAAAAA",
  [BOB]: "BobBBBBBBBBBBBBB",
  [CID]: "CidCCCCCCCCCCCCC",
  [EVE]: "EveEEEEEEEEEEEEE",
};

Deno.test("parseRecordingState: booleans and a bounded age, a fresh object, nothing else", () => {
  assert.deepEqual(parseRecordingState({ on: true, paused: false, ago: 0 }), {
    on: true,
    paused: false,
    ago: 0,
  });
  assert.deepEqual(parseRecordingState({ on: true, paused: true, ago: MAX_AGO_MS }), {
    on: true,
    paused: true,
    ago: MAX_AGO_MS,
  });
  // Off is off: no paused, no age.
  assert.deepEqual(parseRecordingState({ on: false, paused: true, ago: 5 }), {
    on: false,
    paused: false,
    ago: 0,
  });
  const parsed = parseRecordingState(
    JSON.parse(`{"on":true,"paused":false,"ago":3,"peer":"${ADA}","name":"Ada"}`),
  );
  assert.deepEqual(Object.keys(parsed!), ["on", "paused", "ago"], "extra fields never pass");
  for (
    const body of [
      { on: "true", paused: false, ago: 0 },
      { on: true, paused: 0, ago: 0 },
      { on: true, ago: 0 },
      { on: true, paused: false },
      { on: true, paused: false, ago: -1 },
      { on: true, paused: false, ago: 1.5 },
      { on: true, paused: false, ago: MAX_AGO_MS + 1 },
      { on: true, paused: false, ago: Number.NaN },
      { on: true, paused: false, ago: "5" },
      null,
      true,
      [true, false, 0],
    ]
  ) {
    assert.equal(parseRecordingState(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

Deno.test("parsePolicy: a version ≥ 1, a boolean, distinct peer ids; parseAsk: {}", () => {
  assert.deepEqual(parsePolicy({ v: 1, everyone: false, allowed: [BOB] }), {
    v: 1,
    everyone: false,
    allowed: [BOB],
  });
  assert.deepEqual(parsePolicy({ v: MAX_POLICY_VERSION, everyone: true, allowed: [] }), {
    v: MAX_POLICY_VERSION,
    everyone: true,
    allowed: [],
  });
  const many = Array.from({ length: MAX_ALLOWED + 1 }, (_, i) => `p${String(i).padStart(15, "0")}`);
  for (
    const body of [
      { v: 0, everyone: false, allowed: [] },
      { v: 1.5, everyone: false, allowed: [] },
      { v: MAX_POLICY_VERSION + 1, everyone: false, allowed: [] },
      { v: 1, everyone: "yes", allowed: [] },
      { v: 1, everyone: false, allowed: ["bob"] },
      { v: 1, everyone: false, allowed: [BOB, BOB] },
      { v: 1, everyone: false, allowed: many },
      { v: 1, everyone: false, allowed: "bob" },
      { v: 1, everyone: false },
      null,
    ]
  ) {
    assert.equal(parsePolicy(body), null, `accepted ${JSON.stringify(body)}`);
  }
  assert.deepEqual(parseAsk({}), {});
  assert.equal(parseAsk({ peer: ADA }), null);
  assert.equal(parseAsk(null), null);
  assert.equal(parseAsk([]), null);
});

Deno.test("mayRecord and isNewerPolicy: hosts always, then everyone or the allowed", () => {
  const allowBob = { v: 1, everyone: false, allowed: [BOB] };
  assert.equal(mayRecord(ADA, [ADA], HOSTS_ONLY), true);
  assert.equal(mayRecord(BOB, [ADA], HOSTS_ONLY), false);
  assert.equal(mayRecord(BOB, [ADA], allowBob), true);
  assert.equal(mayRecord(CID, [ADA], allowBob), false);
  assert.equal(mayRecord(CID, [ADA], { v: 2, everyone: true, allowed: [] }), true);
  assert.equal(mayRecord(null, [ADA], { v: 2, everyone: true, allowed: [] }), false);
  assert.equal(isNewerPolicy(HOSTS_ONLY, allowBob), true);
  assert.equal(isNewerPolicy(allowBob, allowBob), false);
  assert.equal(isNewerPolicy(allowBob, HOSTS_ONLY), false);
});

// ---------------------------------------------------------------------------------------------
// The feature in a meeting

/** A member's room: the hosts the test (the server) decides; no actions needed here. */
class FakeRoom implements RoomControls {
  readonly isHost;
  readonly locked = signal(false);
  readonly lobby = signal(false);
  readonly knocks = signal([]);
  readonly disputes = signal<[PeerId, PeerId][]>([]);
  readonly removals = signal([]);
  readonly key = signal("");
  readonly keyEpoch = signal(0);

  constructor(readonly self: PeerId, readonly hosts: Signal<PeerId[]>) {
    this.isHost = computed(() => hosts.value.includes(self));
  }

  act(_action: HostAction): boolean {
    return false;
  }

  useKey(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

class RecordingMeeting {
  readonly mesh = new TestMesh([]);
  readonly hosts = signal<PeerId[]>([]);
  readonly features = new Map<PeerId, Recording>();

  constructor(peers: PeerId[], hosts: PeerId[]) {
    this.hosts.value = hosts;
    for (const peer of peers) this.add(peer);
  }

  add(peer: PeerId): Recording {
    const room = new FakeRoom(peer, this.hosts);
    const feature = this.mesh.add(peer).create(
      defineFeature("recording", (ctx) => createRecording(ctx, room)),
    );
    this.features.set(peer, feature);
    return feature;
  }

  of(peer: PeerId): Recording {
    return this.features.get(peer)!;
  }

  /** Who `peer` shows as recording: names and paused flags. */
  shown(peer: PeerId): string[] {
    return this.of(peer).recorders.value.map((r) => `${r.name}${r.paused ? " (paused)" : ""}`);
  }
}

Deno.test("a recording is shown on every other page, by name, paused and stopped", async () => {
  const m = new RecordingMeeting([ADA, BOB, CID], [ADA]);
  m.mesh.connectAll();
  await m.mesh.flush();
  m.of(ADA).announce({ on: true, paused: false });
  await m.mesh.flush();
  for (const peer of [BOB, CID]) {
    assert.deepEqual(m.shown(peer), [NAME[ADA]]);
    assert.ok(
      m.mesh.notices(peer).some((n) => n.text === `${NAME[ADA]} started recording this meeting.`),
    );
  }
  assert.deepEqual(m.shown(ADA), [], "our own recording is `own`, not among the others");
  assert.equal(m.of(ADA).own.value.on, true);

  m.of(ADA).announce({ on: true, paused: true });
  await m.mesh.flush();
  assert.deepEqual(m.shown(BOB), [`${NAME[ADA]} (paused)`], "paused is still shown");
  assert.ok(m.mesh.notices(BOB).some((n) => n.text === `${NAME[ADA]} paused the recording.`));

  m.of(ADA).announce({ on: false, paused: false });
  await m.mesh.flush();
  assert.deepEqual(m.shown(BOB), []);
  assert.ok(m.mesh.notices(CID).some((n) => n.text === `${NAME[ADA]} stopped recording.`));
});

Deno.test("a newcomer sees a recording already running, with its start in the past", async () => {
  const m = new RecordingMeeting([ADA, BOB], [ADA]);
  m.mesh.connectAll();
  m.of(BOB).announce({ on: true, paused: false });
  await m.mesh.flush();
  const late = m.add(CID);
  m.mesh.connectAll();
  await m.mesh.flush();
  assert.deepEqual(late.recorders.value.map((r) => r.peer), [BOB]);
  assert.ok(late.recorders.value[0].since <= Date.now());
  // A recorder who leaves takes the indicator with them.
  m.mesh.remove(BOB);
  await m.mesh.flush();
  assert.deepEqual(late.recorders.value, []);
  assert.deepEqual(m.of(ADA).recorders.value, []);
});

Deno.test("attack: nobody can make another look like they record, nor hide another's", async () => {
  const m = new RecordingMeeting([ADA, BOB, EVE], [ADA]);
  m.mesh.connectAll();
  await m.mesh.flush();
  // Eve claims, in every field she can think of, that Ada records: it is Eve who is shown.
  m.mesh.inject(
    EVE,
    BOB,
    sealEnvelope("recording/state", { on: true, paused: false, ago: 0, peer: ADA, by: ADA }),
  );
  await m.mesh.flush();
  assert.deepEqual(m.of(BOB).recorders.value.map((r) => r.peer), [EVE]);
  assert.deepEqual(m.shown(BOB), [NAME[EVE]]);

  // Bob really records; Eve says "off" and "paused" about it: only her own entry changes.
  m.of(BOB).announce({ on: true, paused: false });
  await m.mesh.flush();
  m.mesh.inject(EVE, ADA, sealEnvelope("recording/state", { on: false, paused: false, ago: 0 }));
  m.mesh.inject(EVE, ADA, sealEnvelope("recording/state", { on: true, paused: true, ago: 0 }));
  await m.mesh.flush();
  assert.deepEqual(m.shown(ADA), [NAME[BOB], `${NAME[EVE]} (paused)`]);

  // Malformed and oversized announcements are dropped before the feature.
  const before = m.mesh.host(ADA).dropped.invalid + m.mesh.host(ADA).dropped["too-big"];
  m.mesh.inject(EVE, ADA, sealEnvelope("recording/state", { on: "no", paused: false, ago: 0 }));
  m.mesh.inject(
    EVE,
    ADA,
    sealEnvelope("recording/state", { on: false, paused: false, ago: 0, pad: "x".repeat(200) }),
  );
  await m.mesh.flush();
  assert.equal(m.mesh.host(ADA).dropped.invalid + m.mesh.host(ADA).dropped["too-big"], before + 2);
  assert.deepEqual(m.shown(ADA), [NAME[BOB], `${NAME[EVE]} (paused)`]);
});

Deno.test("policy: hosts decide; only a host's newer policy counts; a non-host is refused", async () => {
  const m = new RecordingMeeting([ADA, BOB, EVE], [ADA]);
  m.mesh.connectAll();
  await m.mesh.flush();
  assert.equal(m.of(ADA).allowed.value, true, "hosts may record");
  assert.equal(m.of(BOB).allowed.value, false, "others may not, by default");

  // Eve is no host: her policy, and her attempt to set one, change nothing.
  assert.equal(m.of(EVE).setPolicy({ everyone: true, allowed: [] }), false);
  m.mesh.inject(EVE, BOB, sealEnvelope("recording/policy", { v: 9, everyone: true, allowed: [] }));
  await m.mesh.flush();
  assert.equal(m.of(BOB).allowed.value, false);
  assert.equal(m.of(BOB).refused.value, 1);

  // Bob asks; Ada (host) hears it and allows him; everyone takes her policy.
  assert.equal(m.of(BOB).ask(), true);
  await m.mesh.flush();
  assert.deepEqual(m.of(ADA).asks.value, [BOB]);
  assert.ok(m.mesh.notices(ADA).some((n) => n.text.startsWith(`${NAME[BOB]} asks to record`)));
  assert.equal(m.of(ADA).setPolicy({ everyone: false, allowed: [BOB] }), true);
  await m.mesh.flush();
  assert.equal(m.of(BOB).allowed.value, true);
  assert.equal(m.of(EVE).allowed.value, false);
  assert.deepEqual(m.of(ADA).asks.value, [], "allowed: no longer waiting");

  // A replay of an older policy is refused.
  m.mesh.inject(ADA, BOB, sealEnvelope("recording/policy", { v: 1, everyone: true, allowed: [] }));
  await m.mesh.flush();
  assert.equal(m.of(BOB).policy.value.everyone, false);

  // A newcomer learns the policy from the host when its link opens.
  const late = m.add(CID);
  m.mesh.connectAll();
  await m.mesh.flush();
  assert.deepEqual(late.policy.value.allowed, [BOB]);

  // Taken back: Bob may no longer record.
  m.of(ADA).setPolicy({ everyone: false, allowed: [] });
  await m.mesh.flush();
  assert.equal(m.of(BOB).allowed.value, false);
});

Deno.test("asking: only hosts hear it, once per asker; non-hosts ignore a forged ask", async () => {
  const m = new RecordingMeeting([ADA, BOB, CID], [ADA]);
  m.mesh.connectAll();
  await m.mesh.flush();
  m.of(BOB).ask();
  m.of(BOB).ask();
  await m.mesh.flush();
  assert.deepEqual(m.of(ADA).asks.value, [BOB]);
  m.mesh.inject(BOB, CID, sealEnvelope("recording/ask", {}));
  await m.mesh.flush();
  assert.deepEqual(m.of(CID).asks.value, [], "not a host: no list");
  m.mesh.remove(BOB);
  await m.mesh.flush();
  assert.deepEqual(m.of(ADA).asks.value, [], "someone who left asks no more");
});
