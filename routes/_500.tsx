import { Head } from "$fresh/runtime.ts";
import type { PageProps } from "$fresh/server.ts";
import { ErrorNotice } from "../components/ErrorNotice.tsx";

export default function ServerError({ error }: PageProps) {
  return (
    <>
      <Head>
        <title>Something went wrong · Mooz</title>
      </Head>
      <ErrorNotice status="500" title="Something went wrong on our side" tone="danger">
        <p class="max-w-prose text-slate-300">
          The error was logged. Reload the page in a moment; if it keeps happening, tell whoever
          runs this server.
        </p>
        {/* The framework passes `error` only in dev mode. */}
        {error instanceof Error && (
          <pre class="max-w-full overflow-auto rounded-lg bg-slate-900 p-4 text-sm text-rose-200">{error.stack}</pre>
        )}
      </ErrorNotice>
    </>
  );
}
