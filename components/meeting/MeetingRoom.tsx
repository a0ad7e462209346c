import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { ControlBar, ControlItemButton } from "./ControlBar.tsx";
import { controlItems, panelVisible, PEOPLE_PANEL } from "./controls.ts";
import { LazySettingsDialog } from "./LazySettingsDialog.tsx";
import { autoplay } from "./media_elements.tsx";
import { useMicLevel } from "./mic_level.ts";
import { ParticipantsPanel } from "./ParticipantsPanel.tsx";
import type { FeatureModule } from "./slots.ts";
import { Toasts } from "./Toasts.tsx";
import { type TileModel, VideoTile } from "./VideoTile.tsx";

/** Audio level above which a participant counts as speaking. */
const SPEAKING = 0.04;

/**
 * Columns and rows for n tiles so that every tile fits on screen, 1 to 8 people (plus screens),
 * on a phone (narrow) or a desktop. Class names are whole literals for the style build.
 */
const COLS = ["grid-cols-1", "grid-cols-2", "grid-cols-3", "grid-cols-4"];
const ROWS = ["grid-rows-1", "grid-rows-2", "grid-rows-3", "grid-rows-4", "grid-rows-5"];

function gridClass(n: number, wide: boolean): string {
  const cols = wide ? (n <= 1 ? 1 : n <= 4 ? 2 : n <= 6 ? 3 : 4) : (n <= 2 ? 1 : 2);
  const rows = Math.min(ROWS.length, Math.ceil(n / cols));
  return `${COLS[cols - 1]} ${ROWS[rows - 1]}`;
}

/** Whether the viewport is at least tablet-wide; follows resizes and rotation. */
function useWide(): boolean {
  const wide = useSignal(true);
  useEffect(() => {
    const query = matchMedia("(min-width: 640px)");
    const update = () => (wide.value = query.matches);
    update();
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return wide.value;
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

/**
 * The meeting screen: tiles, control bar, side panels and toasts, with every feature's slots.
 * Features appear here only through `features`; this file never names one.
 */
export function MeetingRoom(
  { meeting, features }: { meeting: MeetingCore; features: readonly FeatureModule[] },
) {
  const panel = useSignal<string | null>(null);
  const pinned = useSignal<string | null>(null);
  const soundBlocked = useSignal(autoplay.blocked);
  const wide = useWide();

  const local = meeting.local.value;
  const media = meeting.media;
  const micOn = media.micOn.value;
  const cameraOn = media.video.value !== null;
  const self = meeting.self.value;
  const members = meeting.members.value;

  // The local speaking highlight, from the microphone itself (no stats for our own audio).
  const selfLevel = useMicLevel(media, 250);

  useEffect(() => {
    const update = () => (soundBlocked.value = autoplay.blocked);
    autoplay.listeners.add(update);
    return () => void autoplay.listeners.delete(update);
  }, []);

  // Tiles: ours first, then everyone in join order; screens get their own tiles.
  const peers = meeting.peers.value;
  const loudest = peers.reduce<{ peer: string | null; level: number }>(
    (best, p) =>
      p.audioLevel > best.level && !p.audioMuted ? { peer: p.peer, level: p.audioLevel } : best,
    { peer: null, level: SPEAKING },
  );
  const tiles: TileModel[] = [{
    key: "self:camera",
    peer: self ?? "self",
    kind: "camera",
    name: local?.name ?? "",
    self: true,
    stream: cameraOn ? media.stream : null,
    videoOff: !cameraOn,
    muted: !micOn,
    link: "self",
    online: true,
    verified: true,
    safetyCode: null,
    quality: null,
    speaking: selfLevel.value > SPEAKING && selfLevel.value >= loudest.level,
  }];
  if (media.screen.value) {
    tiles.push({
      ...tiles[0],
      key: "self:screen",
      kind: "screen",
      stream: media.screen.value,
      speaking: false,
    });
  }
  for (const p of peers) {
    const base = {
      peer: p.peer,
      name: p.name,
      self: false,
      muted: p.audioMuted,
      link: p.link,
      online: p.online,
      verified: p.verified,
      safetyCode: p.safetyCode,
      quality: p.quality,
    };
    tiles.push({
      ...base,
      key: `${p.peer}:camera`,
      kind: "camera",
      stream: p.camera,
      videoOff: p.videoOff || !p.camera?.getVideoTracks().length,
      speaking: loudest.peer === p.peer,
    });
    if (p.screen) {
      tiles.push({
        ...base,
        key: `${p.peer}:screen`,
        kind: "screen",
        stream: p.screen,
        videoOff: false,
        speaking: false,
      });
    }
  }

  // Features' tile slots for one person (null: ourselves).
  const tileSlots = (slot: "TileBadge" | "TileOverlay", peer: string | null) =>
    features.map(({ definition, ui }) => {
      const Slot = ui[slot];
      return Slot && <Slot key={definition.name} meeting={meeting} peer={peer} />;
    });
  const personOf = (t: TileModel) => t.self ? null : t.peer;

  const toggle = (id: string) => (panel.value = panel.value === id ? null : id);
  const settings = useSignal(false);
  const controls = controlItems(
    meeting,
    features,
    panel.value,
    toggle,
    () => (settings.value = true),
  );
  // A panel that is no longer offered (a host panel after handing the role over) closes.
  const featurePanel = features.find((f) =>
    f.ui.panel?.id === panel.value && panelVisible(meeting, f.ui.panel)
  )?.ui.panel;

  // Single-key shortcuts of every button that has one; Esc closes the open panel.
  const keyed = [...controls.media, ...controls.features.flat(), ...controls.panels]
    .filter((i) => i.shortcut);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        panel.value = null;
        return;
      }
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const item = keyed.find((i) => i.shortcut!.toLowerCase() === e.key.toLowerCase());
      if (!item || item.disabled) return;
      e.preventDefault();
      item.onClick();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  // A shared screen goes on the stage by itself, unless someone pinned something else.
  const screenTile = tiles.find((t) => t.kind === "screen" && !t.self);
  const stageKey = pinned.value && tiles.some((t) => t.key === pinned.value)
    ? pinned.value
    : screenTile?.key ?? null;
  const stage = stageKey ? tiles.find((t) => t.key === stageKey)! : null;
  const rest = stage ? tiles.filter((t) => t !== stage) : tiles;
  const phase = meeting.phase.value;
  const tile = (t: TileModel, large: boolean, isPinned: boolean) => (
    <VideoTile
      key={t.key}
      tile={t}
      pinned={isPinned}
      onPin={(k) => (pinned.value = k)}
      large={large}
      badges={t.kind === "camera" && tileSlots("TileBadge", personOf(t))}
      overlay={t.kind === "camera" && tileSlots("TileOverlay", personOf(t))}
    />
  );

  return (
    <div class="flex min-h-0 flex-1 flex-col gap-3 pb-3">
      <Toasts notices={meeting.notices.value} onDismiss={(id) => meeting.dismissNotice(id)} />
      {
        /* Polite, and always in the page: a live region announces changes to what it holds,
           while one that appears with its text may go unannounced. The call itself goes on, so
           this must not sound like an alarm, nor move the tiles when it comes and goes. */
      }
      <div
        role="status"
        aria-live="polite"
        aria-label="Server connection"
        class="pointer-events-none fixed inset-x-0 bottom-24 z-40 flex justify-center px-3"
      >
        {phase === "reconnecting" && (
          <p class="max-w-md rounded-xl bg-amber-950/90 px-4 py-2 text-center text-sm text-amber-100 shadow-lg ring-1 ring-amber-700">
            Reconnecting to the meeting server; your call continues.{" "}
            <span class="text-amber-200/80">New participants can join once it is back.</span>
          </p>
        )}
      </div>
      {phase === "joining" && (
        <p
          role="status"
          class="rounded-xl bg-slate-800 px-4 py-2 text-center text-sm text-slate-200"
        >
          Joining the meeting…
        </p>
      )}
      {soundBlocked.value && (
        <div
          role="alert"
          class="flex items-center justify-center gap-3 rounded-xl bg-indigo-950 px-4 py-2 text-sm text-indigo-100 ring-1 ring-indigo-800"
        >
          The browser paused the sound until you click.
          <button
            type="button"
            onClick={() => autoplay.resume()}
            class="rounded-lg bg-indigo-600 px-3 py-1 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            Turn on sound
          </button>
        </div>
      )}
      <div class="flex min-h-0 flex-1 gap-3">
        <section
          aria-label="Participants' video"
          class="flex min-h-0 min-w-0 flex-1 flex-col gap-3"
        >
          {stage && <div class="min-h-0 flex-1">{tile(stage, true, stageKey === pinned.value)}
          </div>}
          <div
            class={stage
              ? "grid auto-cols-[minmax(9rem,12rem)] grid-flow-col gap-3 overflow-x-auto"
              : `grid min-h-0 flex-1 gap-3 ${gridClass(rest.length, wide)}`}
          >
            {rest.map((t) => tile(t, !stage, false))}
          </div>
        </section>
        {(featurePanel || panel.value === PEOPLE_PANEL) && (
          <div class="fixed inset-0 z-40 bg-slate-950 p-3 sm:static sm:z-auto sm:w-80 sm:bg-transparent sm:p-0">
            {!featurePanel
              ? (
                <ParticipantsPanel
                  people={tiles.filter((t) => t.kind === "camera")}
                  capacity={members.length ? meeting.capacity.value : null}
                  onClose={() => (panel.value = null)}
                  badges={(t) =>
                    tileSlots("TileBadge", personOf(t))}
                  actions={(t) =>
                    features.map(({ definition, ui }) =>
                      ui.PersonActions && (
                        <ui.PersonActions
                          key={definition.name}
                          meeting={meeting}
                          peer={personOf(t)}
                        />
                      )
                    )}
                />
              )
              : <featurePanel.Panel meeting={meeting} close={() => (panel.value = null)} />}
          </div>
        )}
      </div>
      {settings.value && (
        <LazySettingsDialog meeting={meeting} onClose={() => (settings.value = false)} />
      )}
      <ControlBar>
        {controls.media.map((item) => <ControlItemButton key={item.id} item={item} />)}
        {features.map(({ definition, ui }, i) => [
          ...controls.features[i].map((item) => <ControlItemButton key={item.id} item={item} />),
          ui.Control && <ui.Control key={definition.name} meeting={meeting} />,
        ])}
        {[...controls.panels, ...controls.end].map((item) => (
          <ControlItemButton key={item.id} item={item} />
        ))}
      </ControlBar>
    </div>
  );
}
