import { useRef } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { Dialog, DIALOG_SECONDARY } from "./ConfirmDialog.tsx";

/**
 * PLACEHOLDER on the ui-controls branch, so the bar's "Settings" button can be wired and its
 * focus return tested: the settings branch's SettingsDialog (same signature) replaces it.
 */
export function SettingsDialog({ onClose }: { meeting: MeetingCore; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  return (
    <Dialog
      title="Settings"
      onClose={onClose}
      initialFocus={close}
      footer={
        <button ref={close} type="button" onClick={onClose} class={DIALOG_SECONDARY}>
          Close
        </button>
      }
    >
      <p>Devices and preferences.</p>
    </Dialog>
  );
}
