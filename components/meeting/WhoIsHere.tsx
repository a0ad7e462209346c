import type { Occupancy } from "../../mesh/room_occupancy.ts";

/** What someone whose card did not open (another key, or none) is called. */
export const SOMEONE = "Someone";

/** Whether "Join" cannot work now: nobody new gets into a full or ended meeting. */
export function joinBlocked(occupancy: Occupancy | null): boolean {
  return occupancy !== null && (occupancy.full || occupancy.ended);
}

/** "No one else is here yet", "1 person is here", "3 people are here", "full (8 of 8)". */
function headline(o: Occupancy): string {
  if (o.ended) return "This meeting has ended";
  if (o.full) return `This meeting is full (${o.members} of ${o.capacity})`;
  if (o.members === 0) return "No one else is here yet";
  return o.members === 1 ? "1 person is here" : `${o.members} people are here`;
}

/** What it means for joining, and what to do. */
function advice(o: Occupancy): string[] {
  if (o.ended) {
    return [
      "A host ended it for everyone, so this link no longer works. Start a new meeting to " +
      "meet again.",
    ];
  }
  const lines: string[] = [];
  if (o.full) {
    lines.push(
      "Join turns on by itself as soon as someone leaves. Or start a new meeting and share " +
        "its link.",
    );
  } else if (o.locked) {
    lines.push("A host locked this meeting: only its hosts can join now.");
  } else if (o.lobby) lines.push("A host lets people in: you'll wait until they do.");
  if (o.members === 0 && !o.full) lines.push("Share the invite link so others can join you.");
  return lines;
}

/**
 * Who is in the meeting, on the pre-join screen: a count, the names (opened with the meeting
 * key; "Someone" for a card that does not open), and when joining cannot work (full, ended),
 * why and what to do. A polite status region: changes are announced, and it is empty until the
 * first answer.
 */
export function WhoIsHere({ occupancy }: { occupancy: Occupancy | null }) {
  const o = occupancy;
  const blocked = joinBlocked(o);
  return (
    <>
      <div
        id="prejoin-occupancy"
        role="status"
        aria-label="Who's here"
        class="mt-4 min-h-[1.5rem] text-sm"
      >
        {o && (
          <>
            <p class={`font-medium ${blocked ? "text-amber-200" : "text-slate-200"}`}>
              {headline(o)}
            </p>
            {o.names.length > 0 && !o.ended && (
              <ul aria-label="Already here" class="mt-2 flex flex-wrap gap-2">
                {o.names.map((name, i) => (
                  <li
                    key={i}
                    class="max-w-[12rem] truncate rounded-full bg-slate-800 px-3 py-1 text-slate-200 ring-1 ring-slate-700"
                  >
                    {name ?? SOMEONE}
                  </li>
                ))}
              </ul>
            )}
            {advice(o).map((line) => <p key={line} class="mt-2 text-slate-400">{line}</p>)}
          </>
        )}
      </div>
      {blocked && (
        // A plain form, like the home page's: a new room, and a new key made in the browser.
        <form method="post" action="/new" class="mt-3">
          <button
            type="submit"
            class="rounded-xl bg-slate-800 px-4 py-2 text-sm font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
          >
            Start a new meeting
          </button>
        </form>
      )}
    </>
  );
}
