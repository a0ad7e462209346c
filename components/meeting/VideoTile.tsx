import { useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { LinkQuality } from "../../mesh/types.ts";
import { canFullscreen, FULLSCREEN_ICON, useFullscreen } from "./fullscreen.ts";
import { Icon, type IconName } from "./icons.tsx";
import { StreamAudio, StreamVideo } from "./media_elements.tsx";
import { initials, type TileModel } from "./tiles.ts";

export type { TileModel } from "./tiles.ts";

/**
 * How big a tile is drawn, from its height: the initials, the caption and the buttons shrink
 * with it, so that on a small tile (the strip under a pinned person) the initials and "Camera
 * off" still fit above the name bar.
 */
export type TileSize = "small" | "medium" | "large";

/** The size class of a tile `height` px tall. */
export function tileSize(height: number): TileSize {
  return height < 160 ? "small" : height < 320 ? "medium" : "large";
}

const QUALITY_TEXT = { good: "good", fair: "fair", poor: "poor", unknown: "measuring" } as const;
const QUALITY_BARS = { good: 3, fair: 2, poor: 1, unknown: 0 } as const;

const PIP_ICON =
  "M19 11h-8v6h8zm4 8V5a2 2 0 0 0-2-2H3a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h18a2 2 0 0 0 2-2zm-2 0H3V5h18z";
const HIDE_SELF_ICON =
  "M2 4.3 3.3 3 21 20.7 19.7 22l-3.3-3.3A10 10 0 0 1 12 20C7 20 3 16.5 1 12a11 11 0 0 1 3.5-4.6zM12 4c5 0 9 3.5 11 8a11 11 0 0 1-3.2 4.3l-3.3-3.3A4.5 4.5 0 0 0 11 7.5L8.8 5.3A10 10 0 0 1 12 4zm-4.3 6.7 5.6 5.6A4.5 4.5 0 0 1 7.7 10.7z";

function QualityBars({ quality }: { quality: LinkQuality }) {
  const bars = QUALITY_BARS[quality.level];
  const detail = [
    quality.rttMs !== null ? `round trip ${Math.round(quality.rttMs)} ms` : null,
    quality.loss !== null ? `loss ${(quality.loss * 100).toFixed(1)}%` : null,
  ].filter(Boolean).join(", ");
  const text = `Connection ${QUALITY_TEXT[quality.level]}${detail ? `: ${detail}` : ""}`;
  return (
    <span class="flex h-4 items-end gap-0.5" title={text} role="img" aria-label={text}>
      {[1, 2, 3].map((i) => (
        <span
          key={i}
          class={`w-1 rounded-sm ${i === 1 ? "h-1.5" : i === 2 ? "h-2.5" : "h-4"} ${
            i <= bars
              ? bars === 1 ? "bg-rose-400" : bars === 2 ? "bg-amber-300" : "bg-emerald-400"
              : "bg-slate-600"
          }`}
        />
      ))}
    </span>
  );
}

/** A button in the tile's top corner: shown on hover or focus, and kept while pressed. */
function TileButton(
  { label, title, icon, pressed, small, onClick }: {
    label: string;
    title: string;
    /** A core icon's name, or a 24×24 path. */
    icon: IconName | { path: string };
    pressed?: boolean;
    small: boolean;
    onClick(): void;
  },
) {
  return (
    <button
      type="button"
      onClick={onClick}
      aria-pressed={pressed}
      aria-label={label}
      title={title}
      class={`rounded-lg bg-slate-950/70 text-white opacity-0 transition-opacity hover:bg-slate-800 focus:opacity-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 group-hover:opacity-100 aria-pressed:opacity-100 [@media(hover:none)]:opacity-100 ${
        small ? "p-1" : "p-1.5"
      }`}
    >
      <Icon
        name={typeof icon === "string" ? icon : undefined}
        path={typeof icon === "string" ? undefined : icon.path}
        class={small ? "h-3.5 w-3.5" : "h-4 w-4"}
      />
    </button>
  );
}

/** Whether this browser can show a video picture-in-picture. */
function canPictureInPicture(): boolean {
  return typeof document !== "undefined" && document.pictureInPictureEnabled === true;
}

/**
 * One participant's camera or screen, with name, mute, quality and its actions (pin,
 * picture-in-picture, full screen for a screen, hide self view for ours); features add `badges`
 * next to the name and an `overlay` over the picture (camera tiles only). The tile fills its
 * parent, which sizes it; `size` says how big that is. `onFrames` hears the picture's size once
 * frames arrive (null until then).
 */
export function VideoTile(
  { tile, pinned, onPin, size = "medium", badges, overlay, onFrames, onHideSelf }: {
    tile: TileModel;
    pinned: boolean;
    onPin: (key: string | null) => void;
    size?: TileSize;
    badges?: ComponentChildren;
    overlay?: ComponentChildren;
    onFrames?: (size: { width: number; height: number } | null) => void;
    /** Offered on our own camera tile: hides it from our screen. */
    onHideSelf?: () => void;
  },
) {
  const figure = useRef<HTMLElement>(null);
  const framed = useSignal(false);
  const pip = useSignal(false);
  const fullscreen = useFullscreen(() => figure.current);
  const small = size === "small";
  const label = `${tile.name}${tile.kind === "screen" ? " (screen)" : ""}${
    tile.self ? " (you)" : ""
  }`;
  const showVideo = tile.stream !== null && (!tile.videoOff || tile.kind === "screen");

  // Picture-in-picture ends by the browser's own window controls too; the events bubble.
  useEffect(() => {
    const el = figure.current!;
    const update = () => (pip.value = !!document.pictureInPictureElement &&
      el.contains(document.pictureInPictureElement));
    el.addEventListener("enterpictureinpicture", update);
    el.addEventListener("leavepictureinpicture", update);
    return () => {
      el.removeEventListener("enterpictureinpicture", update);
      el.removeEventListener("leavepictureinpicture", update);
    };
  }, []);
  const togglePip = () => {
    const video = figure.current?.querySelector("video");
    if (!video) return;
    const done = document.pictureInPictureElement === video
      ? document.exitPictureInPicture()
      : video.requestPictureInPicture();
    done.catch(() => {});
  };

  const loading = tile.kind === "screen" && showVideo && !framed.value;
  return (
    <figure
      ref={figure}
      aria-label={label}
      data-peer={tile.self ? "self" : tile.peer}
      data-kind={tile.kind}
      data-link={tile.link === "self" ? "connected" : tile.link}
      data-muted={String(tile.muted)}
      data-video-off={String(tile.videoOff)}
      data-speaking={String(tile.speaking)}
      data-quality={tile.quality?.level ?? "unknown"}
      data-pinned={String(pinned)}
      class="group relative m-0 h-full w-full overflow-hidden rounded-2xl bg-slate-900"
    >
      {showVideo
        ? (
          <StreamVideo
            stream={tile.stream}
            mirror={tile.self && tile.kind === "camera"}
            fit={tile.kind === "screen" ? "contain" : "cover"}
            onFrames={(s) => {
              framed.value = s !== null;
              onFrames?.(s);
            }}
          />
        )
        : (
          // Above the name bar, never under it.
          <div
            class={`absolute inset-x-0 top-0 flex flex-col items-center justify-center ${
              small ? "bottom-7 gap-1" : "bottom-14 gap-2"
            }`}
          >
            <span
              aria-hidden="true"
              class={`flex shrink-0 items-center justify-center rounded-full bg-indigo-700 font-semibold text-white ${
                small
                  ? "h-8 w-8 text-sm"
                  : size === "medium"
                  ? "h-14 w-14 text-lg"
                  : "h-20 w-20 text-2xl"
              }`}
            >
              {initials(tile.name)}
            </span>
            <span class={small ? "text-[11px] leading-3 text-slate-300" : "text-xs text-slate-300"}>
              Camera off
            </span>
          </div>
        )}
      {!tile.self && <StreamAudio stream={tile.stream} />}
      {loading && (
        <div
          role="status"
          class="absolute inset-0 flex flex-col items-center justify-center gap-3 bg-slate-900 px-3 text-center text-sm text-slate-200"
        >
          <span
            aria-hidden="true"
            class="h-8 w-8 rounded-full border-4 border-slate-600 border-t-indigo-400 motion-safe:animate-spin"
          />
          {tile.self ? "Loading your screen…" : `Loading ${tile.name}'s screen…`}
        </div>
      )}
      {!tile.self && tile.link !== "connected" && (
        <div class="absolute inset-0 flex items-center justify-center bg-slate-950/60 px-2 text-center text-sm text-slate-100">
          {!tile.verified
            ? "Could not verify: not connected"
            : !tile.online
            ? "Reconnecting…"
            : tile.link === "failed"
            ? "Connection failed, retrying…"
            : "Connecting…"}
        </div>
      )}
      {overlay}
      <figcaption
        class={`absolute inset-x-0 bottom-0 flex items-center text-white ${
          small
            ? "h-7 gap-1.5 bg-slate-950/70 px-2 text-xs"
            : "gap-2 bg-slate-950/70 px-3 py-2 text-sm"
        }`}
      >
        {tile.speaking && (
          <span
            aria-hidden="true"
            title="Speaking"
            class="shrink-0 rounded-full bg-emerald-400 p-0.5 text-slate-950 motion-safe:animate-pulse"
          >
            <Icon name="mic" class={small ? "h-3 w-3" : "h-4 w-4"} />
          </span>
        )}
        {tile.kind === "camera" && tile.muted && (
          <span title="Microphone muted" class="text-rose-300">
            <Icon name="micOff" class={small ? "h-3.5 w-3.5" : "h-4 w-4"} />
            <span class="sr-only">Microphone muted</span>
          </span>
        )}
        {badges}
        <span class="min-w-0 flex-1 truncate font-medium">{label}</span>
        {tile.quality && !tile.self && <QualityBars quality={tile.quality} />}
      </figcaption>
      {
        // Speaking: a solid 4 px border over everything, not a faint ring (and the icon above,
        // for those who do not see the colour).
        tile.speaking && (
          <span
            aria-hidden="true"
            data-speaking-outline
            class="pointer-events-none absolute inset-0 rounded-2xl border-4 border-emerald-400"
          />
        )
      }
      <div class={`absolute flex gap-1 ${small ? "right-1 top-1" : "right-2 top-2"}`}>
        {tile.self && tile.kind === "camera" && onHideSelf && (
          <TileButton
            label="Hide self view"
            title="Hide self view (the others still see you)"
            icon={{ path: HIDE_SELF_ICON }}
            small={small}
            onClick={onHideSelf}
          />
        )}
        {
          // Offered once the video has a frame: before that, browsers refuse it.
          showVideo && framed.value && canPictureInPicture() && (
            <TileButton
              label={`Picture-in-picture ${label}`}
              title="Picture-in-picture"
              icon={{ path: PIP_ICON }}
              pressed={pip.value}
              small={small}
              onClick={togglePip}
            />
          )
        }
        {tile.kind === "screen" && canFullscreen() && (
          <TileButton
            label={`Full screen ${label}`}
            title="Full screen"
            icon={{ path: FULLSCREEN_ICON }}
            pressed={fullscreen.active}
            small={small}
            onClick={fullscreen.toggle}
          />
        )}
        <TileButton
          label={`${pinned ? "Unpin" : "Pin"} ${label}`}
          title={pinned ? "Unpin" : "Pin to the stage"}
          icon="pin"
          pressed={pinned}
          small={small}
          onClick={() => onPin(pinned ? null : tile.key)}
        />
      </div>
    </figure>
  );
}
