import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

/**
 * A modal question before something that cannot be undone (remove someone, end the meeting): a
 * native `<dialog>` opened with `showModal`, so focus stays inside and the rest of the page is
 * inert. Focus starts on Cancel (the safe choice) and goes back to what had it before once the
 * dialog closes; Esc cancels. Keys pressed inside go no further: the meeting's single-key
 * shortcuts and its Esc (which closes the side panel) must not act behind the dialog.
 */
export function ConfirmDialog(
  { title, children, confirmLabel, onConfirm, onCancel, returnFocus }: {
    /** The question, e.g. "Remove Carol from the meeting?" (the dialog's accessible name). */
    title: string;
    /** What happens, and that it cannot be undone (the dialog's description). */
    children: ComponentChildren;
    /** The confirming button, a verb: "Remove", "End meeting". */
    confirmLabel: string;
    onConfirm(): void;
    onCancel(): void;
    /** Where focus goes once closed (default: what had it when the dialog opened). */
    returnFocus?: () => HTMLElement | null;
  },
) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const id = useRef(`confirm-${Math.random().toString(36).slice(2, 10)}`).current;

  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    const before = document.activeElement as HTMLElement | null;
    if (!el.open) el.showModal();
    cancel.current?.focus();
    return () => {
      if (el.open) el.close();
      // Back where the person was, if that is still on the page (the menu button of a row).
      const target = returnFocus?.() ?? before;
      if (target?.isConnected) target.focus();
    };
  }, []);

  return (
    <dialog
      ref={dialog}
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === "Escape") {
          e.preventDefault();
          onCancel();
        }
      }}
      class="w-full max-w-md rounded-2xl bg-slate-900 p-6 text-left text-slate-100 shadow-xl ring-1 ring-slate-700 backdrop:bg-slate-950/70"
    >
      <h2 id={`${id}-title`} class="text-lg font-semibold text-white">{title}</h2>
      <div id={`${id}-body`} class="mt-2 space-y-2 text-sm text-slate-300">{children}</div>
      <div class="mt-6 flex justify-end gap-3">
        <button
          ref={cancel}
          type="button"
          onClick={onCancel}
          class="rounded-xl bg-slate-800 px-4 py-2 text-sm font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
        >
          Cancel
        </button>
        <button
          type="button"
          onClick={onConfirm}
          class="rounded-xl bg-rose-600 px-4 py-2 text-sm font-semibold text-white hover:bg-rose-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-300"
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
