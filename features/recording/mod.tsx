/**
 * Recording: a Recording panel (start, pause, resume, stop, time and size; hosts choose who may
 * record; the recordings kept in this browser), a banner on every page saying who records, which
 * nobody can dismiss, and a "REC" badge next to each recorder's name.
 */
import { featureModule } from "../../components/meeting/slots.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { recording } from "./recording.ts";
import { RecordingPanel } from "./RecordingPanel.tsx";

/** A filled circle in a ring (24×24 path, drawn in currentColor). */
const RECORD_ICON =
  "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm0 3a5 5 0 1 0 0 10 5 5 0 0 0 0-10z";

/** "Ada", "Ada and Bob", "Ada, Bob and Cid" */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** What the banner says: who records (us first), and who has paused. */
export function bannerText(
  own: { on: boolean; paused: boolean },
  others: readonly { name: string; paused: boolean }[],
): string {
  const names = [...(own.on ? ["You"] : []), ...others.map((r) => r.name)];
  if (names.length === 0) return "";
  const verb = names.length > 1 || own.on && names.length === 1 ? "are" : "is";
  const paused = [
    ...(own.on && own.paused ? ["you"] : []),
    ...others.filter((r) => r.paused)
      .map((r) => r.name),
  ];
  const pausedText = paused.length === 0 ? "" : ` (paused by ${listNames(paused)})`;
  return `${listNames(names)} ${verb} recording this meeting${pausedText}.`;
}

/**
 * The recording indicator: on every page, for as long as anyone records. It is always in the
 * page (an empty status region otherwise), so screen readers announce it when it fills.
 */
function RecordingBanner({ meeting }: { meeting: MeetingCore }) {
  const feature = meeting.feature(recording);
  const own = feature.own.value;
  const others = feature.recorders.value;
  const text = bannerText(own, others);
  return (
    <div
      id="recording-banner"
      role="status"
      aria-label="Recording"
      data-recording={text ? "on" : "off"}
      data-recorders={others.map((r) => r.peer).join(" ") || undefined}
    >
      {text && (
        <p class="flex items-center justify-center gap-2 rounded-xl bg-rose-950 px-4 py-2 text-center text-sm font-medium text-rose-100 ring-1 ring-rose-800">
          <span aria-hidden="true" class="h-2.5 w-2.5 shrink-0 rounded-full bg-rose-500" />
          {text}
        </p>
      )}
    </div>
  );
}

export default featureModule(recording, {
  panel: {
    id: "recording",
    label: "Recording",
    icon: RECORD_ICON,
    badge: (meeting) => meeting.feature(recording).asks.value.length,
    badgeLabel: "asking to record",
    Panel: RecordingPanel,
  },
  Banner: RecordingBanner,
  TileBadge: ({ meeting, peer }) => {
    const feature = meeting.feature(recording);
    const on = peer === null
      ? feature.own.value.on
      : feature.recorders.value.some((r) => r.peer === peer);
    return on
      ? (
        <span class="shrink-0 rounded-md bg-rose-600 px-1.5 py-0.5 text-xs font-bold text-white">
          <span aria-hidden="true">REC</span>
          <span class="sr-only">Recording</span>
        </span>
      )
      : null;
  },
});
