import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { ControlBar, ControlItemButton } from "./ControlBar.tsx";
import { controlItems, panelVisible, PEOPLE_PANEL } from "./controls.ts";
import { autoplay } from "./media_elements.tsx";
import { ParticipantsPanel } from "./ParticipantsPanel.tsx";
import type { FeatureModule } from "./slots.ts";
import { Stage } from "./Stage.tsx";
import { type TileModel, useTiles } from "./tiles.ts";
import { Toasts } from "./Toasts.tsx";

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
  const soundBlocked = useSignal(autoplay.blocked);
  const members = meeting.members.value;

  useEffect(() => {
    const update = () => (soundBlocked.value = autoplay.blocked);
    autoplay.listeners.add(update);
    return () => void autoplay.listeners.delete(update);
  }, []);

  // Tiles: ours first, then everyone in join order; screens get their own tiles.
  const tiles = useTiles(meeting);

  // Features' tile slots for one person (null: ourselves).
  const tileSlots = (slot: "TileBadge" | "TileOverlay", peer: string | null) =>
    features.map(({ definition, ui }) => {
      const Slot = ui[slot];
      return Slot && <Slot key={definition.name} meeting={meeting} peer={peer} />;
    });
  const personOf = (t: TileModel) => t.self ? null : t.peer;

  const toggle = (id: string) => (panel.value = panel.value === id ? null : id);
  const controls = controlItems(meeting, features, panel.value, toggle);
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

  const phase = meeting.phase.value;

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
        <Stage meeting={meeting} features={features} tiles={tiles} />
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
