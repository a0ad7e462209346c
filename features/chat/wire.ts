/**
 * What chat sends between browsers, and the validators the feature host runs on what arrives.
 *
 * A live message carries only what its sender can vouch for: a sequence number, the text and the
 * time. Who sent it comes from the link it arrived on, and the name from the roster, so nobody can
 * speak for someone else. History for a newcomer relays other people's messages, so there each
 * entry carries its sender and name as the member who relays it recorded them.
 */
import {
  checkName,
  checkNonNegative,
  checkText,
  isObject,
  isShortString,
} from "../../mesh/checks.ts";
import { byteLength } from "../../mesh/envelope.ts";
import type { PeerId } from "../../mesh/types.ts";

/** Longest message, in characters. */
export const MAX_CHAT_LENGTH = 2_000;
/** Messages kept, and given to a newcomer. */
export const MAX_HISTORY = 200;
/** Peer ids are 16 characters and message ids `${from}:${seq}`; 64 leaves room, bounds abuse. */
export const MAX_ID_LENGTH = 64;

/** One chat message; plain text, never rendered as HTML. */
export interface ChatMessage {
  /** Unique in the meeting: `${from}:${seq}`; deduplicates history from several peers. */
  id: string;
  from: PeerId;
  name: string;
  text: string;
  /** Sender's clock, ms since epoch; for display order only. */
  sentAt: number;
}

/** A live message as it travels: the receiver adds who sent it. */
export interface LiveMessage {
  seq: number;
  text: string;
  sentAt: number;
}

/** The trimmed chat text if peers accept it (1..MAX_CHAT_LENGTH characters), else null. */
export function checkChatText(value: unknown): string | null {
  return checkText(value, MAX_CHAT_LENGTH);
}

/** Validator of the `chat/message` topic. */
export function parseLiveMessage(body: unknown): LiveMessage | null {
  if (!isObject(body)) return null;
  const text = checkChatText(body.text);
  const sentAt = checkNonNegative(body.sentAt);
  const seq = body.seq;
  if (text === null || sentAt === null || !Number.isSafeInteger(seq) || (seq as number) < 0) {
    return null;
  }
  return { seq: seq as number, text, sentAt };
}

/** One entry of a relayed history, or null. */
export function parseChatMessage(value: unknown): ChatMessage | null {
  if (!isObject(value)) return null;
  const { id, from } = value;
  const name = checkName(value.name);
  const text = checkChatText(value.text);
  const sentAt = checkNonNegative(value.sentAt);
  if (
    !isShortString(id, MAX_ID_LENGTH) || !isShortString(from, MAX_ID_LENGTH) || name === null ||
    text === null || sentAt === null
  ) return null;
  return { id, from, name, text, sentAt };
}

/** Validator of chat's snapshot: at most MAX_HISTORY entries, all valid, or nothing. */
export function parseHistory(body: unknown): ChatMessage[] | null {
  if (!Array.isArray(body) || body.length > MAX_HISTORY) return null;
  const messages: ChatMessage[] = [];
  for (const item of body) {
    const message = parseChatMessage(item);
    if (!message) return null;
    messages.push(message);
  }
  return messages;
}

/** Only the declared fields go on the wire, whatever else the object carries. */
function chatFields(m: ChatMessage): ChatMessage {
  return { id: m.id, from: m.from, name: m.name, text: m.text, sentAt: m.sentAt };
}

/**
 * The newest messages (of `messages`, oldest first) whose JSON array fits in `budget` bytes, at
 * most MAX_HISTORY of them.
 */
export function historyWithin(messages: readonly ChatMessage[], budget: number): ChatMessage[] {
  const recent = messages.slice(-MAX_HISTORY).map(chatFields);
  let bytes = 2; // []
  let start = recent.length;
  while (start > 0) {
    const next = bytes + byteLength(JSON.stringify(recent[start - 1])) +
      (start < recent.length ? 1 : 0);
    if (next > budget) break;
    bytes = next;
    start--;
  }
  return recent.slice(start);
}
