import { useRef } from "preact/hooks";
import type { ControlItem } from "./ControlBar.tsx";
import { Dialog, DIALOG_SECONDARY } from "./ConfirmDialog.tsx";
import { preferences } from "./preferences.ts";

const KBD = "inline-block min-w-[1.75rem] rounded-md bg-slate-800 px-2 py-0.5 text-center " +
  "font-mono text-sm text-white ring-1 ring-slate-600";

/**
 * "Keyboard shortcuts": every key of the bar's buttons (the same `items` the bar shows, so the
 * list is never out of date), Esc, and the switch that turns single-key shortcuts off.
 */
export function ShortcutsDialog(
  { items, onClose }: { items: readonly ControlItem[]; onClose(): void },
) {
  const on = preferences.shortcuts.value;
  const close = useRef<HTMLButtonElement>(null);
  const keyed = items.filter((i) => i.shortcut);
  return (
    <Dialog
      title="Keyboard shortcuts"
      wide
      describe={false}
      onClose={onClose}
      footer={
        <button ref={close} type="button" onClick={onClose} class={DIALOG_SECONDARY}>
          Close
        </button>
      }
    >
      <div class="flex items-start gap-3 py-2">
        <span class="min-w-0 flex-1">
          <span id="shortcuts-switch-label" class="block font-medium text-white">
            Single-key shortcuts
          </span>
          <span id="shortcuts-switch-hint" class="block text-xs text-slate-400">
            The keys below work without Ctrl or Alt. Turn them off if you use speech input or they
            get in your way.
          </span>
        </span>
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-labelledby="shortcuts-switch-label"
          aria-describedby="shortcuts-switch-hint"
          onClick={() => (preferences.shortcuts.value = !on)}
          class={`relative mt-0.5 inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-900 ${
            on ? "bg-indigo-600" : "bg-slate-600"
          }`}
        >
          <span
            aria-hidden="true"
            class={`inline-block h-5 w-5 rounded-full bg-white shadow transition-transform ${
              on ? "translate-x-5" : "translate-x-0.5"
            }`}
          />
        </button>
      </div>
      <table class="w-full text-left">
        <caption class="sr-only">Keys and what they do</caption>
        <thead class="sr-only">
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Does</th>
          </tr>
        </thead>
        <tbody>
          {keyed.map((i) => (
            <tr key={i.id} data-shortcut={i.shortcut}>
              <td class="w-16 py-1">
                <kbd class={KBD}>{i.shortcut}</kbd>
              </td>
              <td class={`py-1 ${on ? "text-slate-200" : "text-slate-400"}`}>
                {i.label}
                {!on && " (off)"}
              </td>
            </tr>
          ))}
          <tr data-shortcut="Esc">
            <td class="w-16 py-1">
              <kbd class={KBD}>Esc</kbd>
            </td>
            <td class="py-1 text-slate-200">Close a panel, menu or dialog (always on)</td>
          </tr>
        </tbody>
      </table>
      <p class="text-xs text-slate-400">
        Share screen has no key, so a key pressed by accident never shows your screen. Leave asks
        first.
      </p>
    </Dialog>
  );
}
