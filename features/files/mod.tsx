/**
 * File sharing: a Files panel (send, answer offers, follow every transfer) and a drop target over
 * the whole meeting. The engine is files.ts; README "File sharing" has the design.
 */
import { featureModule } from "../../components/meeting/slots.ts";
import { DropZone } from "./DropZone.tsx";
import { files } from "./files.ts";
import { FilesPanel } from "./FilesPanel.tsx";

/** A document with a folded corner and an arrow (24×24 path, drawn in currentColor). */
const FILES_ICON =
  "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5zM11 11v4.2l-1.6-1.6L8 15l4 4 4-4-1.4-1.4-1.6 1.6V11z";

export default featureModule(files, {
  panel: {
    id: "files",
    label: "Files",
    icon: FILES_ICON,
    badge: (meeting) => meeting.feature(files).waiting.value,
    badgeLabel: "waiting",
    Panel: FilesPanel,
  },
  // Always mounted while the meeting shows, and draws nothing until files are dragged over.
  Control: DropZone,
});
