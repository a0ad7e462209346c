/**
 * Presence as a peer may send it: every field is type-checked, limits are inclusive, and only the
 * declared fields come through.
 *
 * The feature runs over TestMesh with media given as signals (Deno has no MediaStream); the
 * browser tests in tests/ cover it with real devices.
 */
import { signal } from "@preact/signals-core";
import assert from "node:assert/strict";
import { MAX_NAME_LENGTH } from "./checks.ts";
import { MAX_STREAM_ID_LENGTH, parsePresence, type Presence, presenceFeature } from "./presence.ts";
import { TestMesh } from "./testing.ts";

const KEYS = ["name", "audioMuted", "videoOff", "cameraStream", "screenStream"];

const presence: Presence = {
  name: "Ada",
  audioMuted: false,
  videoOff: true,
  cameraStream: "{0f8c6a1e-3b7d-4c55-9a2e-6d1f0b9e7c21}",
  screenStream: null,
};

/** What the validator sees: the JSON value a peer's text decodes to. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const presenceWith = (patch: Record<string, unknown>) => wire({ ...presence, ...patch });

Deno.test("parsePresence: a valid presence comes back as a fresh object of its five fields", () => {
  const body = presenceWith({});
  const parsed = parsePresence(body);
  assert.deepEqual(parsed, presence);
  assert.deepEqual(Object.keys(parsed!), KEYS);
  assert.notEqual(parsed, body);
  const sharing = { ...presence, audioMuted: true, videoOff: false, screenStream: "s-1" };
  assert.deepEqual(parsePresence(wire(sharing)), sharing);
  const nothing = { ...presence, cameraStream: null, screenStream: null };
  assert.deepEqual(parsePresence(wire(nothing)), nothing);
});

Deno.test("parsePresence: every field is type-checked", () => {
  for (
    const patch of [
      { name: "" },
      { name: "   " },
      { name: 7 },
      { name: null },
      { name: ["Ada"] },
      { name: "x".repeat(MAX_NAME_LENGTH + 1) },
      { name: "Ad\u0000a" },
      { name: "Ada\u202Emalloy" }, // bidi override
      { name: "Ada\u2066x" }, // bidi isolate
      { name: "\uD800" }, // lone surrogate
      { audioMuted: "false" },
      { audioMuted: 0 },
      { audioMuted: null },
      { videoOff: 0 },
      { videoOff: "true" },
      { videoOff: null },
      { cameraStream: "" },
      { cameraStream: 5 },
      { cameraStream: false },
      { cameraStream: "s".repeat(MAX_STREAM_ID_LENGTH + 1) },
      { cameraStream: ["s"] },
      { screenStream: {} },
      { screenStream: "" },
      { screenStream: 0 },
      { screenStream: "s".repeat(MAX_STREAM_ID_LENGTH + 1) },
    ]
  ) {
    assert.equal(parsePresence(presenceWith(patch)), null, `accepted ${JSON.stringify(patch)}`);
  }
  // A missing field is not null: each one must be there.
  for (const key of KEYS) {
    const body = wire(Object.fromEntries(Object.entries(presence).filter(([k]) => k !== key)));
    assert.equal(parsePresence(body), null, `accepted without ${key}`);
  }
  for (const body of [undefined, null, "Ada", 1, true, [], [presence]]) {
    assert.equal(parsePresence(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

Deno.test("parsePresence: limits are inclusive; the name counts code points and is trimmed", () => {
  const name = "😀".repeat(MAX_NAME_LENGTH); // 64 code points, 128 UTF-16 units
  assert.equal(parsePresence(presenceWith({ name }))?.name, name);
  assert.equal(parsePresence(presenceWith({ name: "  Ada\t" }))?.name, "Ada");
  assert.equal(parsePresence(presenceWith({ name: "x" }))?.name, "x");
  const stream = "s".repeat(MAX_STREAM_ID_LENGTH);
  assert.deepEqual(
    parsePresence(presenceWith({ cameraStream: stream, screenStream: stream })),
    { ...presence, cameraStream: stream, screenStream: stream },
  );
  assert.ok(parsePresence(presenceWith({ cameraStream: "s", screenStream: "t" })));
});

Deno.test("parsePresence: extra fields are dropped, handRaised included (it moved to hand)", () => {
  const parsed = parsePresence(
    presenceWith({ handRaised: true, token: "secret", peer: "someone-else", html: "<b>" }),
  );
  assert.deepEqual(parsed, presence);
  assert.deepEqual(Object.keys(parsed!), KEYS);
});

Deno.test("parsePresence: __proto__ keys neither pollute nor supply fields", () => {
  const json = JSON.stringify(presence).replace("{", '{"__proto__":{"polluted":true},');
  const parsed = parsePresence(JSON.parse(json));
  assert.ok(parsed);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.equal(Object.hasOwn(parsed, "__proto__"), false);
  assert.equal((parsed as unknown as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Fields reachable only through a JSON `__proto__` key do not count.
  assert.equal(parsePresence(JSON.parse(`{"__proto__":${JSON.stringify(presence)}}`)), null);
});

Deno.test("parsePresence: a presence at every limit fits the topic's 1,024-byte frame", () => {
  // The feature registers its topic with maxBytes 1024, so what a browser sends must fit: the
  // longest name in bytes (4-byte emoji, which JSON does not escape) and the longest stream ids
  // (ASCII: browsers make them UUIDs).
  const worst = {
    name: "😀".repeat(MAX_NAME_LENGTH),
    audioMuted: false,
    videoOff: false,
    cameraStream: "s".repeat(MAX_STREAM_ID_LENGTH),
    screenStream: "s".repeat(MAX_STREAM_ID_LENGTH),
  };
  assert.ok(parsePresence(wire(worst)));
  const frame = JSON.stringify({ t: "presence/state", b: worst });
  assert.ok(new TextEncoder().encode(frame).length <= 1024);
});

Deno.test("presence: a new link hears ours; changes reach everyone; a forged body changes nothing", async () => {
  const mediaOf = (id: string) => ({
    micOn: signal(true),
    video: signal<MediaStreamTrack | null>(null),
    screen: signal<MediaStream | null>(null),
    stream: { id },
  });
  const mesh = new TestMesh(["ada", "bob"]);
  const adaMedia = mediaOf("stream-ada");
  const ada = mesh.host("ada").create(presenceFeature(adaMedia));
  const bob = mesh.host("bob").create(presenceFeature(mediaOf("stream-bob")));
  mesh.connectAll();
  await mesh.flush();
  assert.deepEqual(bob.remote.value.get("ada"), {
    name: "Ada",
    audioMuted: false,
    videoOff: true,
    cameraStream: "stream-ada",
    screenStream: null,
  });
  assert.equal(ada.remote.value.get("bob")?.cameraStream, "stream-bob");

  adaMedia.micOn.value = false;
  await mesh.flush();
  assert.equal(bob.remote.value.get("ada")?.audioMuted, true);

  // Eve's client sends a presence claiming Ada's name and stream over her own link.
  const eve = mesh.add("eve");
  eve.create(presenceFeature(mediaOf("stream-eve")));
  mesh.connect("eve", "bob");
  mesh.inject("eve", "bob", JSON.stringify({ t: "presence/state", b: { name: 5 } }));
  await mesh.flush();
  assert.equal(bob.remote.value.get("ada")?.cameraStream, "stream-ada", "Ada's is untouched");
  assert.equal(bob.remote.value.get("eve")?.cameraStream, "stream-eve");
  assert.equal(mesh.host("bob").dropped.invalid, 1);

  mesh.remove("ada");
  assert.equal(bob.remote.value.has("ada"), false);
  mesh.host("bob").emit("ended", { kind: "left", message: "" });
});
