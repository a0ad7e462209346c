import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";
import { Button } from "../components/Button.tsx";
import { PageShell } from "../components/PageShell.tsx";
import JoinForm from "../islands/JoinForm.tsx";

interface LandingData {
  /** Why an old-style `/?room=` address did not open a meeting. */
  joinError?: string;
}

/**
 * Said to `/?room=…`, what "Join" submitted before meeting links carried a key. The text is never
 * echoed back (it may hold a key, `%23…`) and never turned into a meeting: the server cannot know
 * the key, and the page would only say the link is incomplete.
 */
const ROOM_QUERY_ERROR =
  "Joining needs the whole meeting link, with its key after #: paste it here, or open it in your browser's address bar. A meeting id alone isn't enough.";

export const handler: Handlers<LandingData> = {
  // "Join" never submits to the server (islands/JoinForm.tsx): a link's key stays in the browser.
  GET(_req, ctx) {
    if (!ctx.url.searchParams.has("room")) return ctx.render({});
    return ctx.render({ joinError: ROOM_QUERY_ERROR }, { status: 400 });
  },
};

export default function Landing({ data }: PageProps<LandingData>) {
  return (
    <PageShell>
      <Head>
        <title>Mooz: video meetings, browser to browser</title>
      </Head>
      <section class="grid flex-1 items-center gap-10 py-10 md:grid-cols-2 md:py-20">
        <div>
          <h1 class="text-4xl font-bold leading-tight tracking-tight text-white sm:text-5xl">
            Meet face to face, <span class="text-indigo-300">straight from your browser.</span>
          </h1>
          <p class="mt-5 max-w-prose text-lg text-slate-300">
            Create a meeting in one click and share the link. Audio, video, screen and chat flow
            directly between participants; nothing to install, no account.
          </p>
        </div>
        <div class="rounded-2xl bg-slate-900 p-6 shadow-xl ring-1 ring-slate-800 sm:p-8">
          <form method="post" action="/new">
            <Button type="submit" class="w-full" aria-describedby="new-hint">
              <svg aria-hidden="true" viewBox="0 0 24 24" class="h-5 w-5" fill="currentColor">
                <path d="M4 6a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v3.5l4-3v11l-4-3V18a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2z" />
              </svg>
              New meeting
            </Button>
          </form>
          <p id="new-hint" class="mt-2 text-center text-sm text-slate-400">
            Opens a new private meeting; share its whole link to invite people.
          </p>
          <div class="my-6 flex items-center gap-3 text-sm text-slate-400" aria-hidden="true">
            <span class="h-px flex-1 bg-slate-800" />or<span class="h-px flex-1 bg-slate-800" />
          </div>
          <JoinForm initialError={data.joinError} />
        </div>
      </section>
    </PageShell>
  );
}
