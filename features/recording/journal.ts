/**
 * Where a recording goes while it is being made: each chunk the recorder hands over is written to
 * disk at once (IndexedDB, one transaction per chunk), so nothing of the recording waits in
 * memory and a tab that crashes loses at most the chunk in flight. Chunks come back as one
 * disk-backed `Blob` to be turned into the final file (finalize.ts).
 *
 * Why IndexedDB and not a file: a `FileSystemWritableFileStream` (a picked file, or the
 * origin-private file system) writes to a temporary copy that becomes the file only when closed,
 * so a crash loses all of it; the origin-private file system's in-place writes need a worker,
 * which this app's bundles do not make. A committed IndexedDB transaction survives the tab.
 *
 * A recording in progress holds a Web Lock named after it: an entry still "recording" whose lock
 * nobody holds was left by a tab that crashed or closed, and can be saved from what it wrote.
 *
 * @example
 * ```ts
 * const journal = await Journal.open();
 * const entry = await journal.create({ room, mimeType });
 * recorder.ondataavailable = (e) => journal.append(entry.id, e.data, elapsedMs);
 * // later
 * const blob = await journal.blob(entry.id); // read from disk as needed
 * ```
 */

/** A recording's record: what it is, how far it got. */
export interface JournalEntry {
  id: string;
  room: string;
  mimeType: string;
  /** When it started, `Date.now()`. */
  startedAt: number;
  /** When its last chunk was written. */
  updatedAt: number;
  /** Time recorded (pauses excluded) up to its last chunk, ms. */
  durationMs: number;
  bytes: number;
  chunks: number;
  /** `recording` while being made (or left by a crash); `stopped` once complete, not saved. */
  state: "recording" | "stopped";
}

const DB = "mooz-recordings";
const ENTRIES = "entries";
const CHUNKS = "chunks";
const LOCK_PREFIX = "mooz-recording:";

/** The disk is full or the site's storage quota is used up. */
export class DiskFullError extends Error {
  constructor(cause: unknown) {
    super("There is no more room on the disk for the recording.", { cause });
    this.name = "DiskFullError";
  }
}

/** Whether `err` says storage ran out of room. */
export function isQuotaError(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === "QuotaExceededError" || name === "DiskFullError";
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    const fail = () => {
      const error = tx.error;
      reject(isQuotaError(error) ? new DiskFullError(error) : error ?? new Error("aborted"));
    };
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

/** The recordings being made, or left unfinished, in this browser. */
export class Journal {
  readonly #db: IDBDatabase;
  /** Appends per recording, one at a time and in order. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #locks = new Map<string, () => void>();
  /** Records of the recordings this tab makes, as last written. */
  readonly #live = new Map<string, JournalEntry>();

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  static async open(): Promise<Journal> {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore(ENTRIES, { keyPath: "id" });
      db.createObjectStore(CHUNKS);
    };
    return new Journal(await done(request));
  }

  /** Starts a recording's record and holds its lock until `release` (or the tab goes). */
  async create(init: { room: string; mimeType: string }): Promise<JournalEntry> {
    const id = crypto.randomUUID();
    await this.#hold(id);
    const now = Date.now();
    const entry: JournalEntry = {
      id,
      room: init.room,
      mimeType: init.mimeType,
      startedAt: now,
      updatedAt: now,
      durationMs: 0,
      bytes: 0,
      chunks: 0,
      state: "recording",
    };
    const tx = this.#db.transaction(ENTRIES, "readwrite");
    tx.objectStore(ENTRIES).put(entry);
    await committed(tx);
    this.#live.set(id, entry);
    return entry;
  }

  /**
   * Writes the next chunk of recording `id` to disk with how long it has been recording;
   * resolves once it is on disk. Rejects with `DiskFullError` when there is no room.
   */
  append(id: string, chunk: Blob, durationMs: number): Promise<void> {
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const entry = this.#live.get(id);
      if (!entry) throw new Error("This recording was not started in this tab.");
      const next: JournalEntry = {
        ...entry,
        chunks: entry.chunks + (chunk.size > 0 ? 1 : 0),
        bytes: entry.bytes + chunk.size,
        durationMs: Math.max(entry.durationMs, durationMs),
        updatedAt: Date.now(),
      };
      const tx = this.#db.transaction([ENTRIES, CHUNKS], "readwrite");
      if (chunk.size > 0) tx.objectStore(CHUNKS).put(chunk, [id, entry.chunks]);
      tx.objectStore(ENTRIES).put(next);
      await committed(tx);
      this.#live.set(id, next);
    });
    this.#queues.set(id, next.catch(() => {}));
    return next;
  }

  /** Waits for every append of `id` so far. */
  async flushed(id: string): Promise<void> {
    await this.#queues.get(id);
  }

  /** Marks recording `id` complete (all chunks written) and releases its lock. */
  async stop(id: string, durationMs?: number): Promise<void> {
    await this.flushed(id);
    const entry = this.#live.get(id) ?? await this.get(id);
    if (entry) {
      const tx = this.#db.transaction(ENTRIES, "readwrite");
      tx.objectStore(ENTRIES).put({
        ...entry,
        state: "stopped",
        durationMs: durationMs ?? entry.durationMs,
        updatedAt: Date.now(),
      });
      await committed(tx);
    }
    this.#live.delete(id);
    this.release(id);
  }

  /** Lets go of recording `id`'s lock (it shows as unfinished to other tabs from now). */
  release(id: string): void {
    this.#locks.get(id)?.();
    this.#locks.delete(id);
  }

  /** One recording's record, or null. */
  async get(id: string): Promise<JournalEntry | null> {
    const tx = this.#db.transaction(ENTRIES, "readonly");
    return (await done(tx.objectStore(ENTRIES).get(id)) as JournalEntry | undefined) ?? null;
  }

  /**
   * Recordings not being made by any tab now: left by a crash (`recording`) or complete and not
   * saved (`stopped`), oldest first.
   */
  async unfinished(): Promise<JournalEntry[]> {
    const tx = this.#db.transaction(ENTRIES, "readonly");
    const all = await done(tx.objectStore(ENTRIES).getAll()) as JournalEntry[];
    const held = new Set(
      ((await navigator.locks?.query())?.held ?? []).map((l) => l.name).filter(Boolean),
    );
    return all.filter((e) => !held.has(LOCK_PREFIX + e.id) && !this.#locks.has(e.id))
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Recording `id` as written: its chunks in order, read from disk as needed. */
  async blob(id: string): Promise<Blob> {
    const entry = await this.get(id);
    const tx = this.#db.transaction(CHUNKS, "readonly");
    const chunks = await done(
      tx.objectStore(CHUNKS).getAll(IDBKeyRange.bound([id, 0], [id, Infinity])),
    ) as Blob[];
    return new Blob(chunks, { type: entry?.mimeType ?? "" });
  }

  /** Deletes recording `id` and its chunks. */
  async remove(id: string): Promise<void> {
    await this.flushed(id).catch(() => {});
    const tx = this.#db.transaction([ENTRIES, CHUNKS], "readwrite");
    tx.objectStore(ENTRIES).delete(id);
    tx.objectStore(CHUNKS).delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
    await committed(tx);
    this.#live.delete(id);
    this.release(id);
  }

  close(): void {
    for (const id of [...this.#locks.keys()]) this.release(id);
    this.#db.close();
  }

  async #hold(id: string): Promise<void> {
    if (!navigator.locks) return;
    await new Promise<void>((held) => {
      navigator.locks.request(LOCK_PREFIX + id, () =>
        new Promise<void>((release) => {
          this.#locks.set(id, release);
          held();
        }));
    });
  }
}
