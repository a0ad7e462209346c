/**
 * Where a receiver keeps what it accepted, piece by piece, so that a link that drops or a page
 * that reloads continues from the pieces already here. The browser's is the origin-private file
 * system (store_opfs.ts); tests use `MemoryStore`.
 *
 * One folder per file, named by its manifest root: the offer it was accepted from (`meta`), the
 * manifest, and one entry per piece, written only once the piece matched its hash. A piece that
 * is listed is therefore whole and verified.
 */
import type { PeerId } from "../../mesh/types.ts";
import { type Offer, pieceCount } from "./wire.ts";

/** What a receiver records when it accepts an offer (to resume after a reload). */
export interface TransferMeta {
  v: 1;
  offer: Offer;
  /** The sender's peer id and name when it was accepted. */
  from: PeerId;
  fromName: string;
  /** Last time it was accepted or resumed (ms since epoch); old folders are cleared. */
  at: number;
}

/** One file's folder. */
export interface StoredFile {
  readManifest(): Promise<Uint8Array | null>;
  writeManifest(hashes: Uint8Array): Promise<void>;
  /** Indexes of the pieces held. */
  pieces(): Promise<number[]>;
  /** Stores a verified piece. Rejects when storage is full or refused. */
  write(index: number, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** The whole file, read from storage when read (never all in memory). */
  file(): Promise<Blob>;
}

/** Every file folder of this browser. */
export interface FileStore {
  /** The folder for `meta.offer.root`, made if missing; `meta` is (re)written. */
  open(meta: TransferMeta): Promise<StoredFile>;
  /** What each folder holds: its meta and how many pieces (for resume after a reload). */
  list(): Promise<{ meta: TransferMeta; held: number }[]>;
  remove(root: string): Promise<void>;
  /** Bytes this origin may still store, or null when the browser does not say. */
  available(): Promise<number | null>;
}

/** Whether a stored meta is one this version wrote, with an offer as parseOffer would pass it. */
export function isMeta(value: unknown): value is TransferMeta {
  const m = value as Partial<TransferMeta> | null;
  return typeof m === "object" && m !== null && m.v === 1 && typeof m.from === "string" &&
    typeof m.fromName === "string" && typeof m.at === "number" && typeof m.offer === "object" &&
    m.offer !== null && typeof m.offer.root === "string";
}

/** A `FileStore` in memory, for tests; `quota` bounds what it holds, as a browser's would. */
export class MemoryStore implements FileStore {
  readonly folders = new Map<
    string,
    {
      meta: TransferMeta;
      manifest: Uint8Array | null;
      pieces: Map<number, Uint8Array<ArrayBuffer>>;
    }
  >();
  /** Pieces written, in order (for tests). */
  readonly writes: { root: string; index: number }[] = [];
  /** Writes under way now, and the most there were at once. */
  writing = 0;
  maxWriting = 0;

  /** `quota` bounds what it holds; each write takes `writeDelayMs` (a slow disk). */
  constructor(public quota = Infinity, public writeDelayMs = 0) {}

  open(meta: TransferMeta): Promise<StoredFile> {
    const root = meta.offer.root;
    let folder = this.folders.get(root);
    if (!folder) this.folders.set(root, folder = { meta, manifest: null, pieces: new Map() });
    folder.meta = structuredClone(meta);
    const f = folder;
    return Promise.resolve({
      readManifest: () => Promise.resolve(f.manifest),
      writeManifest: (hashes) => {
        f.manifest = hashes.slice();
        return Promise.resolve();
      },
      pieces: () => Promise.resolve([...f.pieces.keys()].sort((a, b) => a - b)),
      write: async (index, bytes) => {
        this.maxWriting = Math.max(this.maxWriting, ++this.writing);
        try {
          if (this.writeDelayMs > 0) {
            await new Promise((resolve) => setTimeout(resolve, this.writeDelayMs));
          }
          if (this.#used() + bytes.length > this.quota) {
            throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
          }
          f.pieces.set(index, bytes.slice());
          this.writes.push({ root, index });
        } finally {
          this.writing--;
        }
      },
      file: () => {
        const count = pieceCount(f.meta.offer.size, f.meta.offer.pieceSize);
        const parts = Array.from({ length: count }, (_, i) => f.pieces.get(i)!);
        return Promise.resolve(new Blob(parts, { type: f.meta.offer.type }));
      },
    });
  }

  list(): Promise<{ meta: TransferMeta; held: number }[]> {
    return Promise.resolve(
      [...this.folders.values()].map((f) => ({
        meta: structuredClone(f.meta),
        held: f.pieces.size,
      })),
    );
  }

  remove(root: string): Promise<void> {
    this.folders.delete(root);
    return Promise.resolve();
  }

  available(): Promise<number | null> {
    return Promise.resolve(this.quota === Infinity ? null : this.quota - this.#used());
  }

  #used(): number {
    let used = 0;
    for (const f of this.folders.values()) for (const p of f.pieces.values()) used += p.length;
    return used;
  }
}
