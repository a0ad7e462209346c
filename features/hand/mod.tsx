/** Raise hand: a toggle in the control bar and a hand on the tile of whoever raised one. */
import { featureModule } from "../../components/meeting/slots.ts";
import { Icon } from "../../components/meeting/icons.tsx";
import { hand } from "./hand.ts";

/** A raised hand (24×24 path, drawn in currentColor). */
const HAND_ICON =
  "M12 2a1.5 1.5 0 0 1 1.5 1.5V11h1V4.5a1.5 1.5 0 0 1 3 0V12h1V7.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-13.3 3L5 13.6a1.5 1.5 0 0 1 2.6-1.5L9.5 15V4.5a1.5 1.5 0 0 1 1-1.4V3.5A1.5 1.5 0 0 1 12 2z";

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
});
