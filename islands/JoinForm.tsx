import { useSignal } from "@preact/signals";
import { useRef } from "preact/hooks";
import { Button } from "../components/Button.tsx";
import { meetingLink, type MeetingLinkResult, parseMeetingLink } from "../mesh/meeting_key.ts";

interface Props {
  /** An error to show from the start, e.g. the server's answer to an old `/?room=` address. */
  initialError?: string;
}

type Refusal = Extract<MeetingLinkResult, { ok: false }>["reason"];

/** What to tell the person for each way a pasted text is not a whole meeting link. */
const JOIN_ERRORS: Record<Refusal | "empty", string> = {
  empty: "Paste the meeting link first.",
  "bare-room":
    "A meeting id alone isn't enough: that link is missing its key, the part after #. Ask for the whole link.",
  "no-key": "That link is missing its key, the part after #. Ask for the whole link.",
  "bad-key":
    "That link's key, the part after #, is cut short or damaged. Copy the whole link again.",
  "other-origin":
    "That link is to a meeting on another server: open it directly in your browser's address bar.",
  malformed:
    "That isn't a meeting link. Paste the whole link you were sent, like https://…/xxxx-xxxx-xxxx-xxxx-xxxx#… with its key after #.",
};

/**
 * "Join": accepts the whole meeting link (with its key after `#`) and opens it.
 *
 * The field has no `name` and the form submits only through this island: a form GET would put a
 * pasted link, key included, into the query string (`?room=…%23key`) and so into the server's
 * logs. Without JavaScript the form sends nothing, and a note says meetings need JavaScript.
 */
export default function JoinForm({ initialError = "" }: Props) {
  const value = useSignal("");
  const error = useSignal(initialError);
  const input = useRef<HTMLInputElement>(null);

  function onSubmit(e: Event) {
    e.preventDefault();
    const text = value.value;
    const link = parseMeetingLink(text, location.origin);
    if (!link.ok) {
      error.value = text.trim() === "" ? JOIN_ERRORS.empty : JOIN_ERRORS[link.reason];
      input.current?.focus();
      return;
    }
    error.value = "";
    location.assign(meetingLink(location.origin, link.room, link.key));
  }

  return (
    <form method="get" action="/" onSubmit={onSubmit} noValidate>
      <label for="join-room" class="block text-sm font-medium text-slate-200">
        Join with a meeting link
      </label>
      <div class="mt-2 flex flex-col gap-3 sm:flex-row">
        <input
          ref={input}
          id="join-room"
          type="text"
          inputMode="url"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder="Paste the whole link you were sent"
          value={value}
          onInput={(e) => {
            value.value = e.currentTarget.value;
            if (error.value) error.value = "";
          }}
          aria-invalid={error.value ? "true" : "false"}
          aria-describedby={error.value ? "join-error join-hint" : "join-hint"}
          class="min-w-0 flex-1 rounded-xl bg-slate-950 px-4 py-3 text-base text-white placeholder-slate-500 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400 aria-[invalid=true]:ring-rose-400"
        />
        <Button type="submit" variant="secondary">Join</Button>
      </div>
      <p id="join-hint" class="mt-2 text-sm text-slate-400">
        The link ends with # and the meeting's key, which keeps it private; a meeting id alone is no
        longer enough.
      </p>
      <noscript>
        <p class="mt-2 text-sm text-amber-200">
          Meetings need JavaScript: turn it on for this site to join or start one.
        </p>
      </noscript>
      <p id="join-error" role="alert" class="mt-2 min-h-[1.25rem] text-sm text-rose-300">
        {error}
      </p>
    </form>
  );
}
