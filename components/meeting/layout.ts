/**
 * Tile geometry for the stage: pure arithmetic on boxes in CSS pixels, so the layout can be
 * tested without a browser and the stage only measures its area and applies the result.
 *
 * @example Five people in a desktop-sized area
 * ```ts
 * const { columns, tile } = gridLayout(5, { width: 1340, height: 560 });
 * // columns 3: a row of three and a centred row of two, each tile `tile.width` × `tile.height`
 * ```
 */

/** A width and a height in CSS pixels. */
export interface Box {
  width: number;
  height: number;
}

/** Space between tiles, in px: the stage's `gap-3`. */
export const GAP = 12;

/** The widest tile shape: a camera's 16:9. */
const WIDEST = 16 / 9;

/** How many tiles go in a row, and the size of every tile. */
export interface GridLayout {
  columns: number;
  tile: Box;
  /** The width of a full row of tiles with their gaps (rows wrap at this width). */
  rowWidth: number;
}

/**
 * The largest equal tiles for `count` tiles in `area`. Every column count is tried and the one
 * giving the biggest tiles wins; a tile is at most 16:9 and, since cameras crop to fill it, at
 * least 4:3 in a landscape area or 3:4 in a portrait one (phones stack people in taller tiles).
 * The rows fill from the top and the last, shorter row is centred by the stage, so 3 or 5 people
 * never leave an empty cell.
 */
export function gridLayout(count: number, area: Box, gap = GAP): GridLayout {
  const narrowest = area.width >= area.height ? 4 / 3 : 3 / 4;
  let best: GridLayout = { columns: 1, tile: { width: 0, height: 0 }, rowWidth: 0 };
  for (let columns = 1; columns <= count; columns++) {
    const rows = Math.ceil(count / columns);
    let width = (area.width - gap * (columns - 1)) / columns;
    let height = (area.height - gap * (rows - 1)) / rows;
    if (width <= 0 || height <= 0) continue;
    if (width / height > WIDEST) width = height * WIDEST;
    else if (width / height < narrowest) height = width / narrowest;
    width = Math.floor(width);
    height = Math.floor(height);
    // Ties keep fewer columns: the same size in fewer, fuller rows.
    if (width * height > best.tile.width * best.tile.height) {
      best = { columns, tile: { width, height }, rowWidth: columns * width + (columns - 1) * gap };
    }
  }
  return best;
}

/** The largest box of shape `aspect` (width / height) inside `area`. */
export function fit(aspect: number, area: Box): Box {
  const width = Math.max(0, Math.min(area.width, area.height * aspect));
  return { width: Math.floor(width), height: Math.floor(width / aspect) };
}
