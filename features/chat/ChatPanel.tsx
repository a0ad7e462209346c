import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { SidePanel } from "../../components/meeting/SidePanel.tsx";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { chat } from "./chat.ts";
import { linkify } from "./linkify.ts";
import { MAX_CHAT_LENGTH } from "./wire.ts";

const time = (ms: number) =>
  new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

/** Chat text as text nodes and links; never HTML. */
function MessageText({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((part, i) =>
        part.kind === "link"
          ? (
            <a
              key={i}
              href={part.href}
              target="_blank"
              rel="noopener noreferrer nofollow"
              class="text-indigo-300 underline hover:text-indigo-200"
            >
              {part.text}
            </a>
          )
          : part.text
      )}
    </>
  );
}

/** The chat side panel: the log, and a box to write to everyone. */
export function ChatPanel({ meeting, close }: { meeting: MeetingCore; close(): void }) {
  const feature = meeting.feature(chat);
  const messages = feature.messages.value;
  const self = meeting.self.value;
  const draft = useSignal("");
  const list = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
    // Open means read: what arrives while the panel shows it is not "unread".
    feature.markRead();
  }, [messages]);

  function send(e?: Event) {
    e?.preventDefault();
    if (feature.send(draft.value)) draft.value = "";
  }

  return (
    <SidePanel panelId="chat" label="Chat" onClose={close}>
      <div
        ref={list}
        role="log"
        aria-label="Messages"
        class="flex-1 overflow-y-auto px-4 py-3"
      >
        <ol class="space-y-3">
          {messages.length === 0 && (
            <li class="text-sm text-slate-400">
              No messages yet. Messages go straight to the others and are not stored anywhere.
            </li>
          )}
          {messages.map((m) => (
            <li key={m.id} data-from={m.from} class="text-sm">
              <p class="text-xs text-slate-400">
                <span class="font-semibold text-slate-200">{m.from === self ? "You" : m.name}</span>
                {" "}
                · {time(m.sentAt)}
              </p>
              <p class="whitespace-pre-wrap break-words text-slate-100">
                <MessageText text={m.text} />
              </p>
            </li>
          ))}
        </ol>
      </div>
      <form onSubmit={send} class="flex items-end gap-2 border-t border-slate-800 p-3">
        <label for="chat-input" class="sr-only">Message</label>
        <textarea
          ref={input}
          id="chat-input"
          rows={1}
          maxLength={MAX_CHAT_LENGTH}
          value={draft}
          placeholder="Message everyone"
          onInput={(e) => (draft.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) send(e);
          }}
          class="max-h-32 min-h-[2.5rem] flex-1 resize-none rounded-xl bg-slate-950 px-3 py-2 text-sm text-white placeholder-slate-500 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
        />
        <button
          type="submit"
          class="rounded-xl bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 disabled:opacity-50"
          disabled={draft.value.trim() === ""}
        >
          Send
        </button>
      </form>
    </SidePanel>
  );
}
