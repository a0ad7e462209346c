import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { Button } from "../components/Button.tsx";

interface Props {
  room: string;
}

const NAME_KEY = "mooz:name";
const MAX_NAME = 64;

function readStoredName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return ""; // Storage can be disabled (private mode, policies): start empty.
  }
}

/** The screen before entering a meeting: your name (remembered) and the invite link to share. */
export default function PreJoin({ room }: Props) {
  const name = useSignal("");
  const link = useSignal(`/${room}`);
  const copied = useSignal("");
  const status = useSignal("");

  useEffect(() => {
    name.value = readStoredName();
    link.value = `${location.origin}/${room}`;
  }, [room]);

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(link.value);
      copied.value = "Link copied. Send it to the people you want to meet.";
    } catch {
      copied.value = "Copying was blocked by the browser: select the link and copy it yourself.";
    }
  }

  function onSubmit(e: Event) {
    e.preventDefault();
    const trimmed = name.value.trim();
    if (!trimmed) {
      status.value = "Enter your name so the others know who joined.";
      return;
    }
    try {
      localStorage.setItem(NAME_KEY, trimmed);
    } catch {
      // Not remembering the name is fine.
    }
    status.value = `Ready to join as ${trimmed}. Live meetings arrive in the next Mooz release.`;
  }

  return (
    <section
      class="flex flex-1 flex-col items-center justify-center py-10"
      aria-labelledby="prejoin-title"
    >
      <div class="w-full max-w-md rounded-2xl bg-slate-900 p-6 shadow-xl ring-1 ring-slate-800 sm:p-8">
        <h1 id="prejoin-title" class="text-2xl font-bold text-white">Ready to join?</h1>
        <p class="mt-1 break-all text-sm text-slate-400">
          Meeting <span class="font-mono text-slate-300">{room}</span>
        </p>
        <form class="mt-6" onSubmit={onSubmit}>
          <label for="prejoin-name" class="block text-sm font-medium text-slate-200">
            Your name
          </label>
          <input
            id="prejoin-name"
            name="name"
            type="text"
            required
            maxLength={MAX_NAME}
            autoComplete="name"
            placeholder="How others will see you"
            value={name}
            onInput={(e) => (name.value = e.currentTarget.value)}
            class="mt-2 w-full rounded-xl bg-slate-950 px-4 py-3 text-base text-white placeholder-slate-500 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
          />
          <Button type="submit" class="mt-4 w-full">Join meeting</Button>
          <p role="status" class="mt-3 min-h-[1.25rem] text-sm text-slate-300">{status}</p>
        </form>
        <div class="mt-4 border-t border-slate-800 pt-4">
          <label for="prejoin-link" class="block text-sm font-medium text-slate-200">
            Invite link
          </label>
          <div class="mt-2 flex gap-2">
            <input
              id="prejoin-link"
              readOnly
              value={link}
              onFocus={(e) => e.currentTarget.select()}
              class="min-w-0 flex-1 rounded-xl bg-slate-950 px-3 py-2 font-mono text-sm text-slate-300 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
            />
            <Button type="button" variant="secondary" class="px-4 py-2 text-sm" onClick={copyLink}>
              Copy link
            </Button>
          </div>
          <p role="status" class="mt-2 min-h-[1.25rem] text-sm text-emerald-300">{copied}</p>
        </div>
      </div>
    </section>
  );
}
