import type { MeetingEnd } from "../../mesh/types.ts";

const TITLES: Record<MeetingEnd["kind"], string> = {
  left: "You left the meeting",
  "room-full": "This meeting is full",
  locked: "This meeting is locked",
  evicted: "You were removed from the meeting",
  unreachable: "Can't reach the meeting server",
  error: "The meeting ended unexpectedly",
};

const ADVICE: Record<MeetingEnd["kind"], string> = {
  left: "Rejoin whenever you like; the link stays valid while others are in the meeting.",
  "room-full": "Ask someone to leave, or start a new meeting and share its link.",
  locked: "Ask the host to unlock the meeting, then rejoin.",
  evicted:
    "Your browser could not connect directly to everyone in time. A VPN or a strict firewall can block direct connections: try another network, or ask whoever runs this server to configure a TURN server.",
  unreachable: "Check your internet connection, then rejoin.",
  error: "Rejoin; if it keeps happening, reload the page.",
};

export function EndScreen({ end, onRejoin }: { end: MeetingEnd; onRejoin(): void }) {
  return (
    <section class="flex flex-1 flex-col items-center justify-center px-4 py-16 text-center">
      <div class="w-full max-w-md rounded-2xl bg-slate-900 p-8 ring-1 ring-slate-800">
        <h1 class="text-2xl font-bold text-white">{TITLES[end.kind]}</h1>
        {end.message && end.kind !== "left" && <p class="mt-3 text-slate-200">{end.message}</p>}
        <p class="mt-3 text-sm text-slate-400">{ADVICE[end.kind]}</p>
        <div class="mt-6 flex flex-col justify-center gap-3 sm:flex-row">
          <button
            type="button"
            onClick={onRejoin}
            class="rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            Rejoin
          </button>
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
