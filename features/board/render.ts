/**
 * How elements look: each element becomes SVG path data once (perfect-freehand outlines the
 * strokes), which both the canvas (`Path2D`) and the SVG export draw, so what is exported is what
 * was on the screen. Numbers are written with two decimals: the same document gives the same
 * SVG on every peer.
 */
import { getStroke } from "perfect-freehand";
import {
  type BoardElement,
  type Box,
  boxesOverlap,
  elementBox,
  LINE_HEIGHT,
  PALETTE,
  unionBox,
} from "./model.ts";
import type { Draft } from "./presence.ts";

/** What to draw for an element, in board pixels. */
export interface Drawable {
  /** SVG path data; empty for text. */
  d: string;
  /** Filled (strokes' outlines) or stroked (lines, shapes). */
  mode: "fill" | "stroke" | "text";
  color: string;
  opacity: number;
  width: number;
  /** Text: its lines, top left and font size. */
  text?: { lines: string[]; x: number; y: number; size: number };
  box: Box;
}

/** The board's font, the same in the canvas and the SVG. */
export const FONT_FAMILY = "ui-sans-serif, system-ui, sans-serif";
const HIGHLIGHTER_OPACITY = 0.35;

const num = (v: number) => {
  const s = v.toFixed(2);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
};

/** perfect-freehand's outline as a closed path of quadratic curves. */
function outlinePath(outline: number[][]): string {
  if (outline.length === 0) return "";
  const parts = ["M", num(outline[0][0]), num(outline[0][1]), "Q"];
  for (let i = 0; i < outline.length; i++) {
    const [x0, y0] = outline[i];
    const [x1, y1] = outline[(i + 1) % outline.length];
    parts.push(num(x0), num(y0), num((x0 + x1) / 2), num((y0 + y1) / 2));
  }
  parts.push("Z");
  return parts.join(" ");
}

/** What `drawableOf` needs: an element, or a stroke being drawn. */
type Shape = Pick<
  BoardElement,
  "kind" | "color" | "size" | "points" | "pressure" | "text" | "x" | "y"
>;

const cache = new WeakMap<object, Drawable>();

/** The drawable of an element (cached per element object: elements are replaced when changed). */
export function drawableOf(el: BoardElement): Drawable {
  let d = cache.get(el);
  if (!d) cache.set(el, d = makeDrawable(el, elementBox(el)));
  return d;
}

/** The drawable of a stroke or shape being drawn (ours or a peer's). */
export function draftDrawable(draft: Draft): Drawable {
  const p = draft.points;
  let points = p;
  if ((draft.kind === "rect" || draft.kind === "ellipse") && p.length === 4) {
    points = [
      Math.min(p[0], p[2]),
      Math.min(p[1], p[3]),
      Math.max(p[0], p[2]),
      Math.max(p[1], p[3]),
    ];
  }
  const shape: BoardElement = {
    id: draft.id,
    kind: draft.kind,
    z: 0,
    color: draft.color,
    size: draft.size,
    x: points[0] ?? 0,
    y: points[1] ?? 0,
    points,
    pressure: draft.pressure,
    text: "",
  };
  return makeDrawable(shape, elementBox(shape), false);
}

function makeDrawable(el: Shape, box: Box, last = true): Drawable {
  const color = PALETTE[el.color]?.hex ?? PALETTE[0].hex;
  const base = { color, opacity: 1, width: el.size, box };
  const p = el.points;
  switch (el.kind) {
    case "pen":
    case "highlighter": {
      const input: number[][] = [];
      for (let i = 0; i < p.length; i += 2) {
        input.push(el.pressure ? [p[i], p[i + 1], el.pressure[i / 2]] : [p[i], p[i + 1]]);
      }
      const pen = el.kind === "pen";
      const outline = getStroke(input, {
        size: el.size,
        thinning: pen ? 0.55 : 0,
        smoothing: 0.5,
        streamline: 0.45,
        simulatePressure: pen && !el.pressure,
        last,
      });
      return {
        ...base,
        mode: "fill",
        d: outlinePath(outline),
        opacity: pen ? 1 : HIGHLIGHTER_OPACITY,
      };
    }
    case "line":
      return {
        ...base,
        mode: "stroke",
        d: `M ${num(p[0])} ${num(p[1])} L ${num(p[2])} ${num(p[3])}`,
      };
    case "rect": {
      const [l, t, r, b] = p.map(num);
      return { ...base, mode: "stroke", d: `M ${l} ${t} H ${r} V ${b} H ${l} Z` };
    }
    case "ellipse": {
      const [l, t, r, b] = p;
      const rx = num((r - l) / 2), ry = num((b - t) / 2), cy = num((t + b) / 2);
      return {
        ...base,
        mode: "stroke",
        d: `M ${num(l)} ${cy} A ${rx} ${ry} 0 1 0 ${num(r)} ${cy} A ${rx} ${ry} 0 1 0 ${
          num(l)
        } ${cy} Z`,
      };
    }
    case "text":
      return {
        ...base,
        mode: "text",
        d: "",
        text: { lines: el.text.split("\n"), x: el.x, y: el.y, size: el.size },
      };
  }
}

// ---- Canvas ----

const paths = new WeakMap<Drawable, Path2D>();

/** Draws one drawable on a canvas whose transform maps board pixels already. */
export function drawOn(ctx: CanvasRenderingContext2D, d: Drawable, opacity = 1): void {
  ctx.globalAlpha = d.opacity * opacity;
  if (d.mode === "text" && d.text) {
    ctx.fillStyle = d.color;
    ctx.font = `${d.text.size}px ${FONT_FAMILY}`;
    ctx.textBaseline = "top";
    d.text.lines.forEach((line, i) => {
      ctx.fillText(line, d.text!.x, d.text!.y + i * d.text!.size * LINE_HEIGHT);
    });
    return;
  }
  let path = paths.get(d);
  if (!path) paths.set(d, path = new Path2D(d.d));
  if (d.mode === "fill") {
    ctx.fillStyle = d.color;
    ctx.fill(path);
  } else {
    ctx.strokeStyle = d.color;
    ctx.lineWidth = d.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.stroke(path);
  }
}

/** Draws the elements that touch `view` (board pixels), in order. */
export function drawElements(
  ctx: CanvasRenderingContext2D,
  elements: readonly BoardElement[],
  view: Box,
  fade?: ReadonlySet<string>,
): void {
  for (const el of elements) {
    const d = drawableOf(el);
    if (!boxesOverlap(d.box, view)) continue;
    drawOn(ctx, d, fade?.has(el.id) ? 0.25 : 1);
  }
  ctx.globalAlpha = 1;
}

// ---- Export ----

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Room around the drawing in exports, board pixels. */
const MARGIN = 16;

/** The area an export covers: every element with a margin (a small empty page for none). */
export function exportBox(elements: readonly BoardElement[]): Box {
  const box = unionBox(elements.map((e) => drawableOf(e).box));
  if (!box) return { minX: 0, minY: 0, maxX: 320, maxY: 240 };
  return {
    minX: Math.floor(box.minX - MARGIN),
    minY: Math.floor(box.minY - MARGIN),
    maxX: Math.ceil(box.maxX + MARGIN),
    maxY: Math.ceil(box.maxY + MARGIN),
  };
}

/** The board as an SVG document, white background, in stacking order. */
export function toSvg(elements: readonly BoardElement[]): string {
  const box = exportBox(elements);
  const w = box.maxX - box.minX, h = box.maxY - box.minY;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${box.minX} ${box.minY} ${w} ${h}" ` +
    `width="${w}" height="${h}">`,
    `<rect x="${box.minX}" y="${box.minY}" width="${w}" height="${h}" fill="#ffffff"/>`,
  ];
  for (const el of elements) {
    const d = drawableOf(el);
    const opacity = d.opacity === 1 ? "" : ` opacity="${d.opacity}"`;
    if (d.mode === "text" && d.text) {
      const { lines, x, y, size } = d.text;
      for (const [i, line] of lines.entries()) {
        out.push(
          `<text x="${num(x)}" y="${num(y + i * size * LINE_HEIGHT)}" font-size="${size}" ` +
            `font-family="${FONT_FAMILY}" dominant-baseline="hanging" fill="${d.color}"` +
            `${opacity} xml:space="preserve">${escapeXml(line)}</text>`,
        );
      }
    } else if (d.mode === "fill") {
      out.push(`<path d="${d.d}" fill="${d.color}"${opacity}/>`);
    } else {
      out.push(
        `<path d="${d.d}" fill="none" stroke="${d.color}" stroke-width="${d.width}" ` +
          `stroke-linecap="round" stroke-linejoin="round"${opacity}/>`,
      );
    }
  }
  out.push("</svg>");
  return out.join("\n");
}

/** Largest side of an exported PNG, pixels. */
const MAX_PNG_SIDE = 8192;

/** The board as a PNG (twice the board's resolution, within MAX_PNG_SIDE). */
export async function toPng(elements: readonly BoardElement[]): Promise<Blob> {
  const box = exportBox(elements);
  const w = box.maxX - box.minX, h = box.maxY - box.minY;
  const scale = Math.min(2, MAX_PNG_SIDE / w, MAX_PNG_SIDE / h);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(scale, 0, 0, scale, -box.minX * scale, -box.minY * scale);
  drawElements(ctx, elements, box);
  return await new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => blob ? resolve(blob) : reject(new Error("PNG export failed")),
      "image/png",
    )
  );
}
