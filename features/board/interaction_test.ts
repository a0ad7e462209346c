import assert from "node:assert/strict";
import { signal } from "@preact/signals-core";
import { BoardEngine } from "./engine.ts";
import { type BoardSettings, Interaction, type PointerInput, type Tool } from "./interaction.ts";
import { MAX_POINTS } from "./model.ts";

function setup(tool: Tool = "pen") {
  const engine = new BoardEngine();
  const settings: BoardSettings = {
    tool: signal(tool),
    color: signal(2),
    size: signal(1),
    view: signal({ x: 0, y: 0, zoom: 1 }),
  };
  let now = 1_000;
  const ui = new Interaction(engine, settings, () => now);
  return { engine, settings, ui, advance: (ms: number) => (now += ms) };
}

const at = (
  sx: number,
  sy: number,
  more: Partial<PointerInput> = {},
): PointerInput => ({
  id: 1,
  type: "mouse",
  sx,
  sy,
  pressure: 0.5,
  button: 0,
  shift: false,
  ...more,
});

function stroke(ui: Interaction, points: [number, number][], more: Partial<PointerInput> = {}) {
  ui.down(at(...points[0], more));
  for (const p of points.slice(1)) ui.move(at(...p, more));
  ui.up(at(...points.at(-1)!, more));
}

Deno.test("a pen stroke is a draft while drawn and one element, with the draft's id, once up", () => {
  const { engine, ui } = setup();
  try {
    ui.down(at(10, 10));
    ui.move(at(20, 15));
    const draft = ui.draft.value!;
    assert.deepEqual(draft.points, [10, 10, 20, 15]);
    assert.equal(draft.color, 2);
    assert.equal(draft.size, 4);
    assert.equal(engine.size, 0);
    ui.up(at(20, 15));
    assert.equal(ui.draft.value, null);
    assert.equal(engine.get(draft.id)?.points.length, 4);
  } finally {
    engine.dispose();
  }
});

Deno.test("a pen keeps its pressure; the view's zoom and pan map canvas pixels to the board", () => {
  const { engine, settings, ui } = setup();
  try {
    settings.view.value = { x: 100, y: 50, zoom: 2 };
    stroke(ui, [[0, 0], [10, 10], [20, 0]], { type: "pen", pressure: 0.8 });
    const [el] = engine.elements();
    assert.deepEqual(el.points, [100, 50, 105, 55, 110, 50]);
    assert.equal(el.pressure?.length, 3);
    assert.ok(Math.abs(el.pressure![0] - 0.8) < 0.01);
  } finally {
    engine.dispose();
  }
});

Deno.test("a palm on the screen while a pen is in use draws nothing", () => {
  const { engine, ui, advance } = setup();
  try {
    stroke(ui, [[0, 0], [10, 10]], { type: "pen", id: 5 });
    stroke(ui, [[50, 50], [60, 60]], { type: "touch", id: 6 });
    assert.equal(engine.size, 1);
    advance(2_000);
    stroke(ui, [[50, 50], [60, 60]], { type: "touch", id: 7 });
    assert.equal(engine.size, 2);
  } finally {
    engine.dispose();
  }
});

Deno.test("two fingers pan and zoom, and drop the stroke the first one began", () => {
  const { engine, settings, ui } = setup();
  try {
    ui.down(at(100, 100, { type: "touch", id: 1 }));
    ui.move(at(110, 100, { type: "touch", id: 1 }));
    ui.down(at(200, 100, { type: "touch", id: 2 }));
    assert.equal(ui.draft.value, null);
    ui.move(at(50, 100, { type: "touch", id: 1 }));
    ui.move(at(250, 100, { type: "touch", id: 2 }));
    // The fingers went from 90 px apart to 200: zoom ×2.2, the midpoint's board point stays.
    const v = settings.view.value;
    assert.ok(Math.abs(v.zoom - 200 / 90) < 1e-9);
    assert.ok(Math.abs(ui.toBoard(150, 100)[0] - 155) < 1e-9);
    ui.up(at(50, 100, { type: "touch", id: 1 }));
    ui.up(at(250, 100, { type: "touch", id: 2 }));
    assert.equal(engine.size, 0);
  } finally {
    engine.dispose();
  }
});

Deno.test("shapes: a drag draws, a click does not, shift makes squares and 45° lines", () => {
  const { engine, settings, ui } = setup("rect");
  try {
    stroke(ui, [[10, 10], [40, 20]], { shift: true });
    assert.deepEqual(engine.elements()[0].points, [10, 10, 40, 40]);
    stroke(ui, [[100, 100], [100.5, 100]]);
    assert.equal(engine.size, 1, "a click adds no shape");
    settings.tool.value = "line";
    stroke(ui, [[0, 0], [10, 9]], { shift: true });
    const line = engine.elements().find((e) => e.kind === "line")!;
    assert.ok(Math.abs(line.points[2] - line.points[3]) < 0.5);
  } finally {
    engine.dispose();
  }
});

Deno.test("a stroke over the point limit goes on as a new one", () => {
  const { engine, ui } = setup();
  try {
    const points: [number, number][] = Array.from({ length: MAX_POINTS + 10 }, (_, i) => [i, 0]);
    stroke(ui, points);
    assert.equal(engine.size, 2);
    const total = engine.elements().reduce((n, e) => n + e.points.length / 2, 0);
    assert.equal(total, MAX_POINTS + 10 + 1, "the second starts where the first ended");
  } finally {
    engine.dispose();
  }
});

Deno.test("select: click picks the topmost, drag moves it, a box selects what is inside, Delete erases", () => {
  const { engine, settings, ui } = setup();
  try {
    stroke(ui, [[0, 0], [100, 0]]);
    stroke(ui, [[0, 50], [100, 50]]);
    stroke(ui, [[300, 300], [310, 310]]);
    const [a, b, c] = engine.elements().map((e) => e.id);
    settings.tool.value = "select";
    stroke(ui, [[50, 1], [60, 11]]);
    assert.deepEqual([...ui.selection.value], [a]);
    assert.equal(engine.get(a)!.x, 10);
    assert.equal(engine.get(a)!.y, 10);
    stroke(ui, [[-20, 30], [150, 80]]);
    assert.deepEqual([...ui.selection.value], [b]);
    stroke(ui, [[290, 290], [320, 320]], { shift: true });
    assert.deepEqual([...ui.selection.value].sort(), [b, c].sort());
    assert.equal(ui.nudge(5, 0), true);
    assert.equal(engine.get(c)!.x, 305);
    ui.deleteSelection();
    assert.deepEqual(engine.elements().map((e) => e.id), [a]);
    engine.undo();
    assert.equal(engine.size, 3);
  } finally {
    engine.dispose();
  }
});

Deno.test("the eraser removes what it passes over, once, on pointer-up", () => {
  const { engine, settings, ui } = setup();
  try {
    stroke(ui, [[0, 0], [0, 100]]);
    stroke(ui, [[50, 0], [50, 100]]);
    stroke(ui, [[200, 0], [200, 100]]);
    settings.tool.value = "eraser";
    ui.down(at(-10, 50));
    ui.move(at(60, 50));
    assert.equal(ui.erasing.value.size, 2);
    assert.equal(engine.size, 3, "nothing goes before pointer-up");
    ui.up(at(60, 50));
    assert.equal(engine.size, 1);
    engine.undo();
    assert.equal(engine.size, 3, "one undo brings back one erase gesture");
  } finally {
    engine.dispose();
  }
});

Deno.test("text: a click opens it where it was, Enter adds it, an empty one adds nothing", () => {
  const { engine, settings, ui } = setup("text");
  try {
    settings.view.value = { x: 10, y: 10, zoom: 2 };
    ui.down(at(20, 40));
    ui.up(at(20, 40));
    assert.deepEqual(ui.editing.value, { x: 20, y: 30, size: 24, color: 2 });
    ui.commitText("Hello");
    assert.equal(engine.elements()[0].text, "Hello");
    ui.down(at(0, 0));
    ui.commitText("   ");
    assert.equal(engine.size, 1);
    assert.equal(ui.editing.value, null);
  } finally {
    engine.dispose();
  }
});

Deno.test("Esc drops the gesture under way, then the selection", () => {
  const { engine, settings, ui } = setup();
  try {
    ui.down(at(0, 0));
    ui.move(at(10, 10));
    assert.equal(ui.escape(), true);
    ui.up(at(10, 10));
    assert.equal(engine.size, 0);
    stroke(ui, [[0, 0], [10, 10]]);
    settings.tool.value = "select";
    stroke(ui, [[5, 5], [5, 5]]);
    assert.equal(ui.selection.value.size, 1);
    assert.equal(ui.escape(), true);
    assert.equal(ui.selection.value.size, 0);
    assert.equal(ui.escape(), false);
  } finally {
    engine.dispose();
  }
});

Deno.test("the wheel zooms about the pointer within limits; pan moves the view", () => {
  const { engine, settings, ui } = setup();
  try {
    const before = ui.toBoard(100, 100);
    ui.zoomAt(3, 100, 100);
    assert.deepEqual(ui.toBoard(100, 100), before);
    ui.zoomAt(100, 0, 0);
    assert.equal(settings.view.value.zoom, 8);
    const x = settings.view.value.x;
    ui.panBy(80, 0);
    assert.equal(settings.view.value.x, x + 10, "80 canvas pixels at zoom 8");
  } finally {
    engine.dispose();
  }
});
