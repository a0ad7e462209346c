import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";
import Meeting from "../islands/Meeting.tsx";
import { Logo } from "../components/Logo.tsx";
import { isRoomId } from "../signaling/room_id.ts";

/**
 * The meeting page sends no `Referer` at all (the site's default, framework/headers.ts, is
 * `strict-origin-when-cross-origin`). Browsers never put a fragment, so never the key, in
 * `Referer`; `no-referrer` also keeps the room id from the sites a chat link opens and from
 * anything else the page loads.
 */
const MEETING_HEADERS = { "Referrer-Policy": "no-referrer" };

export const handler: Handlers = {
  GET(_req, ctx) {
    if (!isRoomId(ctx.params.room)) return ctx.renderNotFound();
    return ctx.render(undefined, { headers: MEETING_HEADERS });
  },
};

/**
 * The meeting page. The server sees only the room: the key is in the link's fragment, which the
 * island reads in the browser (islands/Meeting.tsx), so the server renders the pre-join screen
 * without it and the island shows the incomplete-link screen instead when the key is missing.
 */
export default function Room({ params }: PageProps) {
  return (
    <div class="flex h-[100dvh] min-h-[32rem] flex-col px-3 sm:px-4">
      <Head>
        <title>Meeting · Mooz</title>
        <meta name="robots" content="noindex" />
        {/* Also sent as a header (framework/headers.ts); kept here should a proxy drop it. */}
        <meta name="referrer" content="no-referrer" />
      </Head>
      <header class="flex items-center justify-between py-3">
        <Logo />
      </header>
      <noscript>
        <p class="rounded-xl bg-amber-900/40 px-4 py-3 text-amber-100 ring-1 ring-amber-700">
          Meetings need JavaScript: turn it on for this site and reload the page.
        </p>
      </noscript>
      <Meeting room={params.room} />
    </div>
  );
}
