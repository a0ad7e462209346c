import { useEffect, useRef } from "preact/hooks";
import type { MeetingEnd } from "../../mesh/types.ts";

type Kind = MeetingEnd["kind"];

/** What ended it and what the person can do now: one instruction, matching the buttons. */
interface EndText {
  title: string;
  /** What happened, in a sentence; none when the title says it all. */
  what?: string;
  /** Why it likely happened, where the person can do something about it. */
  why?: string;
  /** What to do, naming the buttons below. */
  advice: string;
  /** Whether to offer "Rejoin" (or "Try again"): not where joining again cannot work. */
  again: boolean;
  /** Whether to offer "Start a new meeting" (a form POST to /new). */
  newMeeting?: boolean;
}

/** "Carol", "Carol and Dan", "Carol, Dan and Eve". */
function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** Whom we could not connect to, as well as we know: names, a count, or everyone. */
function whom(end: MeetingEnd): string {
  const ids = end.unreachable ?? [];
  const names = end.unreachableNames ?? [];
  if (ids.length > 0 && names.length === ids.length) return listNames(names);
  if (ids.length === 1) return "one person in the meeting";
  if (ids.length > 1) return `${ids.length} people in the meeting`;
  return "everyone in the meeting";
}

/** Who did it, in a sentence, for the kinds a host causes; null when unknown. */
function byLine(kind: Kind, by: string | undefined): string | null {
  // A name is never empty (checkName); no name, no sentence: "A host" is in the title already.
  if (!by) return null;
  if (kind === "removed") return `${by} removed you from this meeting.`;
  if (kind === "ended") return `${by} ended the meeting for everyone.`;
  if (kind === "denied") return `${by} did not let you in.`;
  return null;
}

/**
 * The words for `end`. `joined`: whether we had got in (a peer id), which decides between
 * "Rejoin" and "Try again" and what the advice names.
 */
function endText(end: MeetingEnd, joined: boolean): EndText {
  const again = joined ? "Rejoin" : "Try again";
  switch (end.kind) {
    case "left":
      return joined
        ? {
          title: "You left the meeting",
          advice: "Rejoin whenever you like; the link works while others are in the meeting.",
          again: true,
        }
        : {
          title: "You left the lobby",
          advice: "Nobody let you in yet. Try again whenever you like: a host decides who joins.",
          again: true,
        };
    case "room-full":
      return {
        title: "This meeting is full",
        what: "Every place in it is taken.",
        advice: `${again} once someone has left, or start a new meeting and share its link.`,
        again: true,
        newMeeting: true,
      };
    case "locked":
      return {
        title: "This meeting is locked",
        what: "A host locked it, so nobody new can join.",
        advice: `Ask a host to unlock it, then ${again.toLowerCase()}.`,
        again: true,
      };
    case "denied":
      return {
        title: "You weren't let in",
        what: "A host did not let you in, or no host was there to do it.",
        advice: "Ask someone in the meeting to let you in, then try again.",
        again: true,
      };
    case "removed":
      // The server refuses this browser in this meeting from now on: no button that cannot work.
      return {
        title: "You were removed by the host",
        advice:
          "You can't rejoin this meeting. If it was a mistake, ask the host to invite you to a new meeting.",
        again: false,
      };
    case "ended":
      return {
        title: "The host ended the meeting",
        advice: "The meeting is over for everyone and its link no longer works.",
        again: false,
        newMeeting: true,
      };
    case "evicted":
      return evictedText(end);
    case "unreachable":
      return joined
        ? {
          title: "Can't reach the meeting server",
          // The meeting's own words: for how long, and that nobody was reachable either.
          what: end.message,
          advice: "Check your internet connection, then rejoin.",
          again: true,
        }
        : {
          title: "Can't reach the meeting server",
          what: "Your browser could not connect to the meeting server.",
          advice: "Check your internet connection, then try again.",
          again: true,
        };
    default:
      return {
        title: "The meeting ended unexpectedly",
        what: end.message,
        advice: `${again} in a moment; if it keeps happening, reload the page.`,
        again: true,
      };
  }
}

/** The server took us out of the meeting: why, in words a person can act on. */
function evictedText(end: MeetingEnd): EndText {
  switch (end.eviction) {
    case "replaced":
      return {
        title: "This meeting is open in another tab",
        what: "You opened it in another tab or window, so it closed here.",
        advice: "Go on in the other one, or rejoin here (the other one then closes).",
        again: true,
      };
    case "grace-expired":
    case "heartbeat":
      return {
        title: "You lost your place in the meeting",
        what: "Your connection was gone longer than the meeting keeps a place for you.",
        advice: "Check your internet connection, then rejoin.",
        again: true,
      };
    default:
      // mesh-incomplete: everyone must reach everyone directly, and we could not.
      return {
        title: "Your connection couldn't reach everyone",
        what: `Your browser couldn't connect directly to ${whom(end)} in time, so the ` +
          "meeting went on without you to keep working for the others.",
        why: "This usually happens when a firewall, VPN or network (often at work, school or " +
          "a hotel) blocks direct connections between browsers.",
        advice: "Rejoin to try again. If it happens again, try another network (turn off the " +
          "VPN, or use your phone's hotspot), or ask whoever runs this server to set up a TURN " +
          "server.",
        again: true,
      };
  }
}

/**
 * The screen after the meeting ended for this page: what happened, why where it helps, and one
 * thing to do, matching the buttons. `joined`: whether this page had got into the meeting
 * ("Rejoin") or was turned away at the door ("Try again").
 */
export function EndScreen(
  { end, joined = true, onRejoin }: { end: MeetingEnd; joined?: boolean; onRejoin(): void },
) {
  const text = endText(end, joined);
  const by = byLine(end.kind, end.byName);
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus goes to what happened, so a screen reader says it (the button pressed is gone).
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class="flex flex-1 flex-col items-center justify-center px-4 py-16 text-center">
      <div class="w-full max-w-md rounded-2xl bg-slate-900 p-8 ring-1 ring-slate-800">
        <h1 ref={heading} tabIndex={-1} class="text-2xl font-bold text-white focus:outline-none">
          {text.title}
        </h1>
        {by
          ? <p class="mt-3 text-slate-200">{by}</p>
          : text.what && <p class="mt-3 text-slate-200">{text.what}</p>}
        {text.why && <p class="mt-3 text-sm text-slate-300">{text.why}</p>}
        <p class="mt-3 text-sm text-slate-300">{text.advice}</p>
        <div class="mt-6 flex flex-col justify-center gap-3 sm:flex-row sm:flex-wrap">
          {text.again && (
            <button
              type="button"
              onClick={onRejoin}
              class="whitespace-nowrap rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
            >
              {joined ? "Rejoin" : "Try again"}
            </button>
          )}
          {text.newMeeting && (
            // A plain form, like the home page's: works before and without hydration.
            <form method="post" action="/new">
              <button
                type="submit"
                class={`w-full whitespace-nowrap rounded-xl px-5 py-3 font-semibold focus:outline-none focus-visible:ring-2 ${
                  text.again
                    ? "bg-slate-800 text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus-visible:ring-slate-300"
                    : "bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-300"
                }`}
              >
                Start a new meeting
              </button>
            </form>
          )}
          <a
            href="/"
            class="whitespace-nowrap rounded-xl bg-slate-800 px-5 py-3 font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
          >
            Home
          </a>
        </div>
      </div>
    </section>
  );
}
