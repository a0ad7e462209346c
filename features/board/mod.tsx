/**
 * The whiteboard: a button in the control bar (B) opens a shared board beside the tiles (on a
 * phone, over them). This file and board.ts are all the meeting screen carries; the board itself
 * (BoardView.tsx, the engine, Yjs, perfect-freehand) loads with `import()` when it is first
 * opened, and the engine alone when someone else draws first.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { Icon } from "../../components/meeting/icons.tsx";
import { featureModule, SURFACE_CLASS } from "../../components/meeting/slots.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { board } from "./board.ts";

/** A board on an easel: the control bar's button. */
export const BOARD_ICON =
  "M3 3h18a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1h-8v2.6l3.2 2.4-1.2 1.6-3-2.3-3 2.3-1.2-1.6L11 19.6V17H3a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm1 2v10h16V5zm2.3 8.7-1.4-1.4 4.1-4.1 3 3 3.3-3.3 1.4 1.4-4.7 4.7-3-3z";

type ViewModule = typeof import("./BoardView.tsx");

/** Loaded once per page, the first time the board opens. */
let viewModule: Promise<ViewModule> | null = null;

function BoardSurface({ meeting }: { meeting: MeetingCore }) {
  const feature = meeting.feature(board);
  const open = feature.open.value;
  const view = useSignal<ViewModule | null>(null);
  const failed = useSignal(false);

  useEffect(() => {
    if (!open || view.peek()) return;
    viewModule ??= import("./BoardView.tsx");
    viewModule.then((m) => (view.value = m), () => {
      viewModule = null;
      failed.value = true;
    });
  }, [open, failed.value]);

  if (!open) return null;
  const engine = feature.engine.value;
  const View = view.value?.BoardView;
  if (engine && View) return <View meeting={meeting} board={feature} engine={engine} />;
  const error = failed.value
    ? "The whiteboard could not be loaded. Check your connection, then open it again."
    : feature.loadError.value;
  return (
    <section aria-label="Whiteboard" aria-busy={!error} class={SURFACE_CLASS}>
      <div class="flex items-center justify-between gap-2">
        <h2 class="font-semibold text-white">Whiteboard</h2>
        <button
          type="button"
          aria-label="Close whiteboard"
          onClick={() => {
            failed.value = false;
            feature.setOpen(false);
          }}
          class="rounded-lg p-2 text-slate-100 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          <Icon name="close" />
        </button>
      </div>
      <p role="status" class="m-auto text-sm text-slate-200">
        {error || "Loading the whiteboard…"}
      </p>
    </section>
  );
}

export default featureModule(board, {
  controls: [{
    id: "board",
    label: "Whiteboard",
    icon: BOARD_ICON,
    shortcut: "B",
    expanded: (meeting) => meeting.feature(board).open.value,
    onPress: (meeting) => {
      const feature = meeting.feature(board);
      feature.setOpen(!feature.open.peek());
    },
  }],
  Surface: BoardSurface,
});
