import type { ComponentChildren } from "preact";
import type { TileModel } from "./VideoTile.tsx";
import { Icon } from "./icons.tsx";
import { SidePanel } from "./SidePanel.tsx";

const LINK_TEXT = {
  self: "You",
  connected: "Connected",
  connecting: "Connecting…",
  failed: "Connection failed",
} as const;

/**
 * Everyone in the meeting with their state; reads the camera tiles (one per person). `badges`
 * gives each row the features' indicators (a raised hand, "Host"), `actions` the features'
 * actions on that person (the host's menu), at the end of the row.
 */
export function ParticipantsPanel(
  { people, capacity, onClose, badges, actions }: {
    people: TileModel[];
    capacity: number | null;
    onClose(): void;
    badges(person: TileModel): ComponentChildren;
    actions?(person: TileModel): ComponentChildren;
  },
) {
  return (
    <SidePanel
      panelId="people"
      label="Participants"
      title={
        <>
          Participants{" "}
          <span class="text-sm font-normal text-slate-400">
            ({people.length}
            {capacity ? ` of ${capacity}` : ""})
          </span>
        </>
      }
      onClose={onClose}
    >
      <ul class="flex-1 divide-y divide-slate-800 overflow-y-auto px-4">
        {people.map((p) => (
          <li
            key={p.key}
            data-peer={p.self ? "self" : p.peer}
            class="flex items-center gap-3 py-3 text-sm"
          >
            <span class="min-w-0 flex-1">
              <span class="block truncate font-medium text-white">
                {p.name}
                {p.self ? " (you)" : ""}
              </span>
              <span class="text-xs text-slate-400">
                {!p.verified
                  ? "Could not verify: their link's key differs"
                  : !p.online
                  ? "Reconnecting…"
                  : LINK_TEXT[p.link]}
              </span>
              {p.safetyCode && p.kind === "camera" && (
                <span
                  class="mt-1 block text-xs text-slate-400"
                  title={`Compare with what ${p.name} sees for you: the same symbols mean nobody is between you.`}
                >
                  Safety code{" "}
                  <span
                    role="img"
                    data-safety-code={p.safetyCode.map((s) => s.name).join(" ")}
                    aria-label={`Safety code with ${p.name}: ${
                      p.safetyCode.map((s) => s.name).join(", ")
                    }`}
                    class="text-base tracking-widest"
                  >
                    {p.safetyCode.map((s) => s.emoji).join("")}
                  </span>
                </span>
              )}
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
            {actions?.(p)}
          </li>
        ))}
      </ul>
    </SidePanel>
  );
}
