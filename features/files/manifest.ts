/**
 * The manifest: one SHA-256 per piece, and the root that binds them to the file's size and piece
 * size. WebCrypto hashes whole buffers only (no incremental digest), so a file is hashed piece by
 * piece, read lazily with `Blob.slice`: memory holds one piece at a time whatever the file's size.
 */
import { HASH_BYTES, pieceCount, pieceLength } from "./wire.ts";

/** What `root` is computed over, first: a version tag, so a later format cannot be confused. */
const ROOT_TAG = new TextEncoder().encode("mooz-files/1");

/** SHA-256 of `bytes`. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** Lowercase hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Whether `a` equals `b[at .. at + a.length]`. */
export function sameBytes(a: Uint8Array, b: Uint8Array, at = 0): boolean {
  if (at + a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

/**
 * The root of a manifest: SHA-256 over the tag, the size (8 bytes), the piece size (4 bytes) and
 * the piece hashes, in hex. An offer names its root, so a manifest that lies about the size, the
 * piece size or any piece does not match it.
 */
export async function manifestRoot(
  size: number,
  pieceSize: number,
  hashes: Uint8Array,
): Promise<string> {
  const input = new Uint8Array(ROOT_TAG.length + 12 + hashes.length);
  input.set(ROOT_TAG);
  const view = new DataView(input.buffer);
  view.setBigUint64(ROOT_TAG.length, BigInt(size));
  view.setUint32(ROOT_TAG.length + 8, pieceSize);
  input.set(hashes, ROOT_TAG.length + 12);
  return hex(await sha256(input));
}

/** Whether `hashes` is the whole manifest of a file of `size` bytes that `root` names. */
export async function manifestMatches(
  root: string,
  size: number,
  pieceSize: number,
  hashes: Uint8Array,
): Promise<boolean> {
  return hashes.length === pieceCount(size, pieceSize) * HASH_BYTES &&
    await manifestRoot(size, pieceSize, hashes) === root;
}

/** Reads piece `index` of `file` (one `slice`, so only this piece is in memory). */
export async function readPiece(
  file: Blob,
  pieceSize: number,
  index: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const start = index * pieceSize;
  const length = pieceLength(file.size, pieceSize, index);
  return new Uint8Array(await file.slice(start, start + length).arrayBuffer());
}

/**
 * Hashes every piece of `file`: the manifest and its root. `onProgress` hears the share done
 * (0..1) after each piece; `signal` stops it (the promise then rejects with its reason).
 */
export async function hashFile(
  file: Blob,
  pieceSize: number,
  onProgress?: (done: number) => void,
  signal?: AbortSignal,
): Promise<{ hashes: Uint8Array; root: string }> {
  const count = pieceCount(file.size, pieceSize);
  const hashes = new Uint8Array(count * HASH_BYTES);
  for (let i = 0; i < count; i++) {
    signal?.throwIfAborted();
    hashes.set(await sha256(await readPiece(file, pieceSize, i)), i * HASH_BYTES);
    onProgress?.((i + 1) / count);
  }
  return { hashes, root: await manifestRoot(file.size, pieceSize, hashes) };
}
