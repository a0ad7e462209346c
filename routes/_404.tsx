import { PageShell } from "../components/PageShell.tsx";
import { Head, type PageProps } from "../framework/mod.ts";

export default function NotFound({ url }: PageProps) {
  const looksLikeRoom = /^\/[^/]+$/.test(url.pathname);
  return (
    <PageShell>
      <Head>
        <title>Not found · Mooz</title>
      </Head>
      <section class="flex flex-1 flex-col items-start justify-center gap-4 py-16">
        <p class="text-sm font-semibold uppercase tracking-wider text-indigo-300">404</p>
        <h1 class="text-3xl font-bold text-white sm:text-4xl">
          {looksLikeRoom ? "This meeting link isn't valid" : "Page not found"}
        </h1>
        <p class="max-w-prose text-slate-300">
          {looksLikeRoom
            ? "Check that the whole link was copied: a meeting id looks like k3fq-9xmp-2hdw-7rtc-a4ze. You can also start a new meeting."
            : "The page you asked for does not exist. Start or join a meeting from the home page."}
        </p>
        <a
          href="/"
          class="rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          Go to the home page
        </a>
      </section>
    </PageShell>
  );
}
