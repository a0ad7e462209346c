import { Head } from "$fresh/runtime.ts";
import type { PageProps } from "$fresh/server.ts";
import { ErrorNotice } from "../components/ErrorNotice.tsx";

/** What a meeting link looks like, as an obvious example (no real meeting has this id). */
const LINK_SHAPE = "…/xxxx-xxxx-xxxx-xxxx-xxxx#…";

export default function NotFound({ url }: PageProps) {
  const looksLikeRoom = /^\/[^/]+$/.test(url.pathname);
  return (
    <>
      <Head>
        <title>Not found · Mooz</title>
      </Head>
      <ErrorNotice
        status="404"
        title={looksLikeRoom ? "This meeting link isn't valid" : "Page not found"}
      >
        {looksLikeRoom
          ? (
            <>
              <p class="max-w-prose text-slate-300">
                Check that the whole link was copied: a meeting link ends with five groups of four
                letters and digits, then # and its key, like{" "}
                <span class="whitespace-nowrap font-mono text-slate-200">{LINK_SHAPE}</span>. Ask
                whoever invited you to send it again, or start a new meeting of your own.
              </p>
              {/* A plain form, like the home page's: a new room, its key made in the browser. */}
              <form method="post" action="/new">
                <button
                  type="submit"
                  class="rounded-xl bg-slate-800 px-5 py-3 font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
                >
                  Start a new meeting
                </button>
              </form>
            </>
          )
          : (
            <p class="max-w-prose text-slate-300">
              The page you asked for does not exist. Start or join a meeting from the home page.
            </p>
          )}
      </ErrorNotice>
    </>
  );
}
