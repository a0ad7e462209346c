import { Head } from "$fresh/runtime.ts";
import type { PageProps } from "$fresh/server.ts";
import { ErrorNotice } from "../components/ErrorNotice.tsx";

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
        <p class="max-w-prose text-slate-300">
          {looksLikeRoom
            ? "Check that the whole link was copied: a meeting id looks like k3fq-9xmp-2hdw-7rtc-a4ze. You can also start a new meeting."
            : "The page you asked for does not exist. Start or join a meeting from the home page."}
        </p>
      </ErrorNotice>
    </>
  );
}
