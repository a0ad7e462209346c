/** The recording's picture: grid, stage with a screen, speaker layout; tiles inside, apart. */
import assert from "node:assert/strict";
import type { TileModel } from "../../components/meeting/tiles.ts";
import { composeScene, type PlacedTile, SCENE_GAP } from "./scene.ts";

const SIZE = { width: 1280, height: 720 };

function tile(name: string, kind: "camera" | "screen" = "camera", self = false): TileModel {
  return {
    key: `${name}:${kind}`,
    peer: name,
    kind,
    name,
    self,
    stream: null,
    videoOff: true,
    muted: false,
    link: self ? "self" : "connected",
    online: true,
    verified: true,
    safetyCode: null,
    quality: null,
    speaking: false,
  };
}

/** Every tile inside the canvas, none overlapping another. */
function assertTidy(tiles: PlacedTile[]): void {
  for (const t of tiles) {
    assert.ok(t.x >= SCENE_GAP - 1 && t.y >= SCENE_GAP - 1, `${t.key} starts inside`);
    assert.ok(t.x + t.width <= SIZE.width - SCENE_GAP + 1, `${t.key} ends inside (x)`);
    assert.ok(t.y + t.height <= SIZE.height - SCENE_GAP + 1, `${t.key} ends inside (y)`);
    assert.ok(t.width > 0 && t.height > 0);
  }
  for (const [i, a] of tiles.entries()) {
    for (const b of tiles.slice(i + 1)) {
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y ||
        b.y + b.height <= a.y;
      assert.ok(apart, `${a.key} and ${b.key} overlap`);
    }
  }
}

Deno.test("composeScene: a grid of everyone, us included, rows centred", () => {
  for (let n = 1; n <= 10; n++) {
    const tiles = [
      tile("Me", "camera", true),
      ...Array.from({ length: n - 1 }, (_, i) => tile(`P${i}`)),
    ];
    const scene = composeScene(tiles, { layout: "grid", lastSpeaker: null, size: SIZE });
    assert.equal(scene.mode, "grid");
    assert.equal(scene.tiles.length, n);
    assertTidy(scene.tiles);
    assert.deepEqual(scene.tiles.map((t) => t.label), tiles.map((t) => t.name), "names, in order");
  }
  const three = composeScene([tile("A"), tile("B"), tile("C")], {
    layout: "grid",
    lastSpeaker: null,
    size: SIZE,
  });
  // Two rows (2 + 1): the lone tile of the second row sits in the middle.
  const last = three.tiles[2];
  assert.ok(Math.abs(last.x + last.width / 2 - SIZE.width / 2) <= 1, "the last row is centred");
});

Deno.test("composeScene: a shared screen takes the stage, whole; the others in a strip", () => {
  const tiles = [tile("Me", "camera", true), tile("Ada"), tile("Ada", "screen"), tile("Bob")];
  const scene = composeScene(tiles, { layout: "grid", lastSpeaker: null, size: SIZE });
  assert.equal(scene.mode, "stage");
  assertTidy(scene.tiles);
  const [main, ...strip] = scene.tiles;
  assert.equal(main.key, "Ada:screen");
  assert.equal(main.label, "Ada (screen)");
  assert.equal(main.fit, "contain");
  assert.ok(main.width > SIZE.width * 0.9, "the screen gets the width");
  assert.deepEqual(strip.map((t) => t.label), ["Me", "Ada", "Bob"]);
  for (const t of strip) {
    assert.ok(t.y > main.y + main.height - 1, "the strip is under the stage");
    assert.ok(t.width <= SIZE.width / 6);
  }
  // Our own screen goes on the stage too: the recording is for people who were not there.
  const ours = composeScene([tile("Me", "camera", true), tile("Me", "screen", true), tile("Bob")], {
    layout: "grid",
    lastSpeaker: null,
    size: SIZE,
  });
  assert.equal(ours.tiles[0].key, "Me:screen");
});

Deno.test("composeScene: the speaker layout puts the last speaker on the stage", () => {
  const tiles = [tile("Me", "camera", true), tile("Ada"), tile("Bob")];
  const spoke = composeScene(tiles, { layout: "speaker", lastSpeaker: "Bob:camera", size: SIZE });
  assert.equal(spoke.mode, "stage");
  assert.equal(spoke.tiles[0].key, "Bob:camera");
  assertTidy(spoke.tiles);
  const nobody = composeScene(tiles, { layout: "speaker", lastSpeaker: null, size: SIZE });
  assert.equal(nobody.tiles[0].key, "Ada:camera", "nobody spoke yet: the first other person");
  const alone = composeScene([tile("Me", "camera", true)], {
    layout: "speaker",
    lastSpeaker: null,
    size: SIZE,
  });
  assert.equal(alone.mode, "grid", "alone: just us");
});

Deno.test("composeScene: ten tiles in the strip still fit in one row", () => {
  const tiles = [tile("S", "screen"), ...Array.from({ length: 10 }, (_, i) => tile(`P${i}`))];
  const scene = composeScene(tiles, { layout: "grid", lastSpeaker: null, size: SIZE });
  assertTidy(scene.tiles);
  assert.equal(new Set(scene.tiles.slice(1).map((t) => t.y)).size, 1, "one row");
});
