/**
 * Chat's engine part: messages to everyone over the mesh, history for newcomers, and what is
 * unread. Built only on the feature API.
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { defineFeature } from "../../mesh/feature.ts";
import { ChatLog, newChatMessage } from "./log.ts";
import { type ChatMessage, historyWithin, parseHistory, parseLiveMessage } from "./wire.ts";

/** The chat feature's instance, which its UI reads. */
export interface Chat {
  /** Oldest first, at most MAX_HISTORY. */
  readonly messages: ReadonlySignal<ChatMessage[]>;
  /** Messages from others since `markRead` was last called. */
  readonly unread: ReadonlySignal<number>;
  /** Sends to everyone; false when the text is empty or too long, or we have not joined. */
  send(text: string): boolean;
  /** Everything so far counts as read (the chat panel is open). */
  markRead(): void;
}

/** Chat: topic `chat/message`, history as a snapshot. */
export const chat = defineFeature<Chat>("chat", (ctx) => {
  const log = new ChatLog();
  const messages = signal<ChatMessage[]>([]);
  /** Ids of the messages shown when `markRead` was last called. */
  const read = signal<ReadonlySet<string>>(new Set());
  let seq = 0;

  const nameOf = (peer: string) => ctx.peers.peek().find((p) => p.peer === peer)?.name;
  const topic = ctx.topic("message", {
    validate: parseLiveMessage,
    maxBytes: 16 * 1024,
    rate: { burst: 20, perSecond: 5 },
  });
  topic.onMessage((from, live) => {
    const name = nameOf(from);
    if (!name) return; // not in the roster (yet): nobody to show it as
    const message = { id: `${from}:${live.seq}`, from, name, text: live.text, sentAt: live.sentAt };
    if (log.add(message)) messages.value = log.list();
  });

  ctx.snapshot({
    take: (budget) => historyWithin(log.list(), budget),
    validate: parseHistory,
    apply: (_from, history) => {
      if (log.merge(history) > 0) messages.value = log.list();
    },
  });

  // By id, not by position: the log is ordered by the senders' clocks (a message can land among
  // read ones) and, once full, drops one message for each it takes in.
  const unread = computed(() => {
    const self = ctx.self.value;
    const seen = read.value;
    return messages.value.filter((m) => m.from !== self && !seen.has(m.id)).length;
  });

  return {
    messages,
    unread,
    send(text) {
      const self = ctx.self.peek();
      if (!self) return false;
      // Count up from 1 per meeting: the id `${from}:${seq}` must never repeat.
      const message = newChatMessage(self, ctx.selfName, ++seq, text, Date.now());
      if (!message) return false;
      log.add(message);
      messages.value = log.list();
      topic.send("all", { seq, text: message.text, sentAt: message.sentAt });
      return true;
    },
    markRead() {
      read.value = new Set(messages.peek().map((m) => m.id));
    },
  };
});
