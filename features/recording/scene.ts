/**
 * Where each tile goes in the recording's picture: the meeting's tiles (components/meeting/
 * tiles.ts) laid out on a fixed canvas as the stage lays them out: a shared screen on the stage
 * with everyone else in a strip under it, else a grid (or, in the speaker layout, whoever spoke
 * last on the stage). Pure arithmetic, so it is tested without a browser.
 *
 * @example
 * ```ts
 * const scene = composeScene(tiles, { layout: "grid", lastSpeaker: null, size: { width: 1280, height: 720 } });
 * for (const t of scene.tiles) draw(t.stream, t.x, t.y, t.width, t.height, t.label);
 * ```
 */
import { type Box, fit, gridLayout } from "../../components/meeting/layout.ts";
import type { TileModel } from "../../components/meeting/tiles.ts";

/** A tile placed on the canvas. */
export interface PlacedTile {
  key: string;
  kind: "camera" | "screen";
  /** What the picture says under the tile: the name, "(screen)" for a screen. */
  label: string;
  /** The name alone (for initials when there is no picture). */
  name: string;
  stream: MediaStream | null;
  /** Draw the initials instead of the video. */
  videoOff: boolean;
  speaking: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Cameras fill their tile (cropped); screens fit whole inside it. */
  fit: "cover" | "contain";
}

/** The picture: a grid, or one tile on the stage with a strip of the others. */
export interface Scene {
  mode: "grid" | "stage";
  tiles: PlacedTile[];
}

export interface SceneOptions {
  /** The recorder's layout preference. */
  layout: "grid" | "speaker";
  /** Key of the tile of whoever spoke last (speaker layout). */
  lastSpeaker: string | null;
  size: Box;
}

/** Space between tiles and around the picture, px. */
export const SCENE_GAP = 12;
/** Strip tiles under the stage: 16:9, a sixth of the picture's width at most. */
const STRIP_ASPECT = 16 / 9;

function place(
  t: TileModel,
  box: { x: number; y: number; width: number; height: number },
): PlacedTile {
  return {
    key: t.key,
    kind: t.kind,
    label: t.kind === "screen" ? `${t.name} (screen)` : t.name,
    name: t.name,
    stream: t.stream,
    videoOff: t.videoOff || t.stream === null,
    speaking: t.speaking,
    ...box,
    fit: t.kind === "screen" ? "contain" : "cover",
  };
}

/**
 * Lays out `tiles` (ours included: the recording shows everyone as the others see them) on a
 * canvas of `opts.size`. The stage gets a shared screen (anyone's, ours too: the recording is
 * for people who were not there), else, in the speaker layout, whoever spoke last.
 */
export function composeScene(tiles: readonly TileModel[], opts: SceneOptions): Scene {
  const { width, height } = opts.size;
  const gap = SCENE_GAP;
  const inner = { width: width - 2 * gap, height: height - 2 * gap };
  const main = tiles.find((t) => t.kind === "screen") ??
    (opts.layout === "speaker" && tiles.length > 1
      ? tiles.find((t) => t.key === opts.lastSpeaker) ??
        tiles.find((t) => !t.self && t.kind === "camera")
      : undefined);
  if (!main) {
    const grid = gridLayout(tiles.length, inner, gap);
    const rows = Math.ceil(tiles.length / Math.max(1, grid.columns));
    const top = gap + (inner.height - (rows * grid.tile.height + (rows - 1) * gap)) / 2;
    const placed = tiles.map((t, i) => {
      const row = Math.floor(i / grid.columns);
      const inRow = Math.min(grid.columns, tiles.length - row * grid.columns);
      const rowWidth = inRow * grid.tile.width + (inRow - 1) * gap;
      const left = gap + (inner.width - rowWidth) / 2;
      return place(t, {
        x: Math.round(left + (i - row * grid.columns) * (grid.tile.width + gap)),
        y: Math.round(top + row * (grid.tile.height + gap)),
        width: grid.tile.width,
        height: grid.tile.height,
      });
    });
    return { mode: "grid", tiles: placed };
  }
  const rest = tiles.filter((t) => t !== main);
  // The strip: as many 16:9 tiles as there are others, a sixth of the width each at most,
  // smaller when they would not fit in one row.
  let stripHeight = 0;
  const placed: PlacedTile[] = [];
  if (rest.length > 0) {
    const tileWidth = Math.floor(
      Math.min(width / 6, (inner.width - (rest.length - 1) * gap) / rest.length),
    );
    const tileHeight = Math.floor(tileWidth / STRIP_ASPECT);
    stripHeight = tileHeight + gap;
    const rowWidth = rest.length * tileWidth + (rest.length - 1) * gap;
    const left = gap + (inner.width - rowWidth) / 2;
    rest.forEach((t, i) =>
      placed.push(place(t, {
        x: Math.round(left + i * (tileWidth + gap)),
        y: height - gap - tileHeight,
        width: tileWidth,
        height: tileHeight,
      }))
    );
  }
  const area = { width: inner.width, height: inner.height - stripHeight };
  // A screen gets the whole stage (drawn whole inside it); a camera the stage's 16:9 box.
  const box = main.kind === "screen" ? area : fit(16 / 9, area);
  placed.unshift(place(main, {
    x: Math.round(gap + (area.width - box.width) / 2),
    y: Math.round(gap + (area.height - box.height) / 2),
    width: box.width,
    height: box.height,
  }));
  return { mode: "stage", tiles: placed };
}
