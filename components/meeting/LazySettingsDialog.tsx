import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";

type Module = typeof import("./SettingsDialog.tsx");
let loading: Promise<Module> | null = null;

/**
 * The settings dialog, loaded when first opened: most meetings never open it, so its code stays
 * out of the meeting screen's download. Renders nothing until it has loaded (focus stays on the
 * button that opened it, where the dialog returns it when closed).
 */
export function LazySettingsDialog(props: { meeting: MeetingCore; onClose: () => void }) {
  const loaded = useSignal<Module | null>(null);
  useEffect(() => {
    (loading ??= import("./SettingsDialog.tsx")).then((m) => (loaded.value = m), () => {
      loading = null; // the next click tries again
      props.meeting.notify(
        "error",
        "The settings could not load. Check the connection and try again.",
      );
      props.onClose();
    });
  }, []);
  const Dialog = loaded.value?.SettingsDialog;
  return Dialog ? <Dialog {...props} /> : null;
}
