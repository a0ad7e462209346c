import type { Notice } from "../../mesh/types.ts";

/** Brief messages: who joined or left, what failed. Announced politely to screen readers. */
export function Toasts({ notices, onDismiss }: { notices: Notice[]; onDismiss(id: number): void }) {
  return (
    <div
      role="status"
      aria-live="polite"
      class="pointer-events-none fixed inset-x-0 top-3 z-50 flex flex-col items-center gap-2 px-3"
    >
      {notices.map((n) => (
        <div
          key={n.id}
          class={`pointer-events-auto flex max-w-md items-center gap-3 rounded-xl px-4 py-2 text-sm shadow-lg ring-1 ${
            n.kind === "error"
              ? "bg-rose-950 text-rose-100 ring-rose-800"
              : "bg-slate-800 text-slate-100 ring-slate-700"
          }`}
        >
          <span class="flex-1">{n.text}</span>
          <button
            type="button"
            onClick={() => onDismiss(n.id)}
            aria-label="Dismiss"
            class="rounded px-1 text-slate-300 hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
