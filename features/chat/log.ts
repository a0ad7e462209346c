/** The chat log: every message once, in the same order on every participant. */
import { stripForbiddenText } from "../../mesh/checks.ts";
import type { PeerId } from "../../mesh/types.ts";
import { type ChatMessage, checkChatText, MAX_HISTORY } from "./wire.ts";

/** Display order: sender's clock, then id so every participant sees ties in the same order. */
function compare(a: ChatMessage, b: ChatMessage): number {
  return a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The newest `max` messages, each once. Messages arrive live from their senders and again in the
 * history every peer sends a late joiner, so deduplication by id is what keeps one copy of each.
 */
export class ChatLog {
  /** Oldest first. */
  #messages: ChatMessage[] = [];
  #ids = new Set<string>();

  constructor(readonly max: number = MAX_HISTORY) {}

  /** Whether the message is now in the log: false for a duplicate or one too old for a full log. */
  add(message: ChatMessage): boolean {
    if (this.#ids.has(message.id)) return false;
    // Binary search for the first message that sorts after this one.
    let lo = 0;
    let hi = this.#messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.#messages[mid], message) <= 0) lo = mid + 1;
      else hi = mid;
    }
    // It would be evicted at once; refusing it also keeps an evicted message from coming back.
    if (lo === 0 && this.#messages.length >= this.max) return false;
    this.#messages.splice(lo, 0, message);
    this.#ids.add(message.id);
    if (this.#messages.length > this.max) this.#ids.delete(this.#messages.shift()!.id);
    return true;
  }

  /** Adds a peer's history; returns how many messages were new. */
  merge(history: readonly ChatMessage[]): number {
    let added = 0;
    for (const message of history) if (this.add(message)) added++;
    return added;
  }

  /** Oldest first, at most `max`; a copy. */
  list(): ChatMessage[] {
    return [...this.#messages];
  }
}

/**
 * Our own message `seq` (count up from 1 per session: the id `${from}:${seq}` must never repeat),
 * or null when the text is empty or longer than peers accept. Controls other than line breaks and
 * tabs are removed first, as peers would refuse them.
 */
export function newChatMessage(
  from: PeerId,
  name: string,
  seq: number,
  text: string,
  now: number,
): ChatMessage | null {
  const clean = checkChatText(stripForbiddenText(text));
  return clean === null ? null : { id: `${from}:${seq}`, from, name, text: clean, sentAt: now };
}
