import type { MeetingCore } from "../../mesh/meeting.ts";
import type { LinkState } from "../../mesh/types.ts";
import { Icon } from "./icons.tsx";
import { SidePanel } from "./SidePanel.tsx";
import type { FeatureModule } from "./slots.ts";

const LINK_TEXT = {
  connected: "Connected",
  connecting: "Connecting…",
  failed: "Connection failed",
} as const;

/** One row of the list. */
export interface Person {
  /** Peer id; ours is our own (`"self"` before the server gave us one). */
  peer: string;
  self: boolean;
  name: string;
  muted: boolean;
  videoOff: boolean;
  link: LinkState | "self";
  online: boolean;
  verified: boolean;
  safetyCode: readonly { emoji: string; name: string }[] | null;
}

/** Everyone in the meeting: us first, then the others in join order. */
export function peopleOf(meeting: MeetingCore): Person[] {
  const media = meeting.media;
  const self: Person = {
    peer: meeting.self.value ?? "self",
    self: true,
    name: meeting.local.value?.name ?? "",
    muted: !media.micOn.value,
    videoOff: media.video.value === null,
    link: "self",
    online: true,
    verified: true,
    safetyCode: null,
  };
  return [
    self,
    ...meeting.peers.value.map((p) => ({
      peer: p.peer,
      self: false,
      name: p.name,
      muted: p.audioMuted,
      videoOff: p.videoOff || !p.camera?.getVideoTracks().length,
      link: p.link,
      online: p.online,
      verified: p.verified,
      safetyCode: p.safetyCode,
    })),
  ];
}

/**
 * `people` with those the features rank (raised hands, in the order raised) first, in that
 * order; the rest keep theirs.
 */
export function ranked<P extends { peer: string }>(people: readonly P[], rank: readonly string[]) {
  const at = new Map<string, number>();
  for (const peer of rank) if (!at.has(peer)) at.set(peer, at.size);
  const first = people.filter((p) => at.has(p.peer)).sort((a, b) =>
    at.get(a.peer)! - at.get(b.peer)!
  );
  return [...first, ...people.filter((p) => !at.has(p.peer))];
}

/**
 * Everyone in the meeting with their state. The features give each row their indicators (a
 * raised hand, "Host", `TileBadge`), their actions on that person at the end of the row (the
 * host's menu, `PersonActions`), and who comes first (`rank`).
 */
export function ParticipantsPanel(
  { meeting, features, onClose }: {
    meeting: MeetingCore;
    features: readonly FeatureModule[];
    onClose(): void;
  },
) {
  const people = ranked(
    peopleOf(meeting),
    features.flatMap((f) => f.ui.rank?.(meeting) ?? []),
  );
  const capacity = meeting.members.value.length ? meeting.capacity.value : null;
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
        {people.map((p) => {
          // Slots take null for ourselves.
          const peer = p.self ? null : p.peer;
          return (
            <li
              key={p.self ? "self" : p.peer}
              data-peer={p.self ? "self" : p.peer}
              class="flex items-center gap-3 py-3 text-sm"
            >
              <span class="min-w-0 flex-1">
                <span class="block truncate font-medium text-white">
                  {p.name}
                  {p.self ? " (you)" : ""}
                </span>
                {!p.self && (
                  <span class="text-xs text-slate-400">
                    {!p.verified
                      ? "Could not verify: their link's key differs"
                      : !p.online
                      ? "Reconnecting…"
                      : LINK_TEXT[p.link as LinkState]}
                  </span>
                )}
                {p.safetyCode && (
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
                      class="font-emoji text-base tracking-widest"
                    >
                      {p.safetyCode.map((s) => s.emoji).join("")}
                    </span>
                  </span>
                )}
              </span>
              {features.map(({ definition, ui }) =>
                ui.TileBadge && <ui.TileBadge key={definition.name} meeting={meeting} peer={peer} />
              )}
              <span class={p.muted ? "text-rose-300" : "text-slate-300"}>
                <Icon name={p.muted ? "micOff" : "mic"} class="h-4 w-4" />
                <span class="sr-only">{p.muted ? "Muted" : "Microphone on"}</span>
              </span>
              <span class={p.videoOff ? "text-rose-300" : "text-slate-300"}>
                <Icon name={p.videoOff ? "camOff" : "cam"} class="h-4 w-4" />
                <span class="sr-only">{p.videoOff ? "Camera off" : "Camera on"}</span>
              </span>
              {features.map(({ definition, ui }) =>
                ui.PersonActions && (
                  <ui.PersonActions key={definition.name} meeting={meeting} peer={peer} />
                )
              )}
            </li>
          );
        })}
      </ul>
    </SidePanel>
  );
}
