/**
 * `FileStore` on the origin-private file system (OPFS), the browser's disk space for this site.
 *
 * Each piece is its own file, written with `createWritable()` and committed by `close()`. Why not
 * one file written in place: a writable stream commits only when closed (until then Chromium
 * writes to a swap file that a reload throws away), and in-place writes (`createSyncAccessHandle`)
 * need a dedicated worker, which this app's bundler and content security policy do not serve. So
 * what was received survives a reload, piece by piece. A piece counts as held only at its full
 * length: the file itself exists, empty, from the moment its writing starts, and stays so when
 * the page goes before `close()`. The whole file is a `Blob` made of the piece files: the browser
 * reads it from disk when it is saved.
 */
import { type FileStore, isMeta, type StoredFile, type TransferMeta } from "./store.ts";
import { pieceCount, pieceLength } from "./wire.ts";

/** The app's folder in the origin-private file system. */
const FOLDER = "mooz-files";
const PIECE = /^p(\d{1,5})$/;

async function folder(): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  return await root.getDirectoryHandle(FOLDER, { create: true });
}

async function writeFile(
  dir: FileSystemDirectoryHandle,
  name: string,
  data: Uint8Array<ArrayBuffer> | string,
): Promise<void> {
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  try {
    await writable.write(data);
    await writable.close();
  } catch (err) {
    await writable.abort().catch(() => {});
    throw err;
  }
}

async function readFile(dir: FileSystemDirectoryHandle, name: string): Promise<File | null> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

/** Names in a folder (the typings of `FileSystemDirectoryHandle` lack the async iterator). */
async function names(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  const iterable = dir as unknown as { keys(): AsyncIterable<string> };
  for await (const name of iterable.keys()) out.push(name);
  return out;
}

/** Indexes of the pieces in `dir` that are whole (see the module comment). */
async function wholePieces(
  dir: FileSystemDirectoryHandle,
  size: number,
  pieceSize: number,
): Promise<number[]> {
  const listed = (await names(dir)).map((n) => PIECE.exec(n)?.[1])
    .filter((n) => n !== undefined).map(Number);
  const whole: number[] = [];
  // A few at a time: thousands of pieces are listed in about a second.
  for (let i = 0; i < listed.length; i += 32) {
    await Promise.all(
      listed.slice(i, i + 32).map(async (index) => {
        const file = await readFile(dir, `p${index}`);
        if (file?.size === pieceLength(size, pieceSize, index)) whole.push(index);
      }),
    );
  }
  return whole.sort((a, b) => a - b);
}

/** The browser's `FileStore`: see the module comment. */
export class OpfsStore implements FileStore {
  static supported(): boolean {
    return typeof navigator !== "undefined" && typeof navigator.storage?.getDirectory ===
        "function" &&
      typeof FileSystemFileHandle !== "undefined" &&
      "createWritable" in FileSystemFileHandle.prototype;
  }

  async open(meta: TransferMeta): Promise<StoredFile> {
    const dir = await (await folder()).getDirectoryHandle(meta.offer.root, { create: true });
    await writeFile(dir, "meta.json", JSON.stringify(meta));
    const { size, pieceSize, type } = meta.offer;
    return {
      readManifest: async () => {
        const file = await readFile(dir, "manifest");
        return file ? new Uint8Array(await file.arrayBuffer()) : null;
      },
      writeManifest: (hashes) => writeFile(dir, "manifest", new Uint8Array(hashes)),
      pieces: () => wholePieces(dir, size, pieceSize),
      write: (index, bytes) => writeFile(dir, `p${index}`, bytes),
      file: async () => {
        const parts: File[] = [];
        for (let i = 0; i < pieceCount(size, pieceSize); i++) {
          const part = await readFile(dir, `p${i}`);
          if (part?.size !== pieceLength(size, pieceSize, i)) {
            throw new Error(`Part of the file is missing from this browser's storage.`);
          }
          parts.push(part);
        }
        return new Blob(parts, { type });
      },
    };
  }

  async list(): Promise<{ meta: TransferMeta; held: number }[]> {
    const base = await folder();
    const out: { meta: TransferMeta; held: number }[] = [];
    for (const name of await names(base)) {
      try {
        const dir = await base.getDirectoryHandle(name);
        const file = await readFile(dir, "meta.json");
        const meta: unknown = file ? JSON.parse(await file.text()) : null;
        if (!isMeta(meta) || meta.offer.root !== name) continue;
        const { size, pieceSize } = meta.offer;
        out.push({ meta, held: (await wholePieces(dir, size, pieceSize)).length });
      } catch {
        // Not a folder of ours, or unreadable: skipped.
      }
    }
    return out;
  }

  async remove(root: string): Promise<void> {
    await (await folder()).removeEntry(root, { recursive: true }).catch(() => {});
  }

  async available(): Promise<number | null> {
    const estimate = await navigator.storage.estimate?.().catch(() => null);
    return estimate?.quota === undefined ? null : estimate.quota - (estimate.usage ?? 0);
  }
}
