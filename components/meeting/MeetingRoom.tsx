import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { useAlerts } from "./alerts.ts";
import { ControlBar } from "./ControlBar.tsx";
import {
  closePanel,
  controlItems,
  panelVisible,
  PEOPLE_PANEL,
  useControlState,
} from "./controls.ts";
import { autoplay } from "./media_elements.tsx";
import { ParticipantsPanel } from "./ParticipantsPanel.tsx";
import { useShortcuts } from "./shortcuts.ts";
import type { FeatureModule } from "./slots.ts";
import { Stage } from "./Stage.tsx";
import { useTiles } from "./tiles.ts";
import { Toasts } from "./Toasts.tsx";

/**
 * The meeting screen: tiles, control bar, side panels and toasts, with every feature's slots.
 * Features appear here only through `features`; this file never names one.
 */
export function MeetingRoom(
  { meeting, features }: { meeting: MeetingCore; features: readonly FeatureModule[] },
) {
  const ui = useControlState();
  const soundBlocked = useSignal(autoplay.blocked);

  useEffect(() => {
    const update = () => (soundBlocked.value = autoplay.blocked);
    autoplay.listeners.add(update);
    return () => void autoplay.listeners.delete(update);
  }, []);

  // Tiles: ours first, then everyone in join order; screens get their own tiles.
  const tiles = useTiles(meeting);

  const controls = controlItems(meeting, features, ui);
  const panel = ui.panel.value;
  // A panel that is no longer offered (a host panel after handing the role over) closes.
  const featurePanel = features.find((f) =>
    f.ui.panel?.id === panel && panelVisible(meeting, f.ui.panel)
  )?.ui.panel;
  const close = () => closePanel(ui);

  useShortcuts(controls, ui);
  useAlerts(meeting, controls);

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
          <p class="max-w-md rounded-xl bg-amber-950 px-4 py-2 text-center text-sm text-amber-100 shadow-lg ring-1 ring-amber-700">
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
            class="rounded-lg bg-indigo-600 px-3 py-1 font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            Turn on sound
          </button>
        </div>
      )}
      {features.map(({ definition, ui }) =>
        ui.Banner && <ui.Banner key={definition.name} meeting={meeting} />
      )}
      <div class="flex min-h-0 flex-1 gap-3">
        <Stage meeting={meeting} features={features} tiles={tiles} />
        {features.map(({ definition: d, ui: { Surface } }) =>
          Surface && <Surface key={d.name} meeting={meeting} />
        )}
        {
          /* On a phone, a bottom sheet over the lower part of the screen: the call stays in
             view above it, and its close button in reach. */
        }
        {(featurePanel || panel === PEOPLE_PANEL) && (
          <div class="fixed inset-x-0 bottom-0 z-40 h-[62vh] px-2 pb-2 sm:static sm:z-auto sm:h-auto sm:w-80 sm:p-0">
            {featurePanel
              ? <featurePanel.Panel meeting={meeting} close={close} />
              : <ParticipantsPanel meeting={meeting} features={features} onClose={close} />}
          </div>
        )}
      </div>
      <ControlBar meeting={meeting} features={features} controls={controls} state={ui} />
    </div>
  );
}
