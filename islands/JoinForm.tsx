import { useSignal } from "@preact/signals";
import { useRef } from "preact/hooks";
import { Button } from "../components/Button.tsx";
import { parseRoomInput } from "../signaling/room_id.ts";

interface Props {
  /** Pre-filled text, e.g. what was rejected by the server on the no-JavaScript path. */
  initialValue: string;
  initialError: boolean;
}

const ERROR =
  "That isn't a meeting link or id. Paste the whole link, or an id like k3fq-9xmp-2hdw-7rtc-a4ze.";

/** "Join": accepts a full meeting link or a bare id; without JavaScript the server does the same. */
export default function JoinForm({ initialValue, initialError }: Props) {
  const value = useSignal(initialValue);
  const error = useSignal(initialError ? ERROR : "");
  const input = useRef<HTMLInputElement>(null);

  function onSubmit(e: Event) {
    e.preventDefault();
    const id = parseRoomInput(value.value);
    if (!id) {
      error.value = value.value.trim() === "" ? "Enter a meeting link or id first." : ERROR;
      input.current?.focus();
      return;
    }
    error.value = "";
    location.assign(`/${id}`);
  }

  return (
    <form method="get" action="/" onSubmit={onSubmit} noValidate>
      <label for="join-room" class="block text-sm font-medium text-slate-200">
        Join with a link or meeting id
      </label>
      <div class="mt-2 flex flex-col gap-3 sm:flex-row">
        <input
          ref={input}
          id="join-room"
          name="room"
          type="text"
          inputMode="url"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder="k3fq-9xmp-2hdw-7rtc-a4ze"
          value={value}
          onInput={(e) => {
            value.value = e.currentTarget.value;
            if (error.value) error.value = "";
          }}
          aria-invalid={error.value ? "true" : "false"}
          aria-describedby={error.value ? "join-error" : undefined}
          class="min-w-0 flex-1 rounded-xl bg-slate-950 px-4 py-3 text-base text-white placeholder-slate-500 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400 aria-[invalid=true]:ring-rose-400"
        />
        <Button type="submit" variant="secondary">Join</Button>
      </div>
      <p id="join-error" role="alert" class="mt-2 min-h-[1.25rem] text-sm text-rose-300">
        {error}
      </p>
    </form>
  );
}
