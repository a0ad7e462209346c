/**
 * The recording's picture: the meeting's tiles drawn on one fixed canvas, laid out as the stage
 * lays them out (scene.ts), each with its name, whoever speaks outlined. The canvas gives one
 * video track for the whole recording; people joining, leaving or sharing only change what is
 * drawn on it. Frames are drawn when the recorder's clock says (clock.ts), so the picture keeps
 * its pace in a background tab.
 *
 * @example
 * ```ts
 * const compositor = new Compositor({ width: 1280, height: 720 });
 * // on every tick:
 * compositor.draw(scene, missed);
 * new MediaRecorder(new MediaStream([compositor.track, audioTrack]));
 * ```
 */
import { initials } from "../../components/meeting/tiles.ts";
import type { PlacedTile, Scene } from "./scene.ts";

/** How the picture kept up: frames drawn, ticks missed (dropped frames), drawing time. */
export interface FrameStats {
  drawn: number;
  /** Frames not drawn in time (the page was too busy): ticks that came an interval late. */
  dropped: number;
  /** Total time spent drawing, ms. */
  drawMs: number;
  /** The slowest frame, ms. */
  slowestMs: number;
}

/** A video element for a stream, and when a frame last needed it. */
interface Feed {
  video: HTMLVideoElement;
  usedAt: number;
}

/** A feed unused this long is released (a tile that went away). */
const RELEASE_MS = 3_000;

const BACKGROUND = "#020617"; // slate-950, the meeting's page
const TILE = "#0f172a"; // slate-900, an empty tile
const AVATAR = "#334155"; // slate-700
const SPEAKING = "#34d399"; // emerald-400, the meeting's speaking outline
const LABEL_BACK = "rgba(2, 6, 23, 0.72)";

/** Draws scenes on a fixed canvas whose track is recorded. */
export class Compositor {
  readonly canvas: HTMLCanvasElement;
  /** The picture's track: the same one for the whole recording. */
  readonly track: MediaStreamTrack;
  readonly stats: FrameStats = { drawn: 0, dropped: 0, drawMs: 0, slowestMs: 0 };
  readonly #g: CanvasRenderingContext2D;
  readonly #feeds = new Map<string, Feed>();
  /** Holds the feeds' video elements: in the page, hidden, so every browser decodes them. */
  readonly #shelf: HTMLElement;
  readonly #requestFrame: (() => void) | null;

  constructor(size: { width: number; height: number }, fps: number) {
    this.canvas = document.createElement("canvas");
    this.canvas.width = size.width;
    this.canvas.height = size.height;
    this.#g = this.canvas.getContext("2d", { alpha: false })!;
    this.#g.fillStyle = BACKGROUND;
    this.#g.fillRect(0, 0, size.width, size.height);
    // Frames on demand where the browser can (one frame per draw, at the clock's pace); else
    // the canvas is sampled at `fps`.
    let stream = this.canvas.captureStream(0);
    let track = stream.getVideoTracks()[0] as CanvasCaptureMediaStreamTrack | undefined;
    if (!track || typeof track.requestFrame !== "function") {
      stream = this.canvas.captureStream(fps);
      track = stream.getVideoTracks()[0] as CanvasCaptureMediaStreamTrack;
      this.#requestFrame = null;
    } else {
      const t = track;
      this.#requestFrame = () => t.requestFrame();
    }
    this.track = track;
    this.#shelf = document.createElement("div");
    this.#shelf.setAttribute("aria-hidden", "true");
    this.#shelf.dataset.recordingFeeds = "";
    Object.assign(this.#shelf.style, {
      position: "fixed",
      left: "0",
      top: "0",
      width: "2px",
      height: "2px",
      overflow: "hidden",
      opacity: "0",
      pointerEvents: "none",
    });
    document.body.append(this.#shelf);
  }

  /** Draws `scene` as the next frame; `missed` frames came too late to be drawn. */
  draw(scene: Scene, missed = 0): void {
    const started = performance.now();
    this.stats.dropped += missed;
    const g = this.#g;
    g.fillStyle = BACKGROUND;
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (const tile of scene.tiles) this.#tile(tile, started);
    this.#release(started);
    this.#requestFrame?.();
    const took = performance.now() - started;
    this.stats.drawn++;
    this.stats.drawMs += took;
    this.stats.slowestMs = Math.max(this.stats.slowestMs, took);
  }

  /** Releases the video elements and the canvas's track. */
  close(): void {
    for (const feed of this.#feeds.values()) feed.video.srcObject = null;
    this.#feeds.clear();
    this.#shelf.remove();
    this.track.stop();
  }

  #tile(t: PlacedTile, now: number): void {
    const g = this.#g;
    g.fillStyle = TILE;
    g.fillRect(t.x, t.y, t.width, t.height);
    const video = t.videoOff || !t.stream ? null : this.#feed(t.stream, now);
    if (video && video.readyState >= 2 && video.videoWidth > 0) {
      const vw = video.videoWidth, vh = video.videoHeight;
      if (t.fit === "cover") {
        // Crop the picture to the tile's shape, centred, as the tiles' object-cover does.
        const scale = Math.max(t.width / vw, t.height / vh);
        const sw = t.width / scale, sh = t.height / scale;
        g.drawImage(video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, t.x, t.y, t.width, t.height);
      } else {
        const scale = Math.min(t.width / vw, t.height / vh);
        const dw = vw * scale, dh = vh * scale;
        g.drawImage(video, t.x + (t.width - dw) / 2, t.y + (t.height - dh) / 2, dw, dh);
      }
    } else {
      this.#initials(t);
    }
    this.#label(t);
    if (t.speaking) {
      g.strokeStyle = SPEAKING;
      g.lineWidth = 4;
      g.strokeRect(t.x + 2, t.y + 2, t.width - 4, t.height - 4);
    }
  }

  #initials(t: PlacedTile): void {
    const g = this.#g;
    const r = Math.min(t.width, t.height) * 0.22;
    const cx = t.x + t.width / 2, cy = t.y + t.height / 2 - r * 0.15;
    g.fillStyle = AVATAR;
    g.beginPath();
    g.arc(cx, cy, r, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#fff";
    g.font = `600 ${Math.round(r * 0.8)}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(initials(t.name), cx, cy);
  }

  #label(t: PlacedTile): void {
    const g = this.#g;
    const size = Math.max(11, Math.min(20, Math.round(t.height / 11)));
    g.font = `500 ${size}px system-ui, sans-serif`;
    g.textAlign = "left";
    g.textBaseline = "middle";
    const pad = Math.round(size * 0.5);
    let text = t.label;
    const room = t.width - 4 * pad;
    while (text.length > 1 && g.measureText(text).width > room) text = text.slice(0, -2) + "…";
    const w = g.measureText(text).width + 2 * pad, h = size + pad;
    const x = t.x + pad, y = t.y + t.height - h - pad;
    g.fillStyle = LABEL_BACK;
    g.fillRect(x, y, w, h);
    g.fillStyle = "#fff";
    g.fillText(text, x + pad, y + h / 2);
  }

  #feed(stream: MediaStream, now: number): HTMLVideoElement {
    let feed = this.#feeds.get(stream.id);
    if (!feed) {
      const video = document.createElement("video");
      video.muted = true;
      video.playsInline = true;
      video.autoplay = true;
      video.srcObject = stream;
      this.#shelf.append(video);
      video.play().catch(() => {}); // muted: allowed; a refusal just draws initials
      feed = { video, usedAt: now };
      this.#feeds.set(stream.id, feed);
    }
    feed.usedAt = now;
    return feed.video;
  }

  #release(now: number): void {
    for (const [id, feed] of this.#feeds) {
      if (now - feed.usedAt < RELEASE_MS) continue;
      feed.video.srcObject = null;
      feed.video.remove();
      this.#feeds.delete(id);
    }
  }
}
