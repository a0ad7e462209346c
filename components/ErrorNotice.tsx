import type { ComponentChildren } from "preact";
import { PageShell } from "./PageShell.tsx";

interface Props {
  /** The status, shown small above the title ("404"). */
  status: string;
  title: string;
  children: ComponentChildren;
  tone?: "info" | "danger";
}

/** The body of an error page: what happened, what to do, and the way back home. */
export function ErrorNotice({ status, title, children, tone = "info" }: Props) {
  return (
    <PageShell>
      <section class="flex flex-1 flex-col items-start justify-center gap-4 py-16">
        <p
          class={`text-sm font-semibold uppercase tracking-wider ${
            tone === "danger" ? "text-rose-300" : "text-indigo-300"
          }`}
        >
          {status}
        </p>
        <h1 class="text-3xl font-bold text-white sm:text-4xl">{title}</h1>
        {children}
        <a
          href="/"
          class="rounded-xl bg-indigo-600 px-5 py-3 font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          Go to the home page
        </a>
      </section>
    </PageShell>
  );
}
