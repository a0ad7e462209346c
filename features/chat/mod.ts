/** Chat: messages to everyone, with history for newcomers, in a side panel. */
import { featureModule } from "../../components/meeting/slots.ts";
import { chat } from "./chat.ts";
import { ChatPanel } from "./ChatPanel.tsx";

/** A speech bubble (24×24 path, drawn in currentColor). */
const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";

export default featureModule(chat, {
  panel: {
    id: "chat",
    label: "Chat",
    icon: CHAT_ICON,
    shortcut: "C",
    badge: (meeting) => meeting.feature(chat).unread.value,
    Panel: ChatPanel,
  },
});
