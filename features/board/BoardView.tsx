/**
 * The whiteboard on screen: a toolbar (tools, colours, sizes, undo, zoom, clear, export, close)
 * and the drawing area, two canvases: the committed elements, redrawn when the document or the
 * view changes, and an overlay for what moves often (strokes being drawn here and by others,
 * cursors with names, the selection). Loaded with `import()` when the board is first opened.
 */
import { useSignal } from "@preact/signals";
import { effect, signal } from "@preact/signals-core";
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { ConfirmDialog } from "../../components/meeting/ConfirmDialog.tsx";
import { returnFocus } from "../../components/meeting/controls.ts";
import { Icon } from "../../components/meeting/icons.tsx";
import { preferences } from "../../components/meeting/preferences.ts";
import { SURFACE_CLASS } from "../../components/meeting/slots.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { Board, BoardDebug } from "./board.ts";
import type { BoardEngine } from "./engine.ts";
import {
  CLEAR_ICON,
  DOWNLOAD_ICON,
  REDO_ICON,
  TOOL_ICONS,
  UNDO_ICON,
  ZOOM_IN_ICON,
  ZOOM_OUT_ICON,
} from "./icons.ts";
import {
  type BoardSettings,
  Interaction,
  type PointerInput,
  SIZES,
  type Tool,
  type View,
} from "./interaction.ts";
import { type Box, LINE_HEIGHT, PALETTE } from "./model.ts";
import {
  draftDrawable,
  drawableOf,
  drawElements,
  drawOn,
  FONT_FAMILY,
  toPng,
  toSvg,
} from "./render.ts";

/** The tools, their names and keys. */
const TOOLS: { id: Tool; label: string; key: string }[] = [
  { id: "select", label: "Select", key: "V" },
  { id: "hand", label: "Pan", key: "H" },
  { id: "pen", label: "Pen", key: "P" },
  { id: "highlighter", label: "Highlighter", key: "I" },
  { id: "line", label: "Line", key: "L" },
  { id: "rect", label: "Rectangle", key: "R" },
  { id: "ellipse", label: "Ellipse", key: "O" },
  { id: "text", label: "Text", key: "T" },
  { id: "eraser", label: "Eraser", key: "E" },
];

/** Choices that outlive closing the board (for this page). */
const settings: BoardSettings = {
  tool: signal<Tool>("pen"),
  color: signal(0),
  size: signal(1),
  view: signal<View>({ x: 0, y: 0, zoom: 1 }),
};

/** Colours of other people's cursors, by their order in the meeting. */
const CURSOR_COLORS = ["#7c3aed", "#0891b2", "#c2410c", "#15803d", "#be123c", "#1d4ed8", "#a16207"];

const BUTTON =
  "flex h-9 w-9 shrink-0 items-center justify-center rounded-lg text-slate-100 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 disabled:opacity-40 disabled:hover:bg-transparent";
const PRESSED = "bg-indigo-600 text-white hover:bg-indigo-700";

const HELP =
  "Draw with the pointer, a pen or a finger; two fingers pan and zoom. Keys: V select, H pan, " +
  "P pen, I highlighter, L line, R rectangle, O ellipse, T text, E eraser, Control+Z undo, " +
  "Control+Shift+Z redo, Delete removes the selection, arrows move it (or pan), plus and minus " +
  "zoom, 0 resets the zoom.";

function ToolButton(
  { label, icon, pressed, onClick, keys, disabled, children }: {
    label: string;
    icon?: string;
    pressed?: boolean;
    onClick(): void;
    keys?: string;
    disabled?: boolean;
    children?: ComponentChildren;
  },
) {
  const shortcut = keys && (keys.includes("+") || preferences.shortcuts.value) ? keys : undefined;
  return (
    <button
      type="button"
      aria-label={label}
      aria-pressed={pressed}
      aria-keyshortcuts={shortcut}
      title={shortcut ? `${label} (${shortcut.replace("Control", "Ctrl")})` : label}
      disabled={disabled}
      onClick={onClick}
      class={`${BUTTON} ${pressed ? PRESSED : ""}`}
    >
      {icon ? <Icon path={icon} class="h-5 w-5" /> : children}
    </button>
  );
}

/** Downloads `blob` as `name`. */
function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The whiteboard, open. */
export function BoardView(
  { meeting, board, engine }: { meeting: MeetingCore; board: Board; engine: BoardEngine },
) {
  const interaction = useMemo(() => new Interaction(engine, settings), [engine]);
  const container = useRef<HTMLDivElement>(null);
  const area = useRef<HTMLDivElement>(null);
  const base = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const textField = useRef<HTMLTextAreaElement>(null);
  const size = useSignal({ width: 0, height: 0, dpr: 1 });
  const confirmClear = useSignal(false);
  const notice = useSignal("");
  /** Re-rendered on every document change (item count, undo state). */
  const version = engine.version.value;

  // Tests and diagnostics read the board through this (tests/MEETING_UI_CONTRACT.md).
  useEffect(() => {
    const debug = (globalThis as { __moozBoard?: BoardDebug & { interaction?: Interaction } })
      .__moozBoard;
    if (!debug) return;
    debug.svg = () => toSvg(engine.elements());
    debug.interaction = interaction;
  }, [engine]);

  // On opening, focus goes to the drawing area; on closing, back to the bar's button.
  useEffect(() => {
    area.current?.focus();
    const root = container.current;
    return () => returnFocus("board", root);
  }, []);

  // The canvases follow the area's size and the screen's pixel density.
  useEffect(() => {
    const el = area.current!;
    const observer = new ResizeObserver(() => {
      const r = el.getBoundingClientRect();
      size.value = { width: r.width, height: r.height, dpr: devicePixelRatio || 1 };
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // The committed elements: redrawn when the document, the view, the size or a gesture that
  // hides some of them (erasing, moving) changes.
  useEffect(() => {
    let frame = 0;
    const stop = effect(() => {
      engine.version.value;
      settings.view.value;
      size.value;
      interaction.erasing.value;
      interaction.moving.value !== null;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        interaction.pruneSelection();
        paintBase();
      });
    });
    return () => {
      stop();
      cancelAnimationFrame(frame);
    };
  }, [engine]);

  // The overlay: drafts, cursors, selection.
  useEffect(() => {
    let frame = 0;
    const stop = effect(() => {
      engine.presence.value;
      engine.version.value;
      settings.view.value;
      size.value;
      interaction.draft.value;
      interaction.selection.value;
      interaction.marquee.value;
      interaction.moving.value;
      meeting.peers.value;
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        paintOverlay();
      });
    });
    return () => {
      stop();
      cancelAnimationFrame(frame);
    };
  }, [engine]);

  // The wheel must be able to prevent scrolling the page: a non-passive listener.
  useEffect(() => {
    const el = area.current!;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? r.height : 1;
      if (e.ctrlKey || e.metaKey) {
        interaction.zoomAt(
          Math.exp(-e.deltaY * unit * 0.01),
          e.clientX - r.left,
          e.clientY - r.top,
        );
      } else {
        interaction.panBy(e.deltaX * unit, e.deltaY * unit);
      }
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, [interaction]);

  useEffect(() => () => engine.setPresence(null), [engine]);

  const viewBox = (): Box => {
    const v = settings.view.peek();
    const { width, height } = size.peek();
    return { minX: v.x, minY: v.y, maxX: v.x + width / v.zoom, maxY: v.y + height / v.zoom };
  };

  /** A canvas's 2D context, sized and mapped to board pixels. */
  const prepare = (canvas: HTMLCanvasElement | null): CanvasRenderingContext2D | null => {
    if (!canvas) return null;
    const { width, height, dpr } = size.peek();
    const w = Math.round(width * dpr), h = Math.round(height * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return null;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const v = settings.view.peek();
    ctx.setTransform(dpr * v.zoom, 0, 0, dpr * v.zoom, -v.x * v.zoom * dpr, -v.y * v.zoom * dpr);
    return ctx;
  };

  const paintBase = () => {
    const ctx = prepare(base.current);
    if (!ctx || size.peek().width === 0) return;
    const start = performance.now();
    const moving = interaction.moving.peek() ? interaction.selection.peek() : null;
    const elements = moving
      ? engine.elements().filter((e) => !moving.has(e.id))
      : engine.elements();
    drawElements(ctx, elements, viewBox(), interaction.erasing.peek());
    const debug = (globalThis as { __moozBoard?: BoardDebug }).__moozBoard;
    const end = performance.now();
    if (debug) debug.painted = { at: end, ms: end - start, elements: elements.length };
  };

  const paintOverlay = () => {
    const ctx = prepare(overlay.current);
    if (!ctx) return;
    const zoom = settings.view.peek().zoom;
    const draft = interaction.draft.peek();
    if (draft) drawOn(ctx, draftDrawable(draft));
    const peers = meeting.peers.peek();
    for (const [peer, p] of engine.presence.peek()) {
      if (p.draft && !engine.get(p.draft.id)) drawOn(ctx, draftDrawable(p.draft));
      ctx.globalAlpha = 1;
      if (!p.cursor) continue;
      const index = peers.findIndex((q) => q.peer === peer);
      const name = peers[index]?.name || "Someone";
      const color = CURSOR_COLORS[Math.max(0, index) % CURSOR_COLORS.length];
      const [x, y] = p.cursor;
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(x, y, 4 / zoom, 0, Math.PI * 2);
      ctx.fill();
      const font = 12 / zoom;
      ctx.font = `600 ${font}px ${FONT_FAMILY}`;
      ctx.textBaseline = "top";
      const w = ctx.measureText(name).width;
      ctx.fillRect(x + 6 / zoom, y + 6 / zoom, w + 8 / zoom, font * LINE_HEIGHT + 4 / zoom);
      ctx.fillStyle = "#ffffff";
      ctx.fillText(name, x + 10 / zoom, y + 8 / zoom);
    }
    const moving = interaction.moving.peek();
    const selected = interaction.selection.peek();
    if (moving) {
      ctx.save();
      ctx.translate(moving[0], moving[1]);
      for (const id of selected) {
        const el = engine.get(id);
        if (el) drawOn(ctx, drawableOf(el));
      }
      ctx.restore();
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#4f46e5";
    ctx.lineWidth = 1.5 / zoom;
    ctx.setLineDash([6 / zoom, 4 / zoom]);
    for (const id of selected) {
      const el = engine.get(id);
      if (!el) continue;
      const b = drawableOf(el).box;
      const [dx, dy] = moving ?? [0, 0];
      const pad = 4 / zoom;
      ctx.strokeRect(
        b.minX + dx - pad,
        b.minY + dy - pad,
        b.maxX - b.minX + 2 * pad,
        b.maxY - b.minY + 2 * pad,
      );
    }
    const marquee = interaction.marquee.peek();
    if (marquee) {
      ctx.fillStyle = "rgba(79, 70, 229, 0.08)";
      ctx.fillRect(
        marquee.minX,
        marquee.minY,
        marquee.maxX - marquee.minX,
        marquee.maxY - marquee.minY,
      );
      ctx.strokeRect(
        marquee.minX,
        marquee.minY,
        marquee.maxX - marquee.minX,
        marquee.maxY - marquee.minY,
      );
    }
    ctx.setLineDash([]);
  };

  // ---- Events ----

  const input = (e: PointerEvent): PointerInput => {
    const r = area.current!.getBoundingClientRect();
    const type = e.pointerType === "pen" || e.pointerType === "touch" ? e.pointerType : "mouse";
    return {
      id: e.pointerId,
      type,
      sx: e.clientX - r.left,
      sy: e.clientY - r.top,
      pressure: e.pressure,
      button: e.button,
      shift: e.shiftKey,
    };
  };

  const onPointerDown = (e: PointerEvent) => {
    if (e.button > 2) return;
    area.current?.focus({ preventScroll: true });
    if (interaction.editing.peek()) {
      // A click elsewhere ends the text being typed (blur commits it).
      textField.current?.blur();
    }
    try {
      area.current?.setPointerCapture(e.pointerId);
    } catch {
      // A synthetic or already released pointer: nothing to capture.
    }
    interaction.down(input(e));
    e.preventDefault();
  };
  const onPointerMove = (e: PointerEvent) => {
    const trail = typeof e.getCoalescedEvents === "function"
      ? e.getCoalescedEvents().slice(0, -1).map(input)
      : [];
    interaction.move(input(e), trail);
  };
  const onPointerUp = (e: PointerEvent) => interaction.up(input(e));
  const onPointerCancel = (e: PointerEvent) => interaction.cancel(input(e));

  const setTool = (tool: Tool) => {
    if (settings.tool.peek() !== tool) interaction.escape();
    settings.tool.value = tool;
  };

  const zoomBy = (factor: number) => {
    const { width, height } = size.peek();
    interaction.zoomAt(factor, width / 2, height / 2);
  };

  const close = () => board.setOpen(false);

  const onKeyDown = (e: KeyboardEvent) => {
    const typing = e.target === textField.current;
    const handled = typing ? false : handleKey(e);
    // Keys the board used go no further: the meeting's single-key shortcuts must not act too.
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  };

  const handleKey = (e: KeyboardEvent): boolean => {
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key;
    if (ctrl && !e.altKey) {
      if (key.toLowerCase() === "z") {
        if (e.shiftKey) engine.redo();
        else engine.undo();
        return true;
      }
      if (key.toLowerCase() === "y") {
        engine.redo();
        return true;
      }
      return false;
    }
    if (e.altKey) return false;
    if (key === "Escape") return interaction.escape();
    if (key === "Delete" || key === "Backspace") return interaction.deleteSelection();
    const inArea = e.target === area.current;
    const arrows: Record<string, [number, number]> = {
      ArrowLeft: [-1, 0],
      ArrowRight: [1, 0],
      ArrowUp: [0, -1],
      ArrowDown: [0, 1],
    };
    if (key in arrows && inArea) {
      const [dx, dy] = arrows[key];
      const step = e.shiftKey ? 50 : 10;
      if (!interaction.nudge(dx * step, dy * step)) interaction.panBy(dx * step * 4, dy * step * 4);
      return true;
    }
    if (!preferences.shortcuts.peek() || e.repeat) return false;
    if (key === "+" || key === "=") {
      zoomBy(1.25);
      return true;
    }
    if (key === "-" || key === "_") {
      zoomBy(0.8);
      return true;
    }
    if (key === "0") {
      settings.view.value = { ...settings.view.peek(), zoom: 1 };
      return true;
    }
    const tool = TOOLS.find((t) => t.key === key.toUpperCase());
    if (tool) {
      setTool(tool.id);
      return true;
    }
    return false;
  };

  const exportPng = async () => {
    try {
      download(await toPng(engine.elements()), "whiteboard.png");
      notice.value = "Exported the board as whiteboard.png.";
    } catch {
      notice.value = "The PNG could not be made. Try again, or export SVG.";
    }
  };
  const exportSvg = () => {
    download(new Blob([toSvg(engine.elements())], { type: "image/svg+xml" }), "whiteboard.svg");
    notice.value = "Exported the board as whiteboard.svg.";
  };

  const tool = settings.tool.value;
  const view = settings.view.value;
  const editing = interaction.editing.value;
  const count = engine.size;
  const drawing = [...engine.presence.value.entries()].filter(([, p]) => p.draft)
    .map(([peer]) => meeting.peers.value.find((p) => p.peer === peer)?.name || "Someone");

  return (
    <section
      ref={container}
      id="board-surface"
      aria-label="Whiteboard"
      class={SURFACE_CLASS}
      onKeyDown={onKeyDown}
      data-version={version}
    >
      <div class="flex items-center gap-2 pb-1">
        <h2 class="font-semibold text-white">Whiteboard</h2>
        <p class="min-w-0 flex-1 truncate text-xs text-slate-300" data-board-count={count}>
          {count === 1 ? "1 item" : `${count} items`}
          {drawing.length > 0 && ` · ${drawing.join(", ")} drawing`}
        </p>
        <button
          type="button"
          aria-label="Close whiteboard"
          title="Close whiteboard"
          onClick={close}
          class={BUTTON}
        >
          <Icon name="close" />
        </button>
      </div>
      <div
        role="toolbar"
        aria-label="Whiteboard tools"
        class="flex shrink-0 flex-wrap items-center gap-1 rounded-xl bg-slate-900 p-1 ring-1 ring-slate-800"
      >
        <div role="group" aria-label="Tool" class="flex shrink-0 gap-0.5">
          {TOOLS.map((t) => (
            <ToolButton
              key={t.id}
              label={t.label}
              icon={TOOL_ICONS[t.id]}
              pressed={tool === t.id}
              keys={t.key}
              onClick={() => setTool(t.id)}
            />
          ))}
        </div>
        <div
          role="group"
          aria-label="Colour"
          class="flex shrink-0 gap-0.5 border-l border-slate-700 pl-1"
        >
          {PALETTE.map((c, i) => (
            <ToolButton
              key={c.name}
              label={c.name}
              pressed={settings.color.value === i}
              onClick={() => (settings.color.value = i)}
            >
              <span
                aria-hidden="true"
                class="block h-5 w-5 rounded-full ring-2 ring-white"
                style={{ background: c.hex }}
              />
            </ToolButton>
          ))}
        </div>
        <div
          role="group"
          aria-label="Size"
          class="flex shrink-0 gap-0.5 border-l border-slate-700 pl-1"
        >
          {SIZES.map((s, i) => (
            <ToolButton
              key={s.label}
              label={s.label}
              pressed={settings.size.value === i}
              onClick={() => (settings.size.value = i)}
            >
              <span
                aria-hidden="true"
                class="block rounded-full bg-white"
                style={{ width: `${4 + i * 4}px`, height: `${4 + i * 4}px` }}
              />
            </ToolButton>
          ))}
        </div>
        <div class="flex shrink-0 gap-0.5 border-l border-slate-700 pl-1">
          <ToolButton
            label="Undo"
            icon={UNDO_ICON}
            keys="Control+Z"
            disabled={!engine.canUndo.value}
            onClick={() => engine.undo()}
          />
          <ToolButton
            label="Redo"
            icon={REDO_ICON}
            keys="Control+Shift+Z"
            disabled={!engine.canRedo.value}
            onClick={() => engine.redo()}
          />
        </div>
        <div class="flex shrink-0 items-center gap-0.5 border-l border-slate-700 pl-1">
          <ToolButton label="Zoom out" icon={ZOOM_OUT_ICON} keys="-" onClick={() => zoomBy(0.8)} />
          <button
            type="button"
            aria-label={`${Math.round(view.zoom * 100)}%, reset zoom`}
            title="Reset zoom (0)"
            onClick={() => (settings.view.value = { ...view, zoom: 1 })}
            class="h-9 shrink-0 rounded-lg px-1.5 text-xs tabular-nums text-slate-100 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            {Math.round(view.zoom * 100)}%
          </button>
          <ToolButton label="Zoom in" icon={ZOOM_IN_ICON} keys="+" onClick={() => zoomBy(1.25)} />
        </div>
        <div class="flex shrink-0 gap-0.5 border-l border-slate-700 pl-1">
          <ToolButton
            label="Clear board"
            icon={CLEAR_ICON}
            disabled={count === 0}
            onClick={() => (confirmClear.value = true)}
          />
          <button
            type="button"
            onClick={exportPng}
            class="flex h-9 shrink-0 items-center gap-1 rounded-lg px-2 text-xs font-semibold text-slate-100 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            <Icon path={DOWNLOAD_ICON} class="h-4 w-4" />Export PNG
          </button>
          <button
            type="button"
            onClick={exportSvg}
            class="flex h-9 shrink-0 items-center gap-1 rounded-lg px-2 text-xs font-semibold text-slate-100 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            <Icon path={DOWNLOAD_ICON} class="h-4 w-4" />Export SVG
          </button>
        </div>
      </div>
      <div class="relative mt-2 min-h-0 flex-1 overflow-hidden rounded-xl bg-white">
        <canvas ref={base} aria-hidden="true" class="absolute inset-0 h-full w-full" />
        <canvas ref={overlay} aria-hidden="true" class="absolute inset-0 h-full w-full" />
        <div
          ref={area}
          role="application"
          aria-roledescription="whiteboard"
          aria-label="Drawing area"
          aria-describedby="board-help"
          tabIndex={0}
          data-tool={tool}
          class={`absolute inset-0 touch-none select-none focus:outline-none focus-visible:ring-4 focus-visible:ring-inset focus-visible:ring-indigo-400 ${
            tool === "hand"
              ? "cursor-grab"
              : tool === "select"
              ? "cursor-default"
              : "cursor-crosshair"
          }`}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerCancel}
          onPointerLeave={() => interaction.leave()}
          onContextMenu={(e) => e.preventDefault()}
        />
        {editing && (
          <textarea
            ref={(el) => {
              textField.current = el;
              // At once: keys typed right after the click must land here, not on the tools.
              if (el && document.activeElement !== el) el.focus({ preventScroll: true });
            }}
            aria-label="Text"
            rows={1}
            class="absolute min-w-[8rem] resize-none overflow-hidden border border-dashed border-indigo-500 bg-transparent p-0 outline-none"
            style={{
              left: `${(editing.x - view.x) * view.zoom}px`,
              top: `${(editing.y - view.y) * view.zoom}px`,
              fontSize: `${editing.size * view.zoom}px`,
              lineHeight: LINE_HEIGHT,
              fontFamily: FONT_FAMILY,
              color: PALETTE[editing.color].hex,
            }}
            onInput={(e) => {
              const el = e.currentTarget;
              el.style.height = "auto";
              el.style.height = `${el.scrollHeight}px`;
              el.style.width = "auto";
              el.style.width = `${Math.max(128, el.scrollWidth + 8)}px`;
            }}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                interaction.cancelText();
                area.current?.focus();
              } else if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                interaction.commitText(e.currentTarget.value);
                area.current?.focus();
              }
              e.stopPropagation();
            }}
            onBlur={(e) => interaction.commitText(e.currentTarget.value)}
          />
        )}
      </div>
      <p id="board-help" class="sr-only">{HELP}</p>
      <p role="status" class="sr-only">{notice.value}</p>
      {confirmClear.value && (
        <ConfirmDialog
          title="Clear the whole board?"
          confirmLabel="Clear board"
          onCancel={() => (confirmClear.value = false)}
          onConfirm={() => {
            confirmClear.value = false;
            interaction.escape();
            engine.clear();
            notice.value = "Cleared the board. Undo brings it back.";
          }}
          returnFocus={() => area.current}
        >
          Everything on the board goes, for everyone in the meeting. Undo brings it back.
        </ConfirmDialog>
      )}
    </section>
  );
}
