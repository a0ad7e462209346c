/**
 * The chat log, and the splitting of message text into text and links for display. The UI renders
 * the parts as text nodes and `<a>` elements, never as HTML.
 */
import { type ChatMessage, MAX_HISTORY, type PeerId } from "./types.ts";
import { checkChatText, stripForbiddenText } from "./wire.ts";

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

export type TextPart = { kind: "text"; text: string } | {
  kind: "link";
  href: string;
  text: string;
};

/** A URL runs to whitespace or a character that cannot appear unescaped in one. */
const URL_CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
/** Punctuation that usually ends the sentence rather than the URL. */
const TRAILING = ".,;:!?'\"…。、";
const CLOSERS: Record<string, string> = { ")": "(", "]": "[" };

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

/** Drops trailing punctuation; a closing paren stays when it balances one in the URL. */
function trimTrailing(url: string): string {
  for (;;) {
    const last = url[url.length - 1];
    const opener = CLOSERS[last];
    if (opener ? count(url, opener) >= count(url, last) : !TRAILING.includes(last)) return url;
    url = url.slice(0, -1);
  }
}

/** The absolute http(s) URL to link to, or null: no other scheme ever becomes a link. */
function safeHref(candidate: string): string | null {
  try {
    const url = new URL(/^www\./i.test(candidate) ? `https://${candidate}` : candidate);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/** Splits plain text into text and http(s) links (`www.` ones link to https). */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0; // end of what is already in `parts`
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index;
    // Not inside an email address, a path or a longer host name ("user@www.x", "a.www.x").
    const before = text[start - 1] ?? "";
    if (before && "@./".includes(before)) continue;
    const candidate = trimTrailing(match[0]);
    // Trimming may leave no more than the prefix ("www..." or "http://...").
    const href = /^(?:https?:\/\/|www\.)./i.test(candidate) ? safeHref(candidate) : null;
    if (href === null) continue;
    if (start > at) parts.push({ kind: "text", text: text.slice(at, start) });
    parts.push({ kind: "link", href, text: candidate });
    at = start + candidate.length;
  }
  if (at < text.length) parts.push({ kind: "text", text: text.slice(at) });
  return parts;
}
