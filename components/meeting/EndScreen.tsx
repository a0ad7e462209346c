import type { MeetingEnd } from "../../mesh/types.ts";

type Kind = MeetingEnd["kind"];

/** What ended it and what the person can do, per kind. */
interface EndText {
  title: string;
  advice: string;
  /** Whether to offer "Rejoin": not where joining again cannot work. */
  rejoin: boolean;
  /** Whether the core's reason text adds anything to `advice`. */
  showMessage: boolean;
}

const TEXTS: Record<Kind, EndText> = {
  left: {
    title: "You left the meeting",
    advice: "Rejoin whenever you like; the link stays valid while others are in the meeting.",
    rejoin: true,
    showMessage: false,
  },
  "room-full": {
    title: "This meeting is full",
    advice: "Ask someone to leave, or start a new meeting and share its link.",
    rejoin: true,
    showMessage: true,
  },
  locked: {
    title: "This meeting is locked",
    advice: "A host locked it, so nobody new can join. Ask a host to unlock it, then try again.",
    rejoin: true,
    showMessage: false,
  },
  evicted: {
    title: "You were removed from the meeting",
    advice:
      "Your browser could not connect directly to everyone in time. A VPN or a strict firewall can block direct connections: try another network, or ask whoever runs this server to configure a TURN server.",
    rejoin: true,
    showMessage: true,
  },
  unreachable: {
    title: "Can't reach the meeting server",
    advice: "Check your internet connection, then rejoin.",
    rejoin: true,
    showMessage: true,
  },
  error: {
    title: "The meeting ended unexpectedly",
    advice: "Rejoin; if it keeps happening, reload the page.",
    rejoin: true,
    showMessage: true,
  },
  denied: {
    title: "You weren't let in",
    advice:
      "A host did not let you in, or no host was there to do it. Ask someone in the meeting to let you in, then ask again.",
    rejoin: true,
    showMessage: true,
  },
  // The server refuses this browser in this meeting from now on: no button that cannot work.
  removed: {
    title: "You were removed by the host",
    advice:
      "You can't rejoin this meeting. If it was a mistake, ask the host to invite you to a new meeting.",
    rejoin: false,
    showMessage: false,
  },
  ended: {
    title: "The host ended the meeting",
    advice: "The meeting is over for everyone and its link no longer works.",
    rejoin: false,
    showMessage: false,
  },
};

/** Who did it, in a sentence, for the kinds a host causes; null when unknown. */
function byLine(kind: Kind, by: string | undefined): string | null {
  // A name is never empty (checkName); no name, no sentence: "A host" is in the title already.
  if (!by) return null;
  if (kind === "removed") return `${by} removed you from this meeting.`;
  if (kind === "ended") return `${by} ended the meeting for everyone.`;
  if (kind === "denied") return `${by} did not let you in.`;
  return null;
}

/** The screen after the meeting ended for this page: what happened and what can be done now. */
export function EndScreen({ end, onRejoin }: { end: MeetingEnd; onRejoin(): void }) {
  const kind = end.kind;
  const text = TEXTS[kind] ?? TEXTS.error;
  const by = byLine(kind, end.byName);
  return (
    <section class="flex flex-1 flex-col items-center justify-center px-4 py-16 text-center">
      <div class="w-full max-w-md rounded-2xl bg-slate-900 p-8 ring-1 ring-slate-800">
        <h1 class="text-2xl font-bold text-white">{text.title}</h1>
        {by && <p class="mt-3 text-slate-200">{by}</p>}
        {!by && text.showMessage && end.message && <p class="mt-3 text-slate-200">{end.message}</p>}
        <p class="mt-3 text-sm text-slate-400">{text.advice}</p>
        <div class="mt-6 flex flex-col justify-center gap-3 sm:flex-row">
          {text.rejoin && (
            <button
              type="button"
              onClick={onRejoin}
              class="rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
            >
              Rejoin
            </button>
          )}
          {kind === "ended" && (
            // A plain form, like the home page's: works before and without hydration.
            <form method="post" action="/new">
              <button
                type="submit"
                class="w-full rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
              >
                Start a new meeting
              </button>
            </form>
          )}
          <a
            href="/"
            class="rounded-xl bg-slate-800 px-5 py-3 font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
          >
            Home
          </a>
        </div>
      </div>
    </section>
  );
}
