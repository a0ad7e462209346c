import { PageShell } from "../components/PageShell.tsx";
import { Head, type PageProps } from "../framework/mod.ts";

export default function ServerError({ error }: PageProps) {
  return (
    <PageShell>
      <Head>
        <title>Something went wrong · Mooz</title>
      </Head>
      <section class="flex flex-1 flex-col items-start justify-center gap-4 py-16">
        <p class="text-sm font-semibold uppercase tracking-wider text-rose-300">500</p>
        <h1 class="text-3xl font-bold text-white sm:text-4xl">Something went wrong on our side</h1>
        <p class="max-w-prose text-slate-300">
          The error was logged. Reload the page in a moment; if it keeps happening, tell whoever
          runs this server.
        </p>
        {error instanceof Error && (
          <pre class="max-w-full overflow-auto rounded-lg bg-slate-900 p-4 text-sm text-rose-200">{error.stack}</pre>
        )}
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
