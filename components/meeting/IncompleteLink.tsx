/**
 * The screen for a meeting link without its key (or with a damaged one): the page never joins,
 * because a meeting without its key has no unencrypted fallback. It says what is missing, why the
 * key matters and how to get the whole link.
 */

/** Why the link is incomplete, as `parseMeetingKey` reports it. */
export type IncompleteReason = "missing" | "malformed";

const WHAT: Record<IncompleteReason, string> = {
  missing: "The link you opened ends before its key: the part after # is missing.",
  malformed: "The key at the end of this link, the part after #, is cut short or damaged.",
};

/**
 * "This link is incomplete", with the way back to the home page.
 *
 * @example
 * ```tsx
 * const key = parseMeetingKey(location.hash);
 * if (!key.ok) return <IncompleteLink reason={key.reason} />;
 * ```
 */
export function IncompleteLink({ reason }: { reason: IncompleteReason }) {
  return (
    <section
      class="flex flex-1 flex-col items-center justify-center px-4 py-16"
      aria-labelledby="incomplete-title"
    >
      <div class="w-full max-w-lg rounded-2xl bg-slate-900 p-8 ring-1 ring-slate-800">
        <h1 id="incomplete-title" class="text-2xl font-bold text-white">
          This link is incomplete
        </h1>
        <p class="mt-3 text-slate-200">{WHAT[reason]}</p>
        <p class="mt-3 text-sm text-slate-300">
          That key is what keeps the meeting private: it stays in the browsers of the people who
          have the whole link and never reaches the server, so without it you can't join.
        </p>
        <p class="mt-3 text-sm text-slate-300">
          Ask whoever invited you to send the whole link again, copied with "Copy link" in the
          meeting. It looks like{" "}
          <span class="break-all font-mono text-slate-200">
            …/xxxx-xxxx-xxxx-xxxx-xxxx#xxxxxxxxxxxxxxxxxxxxxx
          </span>.
        </p>
        <div class="mt-6">
          <a
            href="/"
            class="inline-block rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            Go to the home page
          </a>
        </div>
      </div>
    </section>
  );
}
