import type { ComponentChildren } from "preact";
import type { LinkQuality, LinkState } from "../../mesh/types.ts";
import { Icon } from "./icons.tsx";
import { StreamAudio, StreamVideo } from "./media_elements.tsx";

export interface TileModel {
  /** Stable key: `${peer}:${kind}`. */
  key: string;
  peer: string;
  kind: "camera" | "screen";
  name: string;
  self: boolean;
  stream: MediaStream | null;
  videoOff: boolean;
  muted: boolean;
  link: LinkState | "self";
  online: boolean;
  /** False: this person's messages do not open with the meeting key ("Could not verify"). */
  verified: boolean;
  /** Our pair's safety code once connected (participants panel); null for us and before. */
  safetyCode: readonly { emoji: string; name: string }[] | null;
  quality: LinkQuality | null;
  speaking: boolean;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts.at(-1)![0] : name.slice(0, 2)).toUpperCase() ||
    "?";
}

const QUALITY_TEXT = { good: "good", fair: "fair", poor: "poor", unknown: "measuring" } as const;
const QUALITY_BARS = { good: 3, fair: 2, poor: 1, unknown: 0 } as const;

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

/**
 * One participant's camera or screen, with name, mute, quality and pin; features add `badges`
 * next to the name and an `overlay` over the picture (camera tiles only).
 */
export function VideoTile(
  { tile, pinned, onPin, large = false, badges, overlay }: {
    tile: TileModel;
    pinned: boolean;
    onPin: (key: string | null) => void;
    large?: boolean;
    badges?: ComponentChildren;
    overlay?: ComponentChildren;
  },
) {
  const label = `${tile.name}${tile.kind === "screen" ? " (screen)" : ""}${
    tile.self ? " (you)" : ""
  }`;
  const showVideo = tile.stream !== null && (!tile.videoOff || tile.kind === "screen");
  return (
    <figure
      aria-label={label}
      data-peer={tile.self ? "self" : tile.peer}
      data-kind={tile.kind}
      data-link={tile.link === "self" ? "connected" : tile.link}
      data-muted={String(tile.muted)}
      data-video-off={String(tile.videoOff)}
      data-speaking={String(tile.speaking)}
      data-quality={tile.quality?.level ?? "unknown"}
      data-pinned={String(pinned)}
      class={`group relative m-0 overflow-hidden rounded-2xl bg-slate-900 ring-2 transition-shadow ${
        tile.speaking ? "ring-emerald-400" : "ring-transparent"
      } ${large ? "h-full w-full" : "aspect-video w-full"}`}
    >
      {showVideo
        ? (
          <StreamVideo
            stream={tile.stream}
            mirror={tile.self && tile.kind === "camera"}
            fit={tile.kind === "screen" ? "contain" : "cover"}
          />
        )
        : (
          <div class="flex h-full w-full flex-col items-center justify-center gap-2">
            <span class="flex h-16 w-16 items-center justify-center rounded-full bg-indigo-700 text-xl font-semibold text-white sm:h-20 sm:w-20 sm:text-2xl">
              {initials(tile.name)}
            </span>
            <span class="text-xs text-slate-300">Camera off</span>
          </div>
        )}
      {!tile.self && <StreamAudio stream={tile.stream} />}
      {!tile.self && tile.link !== "connected" && (
        <div class="absolute inset-0 flex items-center justify-center bg-slate-950/60 text-sm text-slate-100">
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
      <figcaption class="absolute inset-x-0 bottom-0 flex items-center gap-2 bg-gradient-to-t from-slate-950/90 to-transparent px-3 pb-2 pt-6 text-sm text-white">
        {tile.kind === "camera" && tile.muted && (
          <span title="Microphone muted" class="text-rose-300">
            <Icon name="micOff" class="h-4 w-4" />
            <span class="sr-only">Microphone muted</span>
          </span>
        )}
        {badges}
        <span class="min-w-0 flex-1 truncate font-medium">{label}</span>
        {tile.quality && !tile.self && <QualityBars quality={tile.quality} />}
      </figcaption>
      <button
        type="button"
        onClick={() => onPin(pinned ? null : tile.key)}
        aria-pressed={pinned}
        aria-label={`${pinned ? "Unpin" : "Pin"} ${label}`}
        title={pinned ? "Unpin" : "Pin to the stage"}
        class="absolute right-2 top-2 rounded-lg bg-slate-950/70 p-1.5 text-white opacity-0 transition-opacity hover:bg-slate-800 focus:opacity-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 group-hover:opacity-100 aria-pressed:opacity-100"
      >
        <Icon name="pin" class="h-4 w-4" />
      </button>
    </figure>
  );
}
