import type { ComponentChildren } from "preact";
import { Icon } from "./icons.tsx";

/**
 * The frame of a side panel (chat, participants, a feature's own): a titled `aside` with a close
 * button; `id` is `${panelId}-panel`, what the control bar's button points at.
 */
export function SidePanel(
  { panelId, label, title, onClose, children }: {
    panelId: string;
    /** Accessible name of the panel; also the title unless `title` is given. */
    label: string;
    title?: ComponentChildren;
    onClose(): void;
    children: ComponentChildren;
  },
) {
  return (
    <aside
      id={`${panelId}-panel`}
      aria-label={label}
      class="flex h-full w-full flex-col rounded-2xl bg-slate-900 ring-1 ring-slate-800"
    >
      <div class="flex items-center justify-between border-b border-slate-800 px-4 py-3">
        <h2 class="font-semibold text-white">{title ?? label}</h2>
        <button
          type="button"
          onClick={onClose}
          aria-label={`Close ${label.toLowerCase()}`}
          class="rounded-lg p-1 text-slate-300 hover:bg-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          <Icon name="close" />
        </button>
      </div>
      {children}
    </aside>
  );
}
