/**
 * What file sharing sends between browsers, and the checks on everything that arrives.
 *
 * Two paths, as the feature API offers them:
 * - **Topics** on the core channel (JSON, validated, rate-limited by the core): offers, answers,
 *   resumes and withdrawals. Small, rare, and never delayed by a transfer.
 * - **Frames** on the feature's own channel `f:files/data` (binary, ordered), one per peer:
 *   the receiver asks for the manifest and for blocks of pieces and acknowledges each piece it
 *   verified and stored; the sender answers with the manifest and with the blocks' bytes. A
 *   piece (4 MiB) is what is hashed and stored; a block (1 MiB) is what is asked for, so that
 *   what a receiver has asked for and not yet read stays small (README "File sharing").
 *
 * Who sent something is always the link it came on. An offer id is 16 random bytes that only the
 * offer's recipients ever learn (over the sealed mesh), so knowing it is what lets a receiver who
 * reloaded (a new peer id) resume. Nothing here throws on input from the network: every parser
 * returns null for what it refuses.
 */
import { isObject } from "../../mesh/checks.ts";
import { decodeBase64url, encodeBase64url } from "../../mesh/base64url.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes of an offer id. */
export const ID_BYTES = 16;
/** Smallest and largest piece a receiver accepts (powers of two). */
export const MIN_PIECE = 64 * KiB;
export const MAX_PIECE = 32 * MiB;
/** The piece size a sender starts from; larger files get larger pieces (`pieceSizeFor`). */
export const DEFAULT_PIECE = 4 * MiB;
/** Pieces a sender makes at most: larger files get larger pieces. */
export const TARGET_PIECES = 4096;
/** Pieces a receiver accepts in one offer (the manifest is then at most 256 KiB). */
export const MAX_PIECES = 8192;
/** Largest block a receiver may ask for at once. */
export const MAX_BLOCK = 4 * MiB;
/** Largest file: `MAX_PIECE × TARGET_PIECES`, 128 GiB. */
export const MAX_FILE_BYTES = MAX_PIECE * TARGET_PIECES;
/** File names, in characters (code points), as most file systems allow. */
export const MAX_NAME_LENGTH = 255;
/** Media types, in characters. */
export const MAX_TYPE_LENGTH = 127;
/** Bytes of a SHA-256. */
export const HASH_BYTES = 32;
/** Largest JSON message on the files topics. */
export const MAX_TOPIC_BYTES = 2 * KiB;

/** The sizes a file of `size` bytes is cut into: 4 MiB, or more so there are at most 4096. */
export function pieceSizeFor(size: number): number {
  let piece = DEFAULT_PIECE;
  while (piece < MAX_PIECE && Math.ceil(size / piece) > TARGET_PIECES) piece *= 2;
  return piece;
}

/** How many pieces a file of `size` bytes has. */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** Bytes of piece `index` (the last one may be shorter). */
export function pieceLength(size: number, pieceSize: number, index: number): number {
  return Math.max(0, Math.min(pieceSize, size - index * pieceSize));
}

// ---- Topics (JSON on the core channel) ----

/** An offer of one file: what the receiver sees before it accepts, and what binds the bytes. */
export interface Offer {
  /** 16 random bytes, base64url (22 characters). */
  id: string;
  name: string;
  size: number;
  /** Media type, or "" when unknown. */
  type: string;
  pieceSize: number;
  /** SHA-256 (hex) over the size, the piece size and every piece's SHA-256 (`manifestRoot`). */
  root: string;
}

/** Why a receiver stopped: it said no, it cancelled, or something failed on its side. */
export type StopReason = "declined" | "cancelled" | "failed";
const STOP_REASONS: readonly StopReason[] = ["declined", "cancelled", "failed"];

/** A receiver's answer that ends its part in an offer. */
export interface Stop {
  id: string;
  why: StopReason;
}

/** Something about one offer: a resume request, a withdrawal. */
export interface OfferRef {
  id: string;
}

/** A new random offer id. */
export function newOfferId(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}

/** The 16 bytes of an offer id, or null. */
export function offerIdBytes(id: unknown): Uint8Array | null {
  if (typeof id !== "string" || id.length !== 22) return null;
  const bytes = decodeBase64url(id);
  return bytes?.length === ID_BYTES ? bytes : null;
}

/** Path separators, controls, and marks that reorder or hide text ("exe.pdf" shown for "fdp.exe"). */
const FORBIDDEN_IN_FILE_NAME =
  /[\/\\\p{Cc}\p{Cs}\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;
const FORBIDDEN_IN_FILE_NAME_ALL = new RegExp(FORBIDDEN_IN_FILE_NAME.source, "gu");

/** A file name a receiver accepts: 1 to 255 characters, nothing forbidden, not "." or "..". */
export function checkFileName(value: unknown): string | null {
  if (typeof value !== "string" || value.length > MAX_NAME_LENGTH * 2) return null;
  const name = value.trim();
  if (name === "" || name === "." || name === "..") return null;
  if ([...name].length > MAX_NAME_LENGTH || FORBIDDEN_IN_FILE_NAME.test(name)) return null;
  return name;
}

/** The name a sender announces for a local file: what receivers would refuse, replaced. */
export function cleanFileName(name: string): string {
  const cleaned = [...name.replace(FORBIDDEN_IN_FILE_NAME_ALL, "_").trim()];
  const text = cleaned.length > MAX_NAME_LENGTH
    ? cleaned.slice(0, MAX_NAME_LENGTH).join("")
    : cleaned.join("");
  return checkFileName(text) ?? "file";
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** A media type such as `image/png` (lowercase, no parameters), "", or null. */
export function checkMediaType(value: unknown): string | null {
  if (value === "") return "";
  return typeof value === "string" && value.length <= MAX_TYPE_LENGTH && MEDIA_TYPE.test(value)
    ? value
    : null;
}

const ROOT = /^[0-9a-f]{64}$/;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Validator of `files/offer`: a fresh `Offer` from the fields checked, or null. */
export function parseOffer(body: unknown): Offer | null {
  if (!isObject(body)) return null;
  const { id, size, pieceSize, root } = body;
  const name = checkFileName(body.name);
  const type = checkMediaType(body.type);
  if (offerIdBytes(id) === null || name === null || type === null) return null;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return null;
  if (size > MAX_FILE_BYTES) return null;
  if (typeof pieceSize !== "number" || !isPowerOfTwo(pieceSize)) return null;
  if (pieceSize < MIN_PIECE || pieceSize > MAX_PIECE) return null;
  if (pieceCount(size, pieceSize) > MAX_PIECES) return null;
  if (typeof root !== "string" || !ROOT.test(root)) return null;
  return { id: id as string, name, size, type, pieceSize, root };
}

/** Validator of `files/resume` and `files/withdraw`. */
export function parseOfferRef(body: unknown): OfferRef | null {
  return isObject(body) && offerIdBytes(body.id) !== null ? { id: body.id as string } : null;
}

/** Validator of `files/stop`. */
export function parseStop(body: unknown): Stop | null {
  if (!isObject(body) || offerIdBytes(body.id) === null) return null;
  const why = STOP_REASONS.find((r) => r === body.why);
  return why ? { id: body.id as string, why } : null;
}

// ---- Frames (binary, on the feature's channel) ----

/** Frame types. Receiver to sender below 0x80, sender to receiver from 0x80. */
export const FRAME = {
  /** Receiver: send me the manifest of this offer. */
  manifestRequest: 0x01,
  /** Receiver: send me these bytes of this piece. */
  pieceRequest: 0x02,
  /** Receiver: I verified and stored this piece; I now hold this many pieces. */
  pieceStored: 0x03,
  /** Sender: piece hashes, from `first` on. */
  manifest: 0x81,
  /** Sender: bytes of a piece at an offset. */
  data: 0x82,
  /** Sender: I do not serve this offer to you (withdrawn, never made, not yours). */
  refused: 0x83,
} as const;

/** `pieceStored` with this index reports only how many pieces the receiver holds. */
export const STATUS_ONLY = 0xffff_ffff;

/** Bytes before the payload of a data frame: type, offer id, piece index, offset. */
export const DATA_HEADER = 1 + ID_BYTES + 4 + 4;
/** Bytes before the hashes of a manifest frame: type, offer id, first index. */
export const MANIFEST_HEADER = 1 + ID_BYTES + 4;

/** A frame read from the channel. `id` is the offer id's base64url; bytes are views, not copies. */
export type Frame =
  | { type: "manifest-request"; id: string }
  | { type: "piece-request"; id: string; index: number; offset: number; length: number }
  | { type: "piece-stored"; id: string; index: number; held: number }
  | { type: "manifest"; id: string; first: number; hashes: Uint8Array }
  | { type: "data"; id: string; index: number; offset: number; bytes: Uint8Array }
  | { type: "refused"; id: string };

function header(
  type: number,
  id: Uint8Array,
  extra: number,
  total: number,
): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(total);
  frame[0] = type;
  frame.set(id, 1);
  if (extra >= 0) new DataView(frame.buffer).setUint32(1 + ID_BYTES, extra);
  return frame;
}

export function manifestRequestFrame(id: Uint8Array): Uint8Array<ArrayBuffer> {
  return header(FRAME.manifestRequest, id, -1, 1 + ID_BYTES);
}

/** Asks for `length` bytes of piece `index` from `offset` on. */
export function pieceRequestFrame(
  id: Uint8Array,
  index: number,
  offset: number,
  length: number,
): Uint8Array<ArrayBuffer> {
  const frame = header(FRAME.pieceRequest, id, index, 1 + ID_BYTES + 12);
  const view = new DataView(frame.buffer);
  view.setUint32(1 + ID_BYTES + 4, offset);
  view.setUint32(1 + ID_BYTES + 8, length);
  return frame;
}

export function pieceStoredFrame(
  id: Uint8Array,
  index: number,
  held: number,
): Uint8Array<ArrayBuffer> {
  const frame = header(FRAME.pieceStored, id, index, 1 + ID_BYTES + 8);
  new DataView(frame.buffer).setUint32(1 + ID_BYTES + 4, held);
  return frame;
}

export function refusedFrame(id: Uint8Array): Uint8Array<ArrayBuffer> {
  return header(FRAME.refused, id, -1, 1 + ID_BYTES);
}

/** A manifest frame carrying `hashes` (whole hashes), the first of them being piece `first`. */
export function manifestFrame(
  id: Uint8Array,
  first: number,
  hashes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const frame = header(FRAME.manifest, id, first, MANIFEST_HEADER + hashes.length);
  frame.set(hashes, MANIFEST_HEADER);
  return frame;
}

/**
 * A data frame written into `into` (at least `DATA_HEADER + bytes.length` long), returned as a view
 * of it: a sender that hands each frame to `send` at once (which copies it) reuses one buffer.
 */
export function writeDataFrame(
  into: Uint8Array<ArrayBuffer>,
  id: Uint8Array,
  index: number,
  offset: number,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const frame = into.subarray(0, DATA_HEADER + bytes.length);
  frame[0] = FRAME.data;
  frame.set(id, 1);
  const view = new DataView(into.buffer, into.byteOffset);
  view.setUint32(1 + ID_BYTES, index);
  view.setUint32(1 + ID_BYTES + 4, offset);
  frame.set(bytes, DATA_HEADER);
  return frame;
}

/** A data frame: `bytes` of piece `index` starting at `offset`. */
export function dataFrame(
  id: Uint8Array,
  index: number,
  offset: number,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const frame = header(FRAME.data, id, index, DATA_HEADER + bytes.length);
  new DataView(frame.buffer).setUint32(1 + ID_BYTES + 4, offset);
  frame.set(bytes, DATA_HEADER);
  return frame;
}

/**
 * Reads a frame; null for text, unknown types and wrong lengths. Only the shape is checked here:
 * whether the offer, piece and offset make sense is for whoever holds the transfer's state.
 */
export function parseFrame(data: unknown, maxBytes: number): Frame | null {
  if (!(data instanceof ArrayBuffer) || data.byteLength < 1 + ID_BYTES) return null;
  if (data.byteLength > maxBytes) return null;
  const bytes = new Uint8Array(data);
  const view = new DataView(data);
  const id = encodeBase64url(bytes.subarray(1, 1 + ID_BYTES));
  const u32 = (at: number) => view.getUint32(1 + ID_BYTES + at);
  const length = data.byteLength;
  switch (bytes[0]) {
    case FRAME.manifestRequest:
      return length === 1 + ID_BYTES ? { type: "manifest-request", id } : null;
    case FRAME.pieceRequest:
      return length === 1 + ID_BYTES + 12
        ? { type: "piece-request", id, index: u32(0), offset: u32(4), length: u32(8) }
        : null;
    case FRAME.pieceStored:
      return length === 1 + ID_BYTES + 8
        ? { type: "piece-stored", id, index: u32(0), held: u32(4) }
        : null;
    case FRAME.refused:
      return length === 1 + ID_BYTES ? { type: "refused", id } : null;
    case FRAME.manifest: {
      const hashes = length - MANIFEST_HEADER;
      if (hashes <= 0 || hashes % HASH_BYTES !== 0) return null;
      return { type: "manifest", id, first: u32(0), hashes: bytes.subarray(MANIFEST_HEADER) };
    }
    case FRAME.data:
      if (length <= DATA_HEADER) return null;
      return {
        type: "data",
        id,
        index: u32(0),
        offset: u32(4),
        bytes: bytes.subarray(DATA_HEADER),
      };
    default:
      return null;
  }
}
