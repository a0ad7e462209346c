/**
 * Encoding and validation of data-channel messages (`PeerMessage`). Anything a peer sends is
 * untrusted: `parsePeerMessage` accepts exactly the shapes of mesh/types.ts within the limits
 * below, builds fresh objects from the fields it checked (so a `__proto__` key or an extra field
 * never reaches the app), and answers null instead of throwing.
 *
 * Unknown fields are ignored rather than refused: during a deploy, peers on two builds share a
 * meeting, and a newer build may add an optional field. Unknown `t` values are refused.
 *
 * The receiver still has to check what only it knows: that a `chat` message's `from` is the peer
 * whose channel it came on (a `history` relays other people's messages, so there it cannot).
 */
import {
  type ChatMessage,
  MAX_CHAT_LENGTH,
  MAX_HISTORY,
  MAX_PEER_MESSAGE_BYTES,
  type PeerMessage,
  type PeerStatus,
} from "./types.ts";

/** Same limit as the signaling server's display names (signaling/protocol.ts). */
export const MAX_NAME_LENGTH = 64;
/** Peer ids are 16 characters and message ids `${from}:${seq}`; 64 leaves room, bounds abuse. */
export const MAX_ID_LENGTH = 64;
/** `MediaStream.id` is a UUID (36-38 characters) in every browser; 128 bounds abuse. */
export const MAX_STREAM_ID_LENGTH = 128;

/**
 * Same rule as the server's names: controls, line separators, bidi overrides and isolates (which
 * can make a name display as someone else's) and lone surrogates.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\p{Cs}]/u;
/** Chat text may span lines and contain tabs; other controls and lone surrogates are refused. */
const FORBIDDEN_IN_TEXT = /(?![\t\n\r])[\p{Cc}\p{Cs}]/u;
const FORBIDDEN_IN_TEXT_ALL = new RegExp(FORBIDDEN_IN_TEXT.source, "gu");

/** Length in code points, so an emoji counts as one character, as the server counts names. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The trimmed name if valid, else null. */
function checkName(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const name = value.trim();
  const length = codePoints(name);
  return length >= 1 && length <= MAX_NAME_LENGTH && !FORBIDDEN_IN_NAME.test(name) ? name : null;
}

/** The trimmed chat text if peers accept it (1..MAX_CHAT_LENGTH characters), else null. */
export function checkChatText(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const text = value.trim();
  const length = codePoints(text);
  return length >= 1 && length <= MAX_CHAT_LENGTH && !FORBIDDEN_IN_TEXT.test(text) ? text : null;
}

/** Removes what `checkChatText` refuses, for text the user typed or pasted. */
export function stripForbiddenText(text: string): string {
  return text.replace(FORBIDDEN_IN_TEXT_ALL, "");
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= max;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkStatus(value: unknown): PeerStatus | null {
  if (!isObject(value)) return null;
  const name = checkName(value.name);
  const { audioMuted, videoOff, handRaised, cameraStream, screenStream } = value;
  const streamOk = (s: unknown) => s === null || isShortString(s, MAX_STREAM_ID_LENGTH);
  if (
    name === null || typeof audioMuted !== "boolean" || typeof videoOff !== "boolean" ||
    typeof handRaised !== "boolean" || !streamOk(cameraStream) || !streamOk(screenStream)
  ) return null;
  return {
    name,
    audioMuted,
    videoOff,
    handRaised,
    cameraStream: cameraStream as string | null,
    screenStream: screenStream as string | null,
  };
}

function checkChat(value: unknown): ChatMessage | null {
  if (!isObject(value)) return null;
  const { id, from, sentAt } = value;
  const name = checkName(value.name);
  const text = checkChatText(value.text);
  if (
    !isShortString(id, MAX_ID_LENGTH) || !isShortString(from, MAX_ID_LENGTH) || name === null ||
    text === null || typeof sentAt !== "number" || !Number.isFinite(sentAt) || sentAt < 0
  ) return null;
  return { id, from, name, text, sentAt };
}

let encoder: TextEncoder | undefined;

function utf8Length(text: string): number {
  encoder ??= new TextEncoder();
  return encoder.encode(text).length;
}

/** A UTF-16 unit takes 1 to 3 bytes in UTF-8, so the length alone settles most cases. */
function fitsBytes(text: string, max: number): boolean {
  if (text.length > max) return false;
  return text.length * 3 <= max || utf8Length(text) <= max;
}

/** The message if `data` is a valid `PeerMessage` in JSON, else null. Never throws. */
export function parsePeerMessage(data: unknown): PeerMessage | null {
  if (typeof data !== "string" || !fitsBytes(data, MAX_PEER_MESSAGE_BYTES)) return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  switch (value.t) {
    case "state": {
      const status = checkStatus(value.status);
      return status && { t: "state", status };
    }
    case "chat": {
      const message = checkChat(value.message);
      return message && { t: "chat", message };
    }
    case "history-request":
      return { t: "history-request" };
    case "history": {
      const list = value.messages;
      if (!Array.isArray(list) || list.length > MAX_HISTORY) return null;
      const messages: ChatMessage[] = [];
      for (const item of list) {
        const message = checkChat(item);
        if (!message) return null;
        messages.push(message);
      }
      return { t: "history", messages };
    }
  }
  return null;
}

/** Only the declared fields go on the wire, whatever else the object carries. */
function chatFields(m: ChatMessage): ChatMessage {
  return { id: m.id, from: m.from, name: m.name, text: m.text, sentAt: m.sentAt };
}

/**
 * JSON for the data channel, at most `maxBytes` long (pass `RTCSctpTransport.maxMessageSize` when
 * it is smaller: Chromium's is 256 KiB). Only `history` can get that big (200 messages of 2,000
 * characters); it keeps the newest messages that fit, assuming `messages` is oldest first as
 * `ChatLog.list()` returns it.
 */
export function encodePeerMessage(m: PeerMessage, maxBytes = MAX_PEER_MESSAGE_BYTES): string {
  switch (m.t) {
    case "state": {
      const s = m.status;
      return JSON.stringify({
        t: "state",
        status: {
          name: s.name,
          audioMuted: s.audioMuted,
          videoOff: s.videoOff,
          handRaised: s.handRaised,
          cameraStream: s.cameraStream,
          screenStream: s.screenStream,
        },
      });
    }
    case "chat":
      return JSON.stringify({ t: "chat", message: chatFields(m.message) });
    case "history-request":
      return '{"t":"history-request"}';
    case "history": {
      const head = '{"t":"history","messages":[';
      const parts = m.messages.slice(-MAX_HISTORY).map((x) => JSON.stringify(chatFields(x)));
      // Walk back from the newest, counting each part and its comma, until the next would not fit.
      let bytes = head.length + 2;
      let start = parts.length;
      while (start > 0) {
        const next = bytes + utf8Length(parts[start - 1]) + (start < parts.length ? 1 : 0);
        if (next > maxBytes) break;
        bytes = next;
        start--;
      }
      return `${head}${parts.slice(start).join(",")}]}`;
    }
  }
}
