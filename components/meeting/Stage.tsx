import { useSignal } from "@preact/signals";
import { useCallback, useEffect, useRef } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { meetingLink } from "../../mesh/meeting_key.ts";
import { canFullscreen, FULLSCREEN_ICON, useFullscreen } from "./fullscreen.ts";
import { Icon } from "./icons.tsx";
import { type Box, fit, gridLayout } from "./layout.ts";
import { preferences } from "./preferences.ts";
import type { FeatureModule } from "./slots.ts";
import type { TileModel } from "./tiles.ts";
import { type TileSize, tileSize, VideoTile } from "./VideoTile.tsx";

const GRID_ICON = "M3 3h8v8H3zm10 0h8v8h-8zM3 13h8v8H3zm10 0h8v8h-8z";
const SPEAKER_ICON = "M2 3h20v12H2zm0 14h6v4H2zm7 0h6v4H9zm7 0h6v4h-6z";
const EXIT_FULLSCREEN_ICON = "M8 4h2v6H4V8h4zm6 0h2v4h4v2h-6zM4 14h6v6H8v-4H4zm10 0h6v2h-4v4h-2z";

/** A strip tile: small enough for a row under the stage on a phone, 16:9. */
const STRIP = { width: 160, height: 90 };

/** The size of the element the returned ref is put on, following resizes. */
function useBox(): [(el: HTMLElement | null) => void, Box] {
  const box = useSignal<Box>({ width: 0, height: 0 });
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback((el: HTMLElement | null) => {
    observer.current?.disconnect();
    if (!el) return;
    observer.current = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      const old = box.peek();
      if (width !== old.width || height !== old.height) box.value = { width, height };
    });
    observer.current.observe(el);
  }, []);
  useEffect(() => () => observer.current?.disconnect(), []);
  return [ref, box.value];
}

/** A small button of the stage's own bar; `pressed` for toggles. */
function BarButton(
  { label, icon, pressed, onClick, text }: {
    label: string;
    icon: string;
    pressed?: boolean;
    onClick(): void;
    /** Visible text (wide screens only); the accessible name is `label`, which contains it. */
    text?: string;
  },
) {
  return (
    <button
      type="button"
      aria-label={label}
      aria-pressed={pressed}
      title={label}
      onClick={onClick}
      class={`flex h-8 items-center gap-1.5 rounded-md px-2 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 ${
        pressed ? "bg-indigo-600 text-white" : "text-slate-200 hover:bg-slate-700"
      }`}
    >
      <Icon path={icon} class="h-4 w-4" />
      {text && <span class="hidden sm:inline">{text}</span>}
    </button>
  );
}

/** Alone in the meeting: the link to invite others, with a button that copies it. */
function InvitePrompt({ meeting }: { meeting: MeetingCore }) {
  // The current key: a host may have switched it, and without it nobody gets in.
  const link = meetingLink(location.origin, meeting.roomId, meeting.room.key.value);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      meeting.notify("info", "Invite link copied.");
    } catch {
      meeting.notify("error", `Copying was blocked: select the link and copy it yourself.`);
    }
  };
  return (
    <div class="w-full max-w-md rounded-2xl bg-slate-900 p-5 text-center ring-1 ring-slate-800">
      <h2 class="text-lg font-semibold text-white">You're the only one here</h2>
      <p class="mt-1 text-sm text-slate-300">
        Send this link to the people you want to meet. Anyone who has it can join.
      </p>
      <div class="mt-4 flex gap-2">
        <label for="stage-invite-link" class="sr-only">Invite link</label>
        <input
          id="stage-invite-link"
          readOnly
          value={link}
          onFocus={(e) => e.currentTarget.select()}
          class="min-w-0 flex-1 rounded-lg bg-slate-950 px-3 py-2 text-sm text-slate-100 ring-1 ring-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        />
        <button
          type="button"
          onClick={copy}
          class="shrink-0 rounded-lg bg-indigo-600 px-3 py-2 text-sm font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          Copy link
        </button>
      </div>
    </div>
  );
}

/**
 * The stage: everyone's tiles in the chosen layout, with the layout switch, full screen, the
 * "alone" invitation, the self-view switch and the "You are presenting" banner.
 *
 * - Grid: equal tiles as large as the area allows, the last row centred.
 * - A tile on the stage with a strip of the others: a pinned tile, else someone's shared screen,
 *   else (speaker layout) whoever spoke last.
 * - Alone: the invite link, and our own view small in the corner.
 */
export function Stage(
  { meeting, features, tiles }: {
    meeting: MeetingCore;
    features: readonly FeatureModule[];
    tiles: TileModel[];
  },
) {
  const pinned = useSignal<string | null>(null);
  /** The picture's shape (width / height) of the tile on the stage, once it has frames. */
  const aspect = useSignal<{ key: string; value: number } | null>(null);
  /** Who spoke last: the speaker layout keeps them on the stage through pauses. */
  const lastSpeaker = useRef<string | null>(null);
  const section = useRef<HTMLElement>(null);
  const [gridRef, gridBox] = useBox();
  const [mainRef, mainBox] = useBox();
  // The whole meeting screen with its controls, as Meet and Jitsi do, not the tiles alone.
  const fullscreen = useFullscreen(() => section.current?.closest("main") ?? section.current);
  const layout = preferences.layout.value;
  const hideSelf = preferences.hideSelfView;
  const presenting = meeting.media.screen.value !== null;

  const shown = hideSelf.value ? tiles.filter((t) => !(t.self && t.kind === "camera")) : tiles;
  const alone = !tiles.some((t) => !t.self);
  const talking = tiles.find((t) => t.speaking && !t.self && t.kind === "camera");
  if (talking) lastSpeaker.current = talking.key;
  const main = alone ? undefined : shown.find((t) => t.key === pinned.value) ??
    shown.find((t) => t.kind === "screen" && !t.self) ??
    (layout === "speaker"
      ? shown.find((t) => t.key === lastSpeaker.current) ??
        shown.find((t) => !t.self && t.kind === "camera")
      : undefined);
  const rest = main ? shown.filter((t) => t !== main) : shown;

  const tile = (t: TileModel, size: TileSize) => {
    const person = t.self ? null : t.peer;
    const slots = (slot: "TileBadge" | "TileOverlay") =>
      t.kind === "camera" && features.map(({ definition, ui }) => {
        const Slot = ui[slot];
        return Slot && <Slot key={definition.name} meeting={meeting} peer={person} />;
      });
    return (
      <VideoTile
        tile={t}
        pinned={t.key === pinned.value}
        onPin={(k) => (pinned.value = k)}
        size={size}
        badges={slots("TileBadge")}
        overlay={slots("TileOverlay")}
        onHideSelf={() => (hideSelf.value = true)}
        onFrames={t === main
          ? (s) => (aspect.value = s && { key: t.key, value: s.width / s.height })
          : undefined}
      />
    );
  };

  let body;
  if (alone) {
    body = (
      <div class="relative flex min-h-0 flex-1 flex-col items-center justify-center pb-28 sm:pb-0">
        <InvitePrompt meeting={meeting} />
        {shown.length > 0 && (
          <div class="absolute bottom-0 right-0 flex gap-2">
            {shown.map((t) => (
              <div key={t.key} class="h-[108px] w-48 sm:h-[144px] sm:w-64">
                {tile(t, "small")}
              </div>
            ))}
          </div>
        )}
      </div>
    );
  } else if (main) {
    const shape = main.kind === "screen"
      ? fit(aspect.value?.key === main.key ? aspect.value.value : 16 / 9, mainBox)
      : gridLayout(1, mainBox).tile;
    body = (
      <>
        <div ref={mainRef} class="flex min-h-0 flex-1 items-center justify-center">
          <div style={{ width: `${shape.width}px`, height: `${shape.height}px` }}>
            {tile(main, tileSize(shape.height))}
          </div>
        </div>
        {rest.length > 0 && (
          <div class="shrink-0 overflow-x-auto">
            <div class="mx-auto flex w-max gap-2">
              {rest.map((t) => (
                <div
                  key={t.key}
                  class="shrink-0"
                  style={{ width: `${STRIP.width}px`, height: `${STRIP.height}px` }}
                >
                  {tile(t, "small")}
                </div>
              ))}
            </div>
          </div>
        )}
      </>
    );
  } else {
    const grid = gridLayout(shown.length, gridBox);
    const size = { width: `${grid.tile.width}px`, height: `${grid.tile.height}px` };
    // Rows wrap at exactly `columns` tiles (the row's width); a shorter last row is centred.
    body = (
      <div ref={gridRef} class="flex min-h-0 flex-1 items-center justify-center">
        <div
          class="flex flex-wrap content-center justify-center gap-3"
          style={{ width: `${grid.rowWidth}px` }}
        >
          {shown.map((t) => (
            <div key={t.key} class="shrink-0" style={size}>
              {tile(t, tileSize(grid.tile.height))}
            </div>
          ))}
        </div>
      </div>
    );
  }

  return (
    <>
      <h1 class="sr-only">Meeting</h1>
      <section
        ref={section}
        aria-label="Participants' video"
        data-layout={alone ? "alone" : main ? "stage" : "grid"}
        class="flex min-h-0 min-w-0 flex-1 flex-col gap-2"
      >
        <div class="flex flex-wrap items-center justify-end gap-2">
          {hideSelf.value && (
            <p class="mr-auto flex items-center gap-2 rounded-full bg-slate-800 py-0.5 pl-3 pr-0.5 text-xs text-slate-200">
              Self view hidden
              <button
                type="button"
                aria-label="Show self view"
                onClick={() => (hideSelf.value = false)}
                class="rounded-full px-2.5 py-1 font-semibold text-white hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
              >
                Show
              </button>
            </p>
          )}
          <div role="group" aria-label="Layout" class="flex gap-0.5 rounded-lg bg-slate-800 p-0.5">
            <BarButton
              label="Grid layout"
              text="Grid"
              icon={GRID_ICON}
              pressed={layout === "grid"}
              onClick={() => (preferences.layout.value = "grid")}
            />
            <BarButton
              label="Speaker layout"
              text="Speaker"
              icon={SPEAKER_ICON}
              pressed={layout === "speaker"}
              onClick={() => (preferences.layout.value = "speaker")}
            />
          </div>
          {canFullscreen() && (
            <div class="rounded-lg bg-slate-800 p-0.5">
              <BarButton
                label="Full screen"
                icon={fullscreen.active ? EXIT_FULLSCREEN_ICON : FULLSCREEN_ICON}
                pressed={fullscreen.active}
                onClick={fullscreen.toggle}
              />
            </div>
          )}
        </div>
        {presenting && (
          <div
            role="status"
            class="flex flex-wrap items-center justify-center gap-x-4 gap-y-2 rounded-xl bg-indigo-950 px-4 py-2 text-sm text-indigo-100 ring-1 ring-indigo-800"
          >
            You are presenting your screen to everyone.
            <button
              type="button"
              onClick={() => meeting.stopScreenShare()}
              class="rounded-lg bg-rose-600 px-3 py-1 font-semibold text-white hover:bg-rose-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-300"
            >
              Stop presenting
            </button>
          </div>
        )}
        {body}
      </section>
    </>
  );
}
