import assert from "node:assert/strict";
import type { RemotePeer } from "../../mesh/types.ts";
import { buildTiles, initials, type TileSources } from "./tiles.ts";

Deno.test("initials: one letter for one word, two for several, in any script", () => {
  const cases: [string, string][] = [
    ["Ada", "A"],
    ["ada", "A"],
    ["Ada Lovelace", "AL"],
    ["Ada King Lovelace", "AL"],
    ["  Ada   Lovelace  ", "AL"],
    ["Jean-Luc Picard", "JP"],
    ["(Ada)", "A"],
    ["Мария Иванова", "МИ"],
    ["李小龙", "李"],
    ["山田 太郎", "山太"],
    ["José Álvarez", "JÁ"],
    ["देवनागरी", "दे"], // a letter with its vowel sign is one character on screen
    ["Ada 🎉", "A"], // emoji beside a name are not initials
    ["🦊 Fox", "F"],
    ["🦊", "🦊"], // a name of symbols only shows its first symbol, whole
    ["👩‍💻", "👩‍💻"],
    ["", "?"],
    ["   ", "?"],
  ];
  for (const [name, want] of cases) assert.equal(initials(name), want, JSON.stringify(name));
});

function peer(id: string, fields: Partial<RemotePeer> = {}): RemotePeer {
  return {
    peer: id,
    name: id.toUpperCase(),
    link: "connected",
    online: true,
    verified: true,
    safetyCode: null,
    audioMuted: false,
    videoOff: false,
    camera: null,
    screen: null,
    quality: { rttMs: null, loss: null, outgoingBitrate: null, level: "unknown" },
    audioLevel: 0,
    ...fields,
  };
}

const SOURCES: TileSources = {
  self: "me",
  name: "Ada",
  camera: null,
  micOn: true,
  screen: null,
  selfLevel: 0,
  peers: [],
};

Deno.test("buildTiles: ours first, then each person's camera and screen in join order", () => {
  const screen = {} as MediaStream;
  const tiles = buildTiles({
    ...SOURCES,
    screen,
    peers: [peer("bob", { screen }), peer("cy", { videoOff: true })],
  });
  assert.deepEqual(tiles.map((t) => t.key), [
    "self:camera",
    "self:screen",
    "bob:camera",
    "bob:screen",
    "cy:camera",
  ]);
  assert.deepEqual(tiles.map((t) => t.self), [true, true, false, false, false]);
  assert.equal(tiles[0].videoOff, true, "our camera is off: no stream");
  assert.equal(tiles[3].videoOff, false, "a screen always has video");
  assert.equal(tiles[4].videoOff, true);
});

Deno.test("buildTiles: only the loudest unmuted person above the threshold is speaking", () => {
  const speaking = (src: Partial<TileSources>) =>
    buildTiles({ ...SOURCES, ...src }).filter((t) => t.speaking).map((t) => t.key);
  const peers = [
    peer("bob", { audioLevel: 0.3 }),
    peer("cy", { audioLevel: 0.6, audioMuted: true }),
    peer("dee", { audioLevel: 0.02 }),
  ];
  assert.deepEqual(speaking({ peers }), ["bob:camera"], "Cy is muted, Dee too quiet");
  assert.deepEqual(speaking({ peers, selfLevel: 0.5 }), ["self:camera"], "we are louder");
  assert.deepEqual(speaking({ peers, selfLevel: 0.1 }), ["bob:camera"]);
  assert.deepEqual(speaking({ peers, selfLevel: 0.5, micOn: false }), ["bob:camera"]);
  assert.deepEqual(speaking({ peers: [peer("dee", { audioLevel: 0.02 })] }), [], "silence");
});
