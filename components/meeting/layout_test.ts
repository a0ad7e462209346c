import assert from "node:assert/strict";
import { fit, GAP, gridLayout } from "./layout.ts";

const DESKTOP = { width: 1340, height: 560 };
const PHONE = { width: 366, height: 600 };

/** Each row's tile count, as a wrapping row of `rowWidth` px places `count` tiles. */
function rows(count: number, columns: number): number[] {
  const out: number[] = [];
  for (let left = count; left > 0; left -= columns) out.push(Math.min(columns, left));
  return out;
}

Deno.test("gridLayout: every tile fits the area, between 3:4 and 16:9", () => {
  for (const area of [DESKTOP, PHONE, { width: 800, height: 400 }, { width: 300, height: 900 }]) {
    for (let n = 1; n <= 12; n++) {
      const { columns, tile, rowWidth } = gridLayout(n, area);
      const lines = Math.ceil(n / columns);
      assert.ok(rowWidth <= area.width, `${n} in ${area.width}: row ${rowWidth}`);
      assert.ok(lines * tile.height + (lines - 1) * GAP <= area.height, `${n}: too tall`);
      const shape = tile.width / tile.height;
      assert.ok(shape <= 16 / 9 + 0.02 && shape >= 3 / 4 - 0.02, `${n}: shape ${shape}`);
      assert.ok(tile.width > 0);
    }
  }
});

Deno.test("gridLayout: 3 and 5 people leave no empty cell and use the space", () => {
  // Desktop: 3 side by side; 5 as a row of 3 and a row of 2 (the stage centres it).
  assert.deepEqual(rows(3, gridLayout(3, DESKTOP).columns), [3]);
  assert.deepEqual(rows(5, gridLayout(5, DESKTOP).columns), [3, 2]);
  // Phone (portrait): 3 stacked, 5 as 2 + 2 + 1.
  assert.deepEqual(rows(3, gridLayout(3, PHONE).columns), [1, 1, 1]);
  assert.deepEqual(rows(5, gridLayout(5, PHONE).columns), [2, 2, 1]);
  // The tiles are as large as the area allows in one direction at least.
  const { tile, rowWidth } = gridLayout(2, DESKTOP);
  assert.ok(rowWidth >= DESKTOP.width - 2 || tile.height >= DESKTOP.height - 2);
});

Deno.test("gridLayout: nothing to place, or no room, gives empty tiles", () => {
  assert.deepEqual(gridLayout(0, DESKTOP).tile, { width: 0, height: 0 });
  assert.deepEqual(gridLayout(3, { width: 0, height: 0 }).tile, { width: 0, height: 0 });
});

Deno.test("fit: the largest box of a shape inside an area", () => {
  assert.deepEqual(fit(16 / 9, { width: 366, height: 600 }), { width: 366, height: 205 });
  assert.deepEqual(fit(16 / 9, { width: 1340, height: 540 }), { width: 960, height: 540 });
  assert.deepEqual(fit(4 / 3, { width: 0, height: 100 }), { width: 0, height: 0 });
});
