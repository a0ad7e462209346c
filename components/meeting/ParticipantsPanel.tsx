import type { ComponentChildren } from "preact";
import type { TileModel } from "./VideoTile.tsx";
import { Icon } from "./icons.tsx";

const LINK_TEXT = {
  self: "You",
  connected: "Connected",
  connecting: "Connecting…",
  failed: "Connection failed",
} as const;

/**
 * Everyone in the meeting with their state; reads the camera tiles (one per person). `badges`
 * gives each row the features' indicators (a raised hand).
 */
export function ParticipantsPanel(
  { people, capacity, onClose, badges }: {
    people: TileModel[];
    capacity: number | null;
    onClose(): void;
    badges(person: TileModel): ComponentChildren;
  },
) {
  return (
    <aside
      id="people-panel"
      aria-label="Participants"
      class="flex h-full w-full flex-col rounded-2xl bg-slate-900 ring-1 ring-slate-800"
    >
      <div class="flex items-center justify-between border-b border-slate-800 px-4 py-3">
        <h2 class="font-semibold text-white">
          Participants{" "}
          <span class="text-sm font-normal text-slate-400">
            ({people.length}
            {capacity ? ` of ${capacity}` : ""})
          </span>
        </h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close participants"
          class="rounded-lg p-1 text-slate-300 hover:bg-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          <Icon name="close" />
        </button>
      </div>
      <ul class="flex-1 divide-y divide-slate-800 overflow-y-auto px-4">
        {people.map((p) => (
          <li key={p.key} class="flex items-center gap-3 py-3 text-sm">
            <span class="min-w-0 flex-1">
              <span class="block truncate font-medium text-white">
                {p.name}
                {p.self ? " (you)" : ""}
              </span>
              <span class="text-xs text-slate-400">
                {!p.online ? "Reconnecting…" : LINK_TEXT[p.link]}
              </span>
            </span>
            {badges(p)}
            <span class={p.muted ? "text-rose-300" : "text-slate-300"}>
              <Icon name={p.muted ? "micOff" : "mic"} class="h-4 w-4" />
              <span class="sr-only">{p.muted ? "Muted" : "Microphone on"}</span>
            </span>
            <span class={p.videoOff ? "text-rose-300" : "text-slate-300"}>
              <Icon name={p.videoOff ? "camOff" : "cam"} class="h-4 w-4" />
              <span class="sr-only">{p.videoOff ? "Camera off" : "Camera on"}</span>
            </span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
