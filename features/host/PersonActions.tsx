import { useSignal } from "@preact/signals";
import { useRef } from "preact/hooks";
import { ActionMenu, type MenuAction } from "../../components/meeting/ActionMenu.tsx";
import { ConfirmDialog } from "../../components/meeting/ConfirmDialog.tsx";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { PeerId } from "../../mesh/types.ts";
import { host } from "./host.ts";

/**
 * A host's menu on one participant's row ("Actions for Carol"): roles, requests to turn things
 * off, and removal (after a confirmation that says it cannot be undone). On our own row, the
 * one thing to offer is leaving the host role while another host remains. Nothing for people
 * who are not hosts.
 */
export function PersonActions({ meeting, peer }: { meeting: MeetingCore; peer: PeerId | null }) {
  const feature = meeting.feature(host);
  const room = feature.room;
  const confirming = useSignal(false);
  const button = useRef<HTMLButtonElement>(null);
  if (!room.isHost.value) return null;
  const hosts = room.hosts.value;
  const self = meeting.self.value;

  if (peer === null) {
    const others = hosts.filter((h) => h !== self);
    if (!self || others.length === 0) return null;
    return (
      <ActionMenu
        id="person-actions-self"
        label="Actions for you"
        actions={[{ label: "Leave the host role", onSelect: () => feature.setRole(self, false) }]}
      />
    );
  }

  const person = meeting.peers.value.find((p) => p.peer === peer);
  if (!person) return null;
  const name = person.name;
  const isHost = hosts.includes(peer);
  const actions: MenuAction[] = isHost
    ? [{ label: "Remove as host", onSelect: () => feature.setRole(peer, false) }]
    : [
      { label: "Make co-host", onSelect: () => feature.setRole(peer, true) },
      { label: "Make host and leave the role", onSelect: () => feature.handOver(peer) },
    ];
  if (!person.audioMuted) {
    actions.push({ label: "Ask to mute", onSelect: () => feature.mute(peer, "audio") });
  }
  if (!person.videoOff) {
    actions.push({ label: "Ask to stop camera", onSelect: () => feature.mute(peer, "video") });
  }
  if (person.screen) {
    actions.push({ label: "Ask to stop sharing", onSelect: () => feature.mute(peer, "screen") });
  }
  // Hosts are removed as hosts first (the server insists): one step at a time, on purpose.
  if (!isHost) {
    actions.push({
      label: "Remove from meeting",
      danger: true,
      onSelect: () => (confirming.value = true),
    });
  }

  return (
    <>
      <ActionMenu
        id={`person-actions-${peer}`}
        label={`Actions for ${name}`}
        actions={actions}
        buttonRef={button}
      />
      {confirming.value && (
        <ConfirmDialog
          title={`Remove ${name} from the meeting?`}
          confirmLabel="Remove"
          returnFocus={() => button.current}
          onCancel={() => (confirming.value = false)}
          onConfirm={() => {
            confirming.value = false;
            feature.remove(peer);
          }}
        >
          <p>
            {name}{" "}
            leaves at once and cannot come back to this meeting from this browser. The meeting link
            changes for everyone else, so an old copy of it no longer gets in.
          </p>
          <p class="font-semibold text-slate-100">This can't be undone.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
