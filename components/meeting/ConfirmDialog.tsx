import type { ComponentChildren, Ref } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

const BUTTON =
  "rounded-xl px-4 py-2 text-sm font-semibold focus:outline-none focus-visible:ring-2 disabled:opacity-50";
/** The safe or neutral choice of a dialog (Cancel, Close). */
export const DIALOG_SECONDARY =
  `${BUTTON} bg-slate-800 text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus-visible:ring-slate-300`;
/** The choice that ends or removes something. */
export const DIALOG_DANGER =
  `${BUTTON} bg-rose-600 text-white hover:bg-rose-700 focus-visible:ring-rose-300`;

/**
 * A modal dialog: a native `<dialog>` opened with `showModal`, so focus stays inside and the rest
 * of the page is inert. Focus starts on `initialFocus` (else the first control) and goes back to
 * what had it before once the dialog closes; Esc closes it. Keys pressed inside go no further:
 * the meeting's single-key shortcuts and its Esc (which closes the side panel) must not act
 * behind the dialog.
 */
export function Dialog(
  { title, children, footer, onClose, initialFocus, returnFocus, wide, describe = true }: {
    /** The dialog's accessible name, shown as its heading. */
    title: string;
    /** The body (the dialog's description when it is text). */
    children: ComponentChildren;
    /** The buttons at the bottom, right-aligned. */
    footer: ComponentChildren;
    /** Esc, or whatever the footer's closing button does. */
    onClose(): void;
    /** What gets focus when it opens (a confirmation's safe choice). */
    initialFocus?: Ref<HTMLElement>;
    /** Where focus goes once closed (default: what had it when the dialog opened). */
    returnFocus?: () => HTMLElement | null;
    /** A wider dialog, for lists and settings. */
    wide?: boolean;
    /** Whether the body is the dialog's description (false for a body of controls and lists). */
    describe?: boolean;
  },
) {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useRef(`dialog-${Math.random().toString(36).slice(2, 10)}`).current;

  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    const before = document.activeElement as HTMLElement | null;
    if (!el.open) el.showModal();
    const first = (initialFocus as { current: HTMLElement | null } | undefined)?.current ??
      el.querySelector<HTMLElement>("button, [href], input, select, textarea");
    first?.focus();
    return () => {
      if (el.open) el.close();
      // Back where the person was, if that is still on the page (the button that opened it).
      const target = returnFocus?.() ?? before;
      if (target?.isConnected) target.focus();
    };
  }, []);

  return (
    <dialog
      ref={dialog}
      aria-labelledby={`${id}-title`}
      aria-describedby={describe ? `${id}-body` : undefined}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === "Escape") {
          e.preventDefault();
          onClose();
        }
      }}
      // On a phone the browser's own max-width (the width less about 2em) keeps a margin.
      class={`w-full ${
        wide ? "sm:max-w-lg" : "sm:max-w-md"
      } rounded-2xl bg-slate-900 p-6 text-left text-slate-100 shadow-xl ring-1 ring-slate-700 backdrop:bg-slate-950/70`}
    >
      <h2 id={`${id}-title`} class="text-lg font-semibold text-white">{title}</h2>
      <div id={`${id}-body`} class="mt-2 space-y-2 text-sm text-slate-300">{children}</div>
      <div class="mt-6 flex flex-wrap justify-end gap-3">{footer}</div>
    </dialog>
  );
}

/**
 * A modal question before something that cannot be undone (remove someone, end the meeting) or
 * is easy to do by accident (leave): focus starts on Cancel (the safe choice) and goes back to
 * what had it before once the dialog closes; Esc cancels.
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
  const cancel = useRef<HTMLButtonElement>(null);
  return (
    <Dialog
      title={title}
      onClose={onCancel}
      initialFocus={cancel}
      returnFocus={returnFocus}
      footer={
        <>
          <button ref={cancel} type="button" onClick={onCancel} class={DIALOG_SECONDARY}>
            Cancel
          </button>
          <button type="button" onClick={onConfirm} class={DIALOG_DANGER}>
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
    </Dialog>
  );
}
