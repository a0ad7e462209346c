/**
 * Raise hand: a toggle in the control bar, a hand on the tile of whoever raised one, a toast and
 * a sound when someone raises theirs, and raised hands first in the participants list, in the
 * order they went up.
 */
import { effect } from "@preact/signals-core";
import { useEffect } from "preact/hooks";
import { featureModule } from "../../components/meeting/slots.ts";
import { Icon } from "../../components/meeting/icons.tsx";
import { playSound } from "../../components/meeting/sounds.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { hand } from "./hand.ts";

/** A raised hand (24×24 path, drawn in currentColor). */
const HAND_ICON =
  "M12 2a1.5 1.5 0 0 1 1.5 1.5V11h1V4.5a1.5 1.5 0 0 1 3 0V12h1V7.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-13.3 3L5 13.6a1.5 1.5 0 0 1 2.6-1.5L9.5 15V4.5a1.5 1.5 0 0 1 1-1.4V3.5A1.5 1.5 0 0 1 12 2z";

/**
 * A hand heard of this long after it went up is old news (it was up when our link opened): it
 * shows, but without a toast or a sound.
 */
const NEWS_MS = 5_000;

/** "Ada raised their hand", with a sound, for each hand the others raise from now on. */
function HandAlerts({ meeting }: { meeting: MeetingCore }) {
  useEffect(() => {
    const feature = meeting.feature(hand);
    let known = new Set(feature.raisedAt.peek().keys());
    return effect(() => {
      const raisedAt = feature.raisedAt.value;
      const now = Date.now();
      for (const [peer, at] of raisedAt) {
        if (known.has(peer) || now - at > NEWS_MS) continue;
        const name = meeting.peers.peek().find((p) => p.peer === peer)?.name || "Someone";
        meeting.notify("info", `${name} raised their hand`);
        playSound("hand");
      }
      known = new Set(raisedAt.keys());
    });
  }, []);
  return null;
}

export default featureModule(hand, {
  controls: [{
    id: "hand",
    label: "Raise hand",
    icon: HAND_ICON,
    shortcut: "H",
    pressed: (meeting) => meeting.feature(hand).raised.value,
    onPress: (meeting) => {
      const feature = meeting.feature(hand);
      feature.set(!feature.raised.peek());
    },
  }],
  TileBadge: ({ meeting, peer }) => {
    const feature = meeting.feature(hand);
    const up = peer === null ? feature.raised.value : feature.raisedBy.value.has(peer);
    return up
      ? (
        <span title="Hand raised" class="text-amber-300">
          <Icon path={HAND_ICON} class="h-4 w-4" />
          <span class="sr-only">Hand raised</span>
        </span>
      )
      : null;
  },
  rank: (meeting) => meeting.feature(hand).order.value,
  Alerts: HandAlerts,
});
