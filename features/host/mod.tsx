/**
 * Host controls: a "Host controls" panel for hosts (lock, lobby and who is waiting, mute everyone,
 * end the meeting), a menu of actions on each participant's row for hosts, and a "Host" badge
 * next to every host's name.
 */
import { featureModule } from "../../components/meeting/slots.ts";
import { host } from "./host.ts";
import { HostPanel } from "./HostPanel.tsx";
import { PersonActions } from "./PersonActions.tsx";

/** A shield with a check mark (24×24 path, drawn in currentColor). */
const HOST_ICON =
  "M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5zm-1 13-3.5-3.5 1.4-1.4 2.1 2.1 4.6-4.6 1.4 1.4z";

export default featureModule(host, {
  panel: {
    id: "host",
    label: "Host controls",
    icon: HOST_ICON,
    badge: (meeting) => meeting.room.knocks.value.length,
    badgeLabel: "waiting",
    visible: (meeting) => meeting.room.isHost.value,
    Panel: HostPanel,
  },
  PersonActions,
  TileBadge: ({ meeting, peer }) => {
    const room = meeting.room;
    const isHost = peer === null ? room.isHost.value : room.hosts.value.includes(peer);
    return isHost
      ? (
        <span class="shrink-0 rounded-md bg-amber-300 px-1.5 py-0.5 text-xs font-semibold text-slate-950">
          Host
        </span>
      )
      : null;
  },
});
