/**
 * The receiving half of file sharing: offers made to us, and the files we accepted.
 *
 * Nothing is written before the person accepts. Then the receiver pulls: it fetches the manifest
 * (checked against the root the offer named), asks each sender for the pieces it lacks, a few at
 * a time (`Tuning.window`), checks each piece against its SHA-256 and stores it (store.ts), and
 * asks again for a piece that fails its hash or stalls. Memory holds only the pieces asked for
 * and not yet stored, whatever the file's size.
 *
 * What is stored survives a dropped link and a reload: when the sender can be reached again (its
 * channel reopens, or it offers the same file again), only the missing pieces are asked for. A
 * file whose pieces are all here is written to the file the person chose, where the browser lets
 * them choose; otherwise it stays in this browser's storage until they save it.
 */
import type { PeerId } from "../../mesh/types.ts";
import { manifestMatches, sameBytes, sha256 } from "./manifest.ts";
import { formatBytes, RateMeter } from "./meter.ts";
import type { FileStore, StoredFile, TransferMeta } from "./store.ts";
import type { FilesIO, IncomingState, IncomingView, SaveTarget } from "./types.ts";
import {
  type Frame,
  HASH_BYTES,
  manifestRequestFrame,
  type Offer,
  offerIdBytes,
  pieceCount,
  pieceLength,
  pieceRequestFrame,
  pieceStoredFrame,
  STATUS_ONLY,
} from "./wire.ts";

/** Offers from one peer that may wait for an answer at once; more are dropped. */
const MAX_WAITING_OFFERS = 32;
/** Offers from one person within this long make one toast. */
const ANNOUNCE_MS = 300;
/** How often stalled pieces are looked for. */
const STALL_CHECK_MS = 1_000;

/** A piece being received: asked for block by block, in order. */
interface Pending {
  /** Allocated when its first bytes arrive. */
  buf: Uint8Array<ArrayBuffer> | null;
  /** Bytes asked for so far (from the start), and bytes received. */
  asked: number;
  got: number;
  /** When it was last asked for or got bytes. */
  at: number;
}

/** A file offered to us. */
class IncomingFile {
  readonly idBytes: Uint8Array;
  readonly count: number;
  state: IncomingState = "offered";
  detail = "";
  location: "browser" | "chosen" | null = null;
  stored: StoredFile | null = null;
  hashes: Uint8Array | null = null;
  /** Manifest being received, and how many hashes of it arrived. */
  manifest: Uint8Array | null = null;
  manifestGot = 0;
  /** When the manifest was asked for or last got hashes. */
  manifestAt = 0;
  /** Which pieces are stored, and the first that is not (where asking starts). */
  have: Uint8Array;
  firstMissing = 0;
  held = 0;
  heldBytes = 0;
  readonly pending = new Map<number, Pending>();
  /** Pieces whole and being checked or written. */
  readonly writing = new Set<number>();
  readonly failures = new Map<number, number>();
  meter: RateMeter;
  target: SaveTarget | null = null;
  /** Bytes held before the person accepted (an earlier, interrupted try). */
  alreadyHere = 0;
  /** Accepted in an earlier page (restored from storage): resumes without asking again. */
  acceptedBefore = false;
  /** Order of acceptance, for sharing a sender's window fairly: first accepted, first served. */
  acceptedAt = 0;

  constructor(
    readonly offer: Offer,
    public from: PeerId,
    public fromName: string,
    now: () => number,
  ) {
    this.idBytes = offerIdBytes(offer.id)!;
    this.count = pieceCount(offer.size, offer.pieceSize);
    this.have = new Uint8Array(this.count);
    this.meter = new RateMeter(now);
  }

  get id(): string {
    return this.offer.id;
  }

  lengthOf(index: number): number {
    return pieceLength(this.offer.size, this.offer.pieceSize, index);
  }

  /** Bytes here, counting what has arrived of pieces still in flight. */
  get done(): number {
    let partial = 0;
    for (const p of this.pending.values()) partial += p.got;
    return this.heldBytes + partial;
  }

  get accepted(): boolean {
    return this.state === "receiving" || this.state === "paused";
  }
}

/** The receiving half; see the module comment. */
export class Receiver {
  readonly #io: FilesIO;
  readonly #store: FileStore | null;
  readonly #files = new Map<string, IncomingFile>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Offers not announced yet, by sender (see `#announce`). */
  readonly #announcing = new Map<PeerId, IncomingFile[]>();
  #announceTimer: ReturnType<typeof setTimeout> | undefined;
  #acceptSeq = 0;
  #closed = false;

  /** For tests: hash failures and re-requests, per offer. */
  readonly debug = {
    /** Pieces that failed their hash, as `${id}:${index}`. */
    corrupt: [] as string[],
    /** Pieces asked for, as `${id}:${index}`, in order. */
    requested: [] as string[],
    /** Pieces held when each transfer started in this page, by offer id. */
    heldAtStart: new Map<string, number[]>(),
    /** Milliseconds spent waiting for hashes and for storage writes (for the bench). */
    hashMs: 0,
    writeMs: 0,
    /** When each transfer had every piece (`Date.now()`), by offer id. */
    finishedAt: new Map<string, number>(),
  };

  /** `store` is null where the browser can't store files (then nothing can be accepted). */
  constructor(io: FilesIO, store: FileStore | null) {
    this.#io = io;
    this.#store = store;
  }

  /**
   * Lists what earlier pages of this browser stored: finished files (to save or remove), and
   * unfinished ones, which continue when their sender offers them again. Folders older than
   * `maxAgeMs` are removed.
   */
  async restore(maxAgeMs: number): Promise<void> {
    if (!this.#store) return;
    let stored: { meta: TransferMeta; held: number }[];
    try {
      stored = await this.#store.list();
    } catch (err) {
      console.warn("Listing the files kept in this browser failed:", err);
      return;
    }
    for (const { meta, held } of stored) {
      if (this.#closed) return;
      if (Date.now() - meta.at > maxAgeMs) {
        await this.#store.remove(meta.offer.root).catch(() => {});
        continue;
      }
      if (this.#files.has(meta.offer.id)) continue;
      const f = new IncomingFile(meta.offer, meta.from, meta.fromName, this.#io.now);
      f.acceptedBefore = true;
      f.acceptedAt = ++this.#acceptSeq;
      if (held === f.count) {
        f.state = "done";
        f.location = "browser";
        f.heldBytes = meta.offer.size;
        f.held = f.count;
        f.detail = "Kept in this browser from an earlier visit.";
        f.stored = await this.#store.open({ ...meta });
      } else {
        f.state = "paused";
        f.alreadyHere = Math.min(meta.offer.size, held * meta.offer.pieceSize);
        f.heldBytes = f.alreadyHere;
        f.detail = `Continues when ${meta.fromName} shares it again.`;
      }
      this.#files.set(f.id, f);
    }
    this.#io.changed();
  }

  /** An offer from `from` (validated by the topic). */
  async offered(from: PeerId, offer: Offer): Promise<void> {
    const known = this.#files.get(offer.id);
    if (known) {
      // Only from its sender; from another peer only once that sender is gone (it rejoined
      // with a new peer id while keeping its page), and only for the same file.
      if (known.from !== from && this.#io.present(known.from)) {
        return this.#io.drop("offer-conflict");
      }
      if (JSON.stringify(known.offer) !== JSON.stringify(offer)) {
        return this.#io.drop("offer-changed");
      }
      known.from = from;
      known.fromName = this.#io.nameOf(from);
      if (known.state === "paused" && known.acceptedBefore && !known.stored) {
        await this.#start(known);
      } else if (known.accepted) {
        known.state = "receiving";
        this.#pump(from);
      }
      this.#io.changed();
      return;
    }
    const waiting = [...this.#files.values()].filter((f) =>
      f.from === from && f.state === "offered"
    );
    if (waiting.length >= MAX_WAITING_OFFERS) return this.#io.drop("too-many-offers");
    const f = new IncomingFile(offer, from, this.#io.nameOf(from), this.#io.now);
    this.#files.set(f.id, f);
    // The same file (same root) kept from an interrupted try: say so; its pieces will count.
    // (Known from memory, not by listing storage: an offer must cost a receiver next to nothing.)
    for (const other of this.#files.values()) {
      if (other === f || other.offer.root !== offer.root) continue;
      if (other.state === "cancelled" || other.state === "declined") continue;
      f.alreadyHere = Math.max(f.alreadyHere, other.heldBytes);
    }
    if (!this.#store) {
      f.detail = "This browser can't store received files (no origin-private file system).";
    }
    this.#announce(f);
    this.#io.changed();
  }

  /**
   * Tells the person about an offer; offers from one person that come together (several files
   * chosen or dropped at once) make one toast.
   */
  #announce(f: IncomingFile): void {
    const batch = this.#announcing.get(f.from);
    if (batch) {
      batch.push(f);
      return;
    }
    this.#announcing.set(f.from, [f]);
    this.#announceTimer ??= setTimeout(() => {
      this.#announceTimer = undefined;
      for (const [, offers] of this.#announcing) {
        const [first] = offers;
        const total = formatBytes(offers.reduce((n, o) => n + o.offer.size, 0));
        const what = offers.length === 1
          ? `${first.offer.name} (${total})`
          : `${offers.length} files (${total}): ${first.offer.name} and ${offers.length - 1} more`;
        this.#io.notify(
          "info",
          `${first.fromName} wants to send you ${what}. Open Files to accept or decline.`,
        );
      }
      this.#announcing.clear();
    }, ANNOUNCE_MS);
  }

  /** The sender stopped sharing a file with us. */
  withdrawn(from: PeerId, id: string): void {
    const f = this.#files.get(id);
    if (!f || f.from !== from) return this.#io.drop("withdraw-unknown");
    if (f.state === "done" || f.state === "saving") return;
    if (f.state === "offered" || f.accepted) {
      f.pending.clear();
      f.state = "stopped";
      f.detail = `${f.fromName} stopped sharing it.`;
      this.#io.changed();
    }
  }

  /**
   * The person accepts: the file is kept in this browser's storage as it arrives and, once whole
   * and verified, written to `target` if they chose one.
   */
  async accept(id: string, target?: SaveTarget): Promise<void> {
    const f = this.#files.get(id);
    if (!f || f.state !== "offered") return;
    if (!this.#store) {
      f.detail = "This browser can't store received files: use a current Chrome, Edge, Firefox " +
        "or Safari.";
      this.#io.changed();
      return;
    }
    const available = await this.#store.available().catch(() => null);
    const needed = f.offer.size - f.alreadyHere;
    if (available !== null && needed > available) {
      f.detail = `This file needs ${formatBytes(needed)}, but this browser lets the page store ` +
        `only ${formatBytes(Math.max(0, available))} more. Free up disk space (a private window ` +
        "has less room) and accept again.";
      this.#io.changed();
      return;
    }
    f.target = target ?? null;
    f.acceptedAt = ++this.#acceptSeq;
    await this.#start(f);
  }

  /** The person declines an offer. */
  decline(id: string): void {
    const f = this.#files.get(id);
    if (!f || f.state !== "offered") return;
    f.state = "declined";
    f.detail = "";
    this.#io.sendStop(f.from, id, "declined");
    this.#io.changed();
  }

  /** The person cancels a file being received: the sender is told, what arrived is deleted. */
  async cancel(id: string): Promise<void> {
    const f = this.#files.get(id);
    if (!f || !f.accepted) return;
    f.state = "cancelled";
    f.detail = "";
    f.pending.clear();
    this.#io.sendStop(f.from, id, "cancelled");
    this.#io.changed();
    await this.#forget(f);
  }

  /** Forgets a finished, failed or refused file, and deletes what this browser kept of it. */
  async remove(id: string): Promise<void> {
    const f = this.#files.get(id);
    if (!f || f.state === "saving") return;
    if (f.accepted) await this.cancel(id);
    this.#files.delete(id);
    this.#io.changed();
    if (f.stored || f.acceptedBefore) await this.#forget(f);
  }

  /** Deletes what storage keeps of `f`'s file, unless another transfer of it still uses it. */
  async #forget(f: IncomingFile): Promise<void> {
    for (const other of this.#files.values()) {
      const uses = other.accepted || other.state === "saving" || other.state === "done";
      if (other !== f && other.offer.root === f.offer.root && uses) return;
    }
    await this.#store?.remove(f.offer.root).catch(() => {});
  }

  /** A finished file in this browser's storage, to save (read from disk as it is written). */
  async file(id: string): Promise<Blob | null> {
    const f = this.#files.get(id);
    if (!f || f.state !== "done" || f.location !== "browser" || !f.stored) return null;
    return await f.stored.file();
  }

  /** The core link to `peer` opened: ask it to resume what it was sending us. */
  linkOpen(peer: PeerId): void {
    for (const f of this.#files.values()) {
      if (f.from === peer && f.accepted) this.#io.sendResume(peer, f.id);
    }
  }

  /** Our channel to `peer` opened (again): ask for what is missing. */
  channelOpen(peer: PeerId): void {
    for (const f of this.#files.values()) {
      if (f.from !== peer || f.state !== "paused" || !f.stored) continue;
      f.state = "receiving";
      f.detail = "";
    }
    this.#pump(peer);
    this.#io.changed();
  }

  /** Our channel to `peer` closed: pieces in flight are lost; they are asked for again later. */
  channelClosed(peer: PeerId): void {
    for (const f of this.#files.values()) {
      if (f.from !== peer || f.state !== "receiving") continue;
      f.pending.clear();
      f.manifest = null;
      f.state = "paused";
      f.detail = `The connection to ${f.fromName} dropped; it continues when it is back.`;
    }
    this.#io.changed();
  }

  /** `peer` left the meeting. */
  peerLeft(peer: PeerId): void {
    for (const f of this.#files.values()) {
      if (f.from !== peer) continue;
      if (f.accepted) {
        f.pending.clear();
        f.state = "paused";
        f.detail = `${f.fromName} left the meeting. If they share it again, it continues from ` +
          `here (${formatBytes(f.heldBytes)} of ${formatBytes(f.offer.size)} kept).`;
      } else if (f.state === "offered") {
        f.state = "stopped";
        f.detail = `${f.fromName} left the meeting.`;
      }
    }
    this.#io.changed();
  }

  /** A frame for the receiving half arrived from `peer`. */
  receive(peer: PeerId, frame: Frame): void {
    const f = this.#files.get(frame.id);
    if (!f || f.from !== peer || f.state !== "receiving") return this.#io.drop("unexpected");
    switch (frame.type) {
      case "manifest":
        return void this.#onManifest(f, frame.first, frame.hashes);
      case "data":
        return this.#onData(f, frame.index, frame.offset, frame.bytes);
      case "refused":
        f.pending.clear();
        f.state = "paused";
        f.detail = `${f.fromName} isn't sharing it with you right now; it continues if they ` +
          "share it again.";
        this.#io.changed();
        return;
      default:
        return this.#io.drop("unexpected");
    }
  }

  async #start(f: IncomingFile): Promise<void> {
    const meta: TransferMeta = {
      v: 1,
      offer: f.offer,
      from: f.from,
      fromName: f.fromName,
      at: Date.now(),
    };
    f.state = "receiving";
    f.detail = "Starting…";
    this.#io.changed();
    try {
      const stored = await this.#store!.open(meta);
      const held = await stored.pieces();
      let hashes = await stored.readManifest();
      if (hashes && !await manifestMatches(f.offer.root, f.offer.size, f.offer.pieceSize, hashes)) {
        hashes = null;
      }
      if (!f.accepted) return; // cancelled meanwhile
      // The same file offered earlier and interrupted: this transfer takes its place.
      for (const other of [...this.#files.values()]) {
        const interrupted = ["paused", "stopped", "failed"].includes(other.state);
        if (other !== f && other.offer.root === f.offer.root && interrupted) {
          this.#files.delete(other.id);
        }
      }
      f.stored = stored;
      f.hashes = hashes;
      f.have.fill(0);
      f.firstMissing = 0;
      f.held = 0;
      f.heldBytes = 0;
      for (const index of held) {
        if (index >= f.count || f.have[index]) continue;
        f.have[index] = 1;
        f.held++;
        f.heldBytes += f.lengthOf(index);
      }
      this.debug.heldAtStart.set(f.id, held.filter((i) => i < f.count));
      f.meter = new RateMeter(this.#io.now);
      f.meter.update(f.heldBytes);
      f.detail = "";
      if (f.count === 0) {
        f.hashes = new Uint8Array(0);
        if (!await manifestMatches(f.offer.root, 0, f.offer.pieceSize, f.hashes)) {
          return this.#fail(f, `The offer of ${f.offer.name} does not add up; ask for it again.`);
        }
      }
      this.#sendStatus(f);
      if (f.held === f.count) return void this.#finish(f);
      this.#watchStalls();
      this.#pump(f.from);
    } catch (err) {
      this.#fail(f, storageError(err));
    }
    this.#io.changed();
  }

  /**
   * Asks `peer` for blocks (and manifests) until what is asked for and not received reaches the
   * window: pieces in order, files in the order they were accepted.
   */
  #pump(peer: PeerId): void {
    const channel = this.#io.channel(peer);
    if (!channel?.open) return;
    const { window, block } = this.#io.tuning;
    const files = [...this.#files.values()]
      .filter((f) => f.from === peer && f.state === "receiving" && f.stored)
      .sort((a, b) => a.acceptedAt - b.acceptedAt);
    let inFlight = 0;
    for (const f of files) for (const p of f.pending.values()) inFlight += p.asked - p.got;
    // Pieces in memory, from every sender: being received, checked or written.
    let held = 0;
    for (const f of this.#files.values()) {
      for (const index of f.pending.keys()) held += f.lengthOf(index);
      for (const index of f.writing) held += f.lengthOf(index);
    }
    for (const f of files) {
      if (inFlight >= window) return;
      if (!f.hashes) {
        if (!f.manifest) {
          f.manifest = new Uint8Array(f.count * HASH_BYTES);
          f.manifestGot = 0;
          f.manifestAt = this.#io.now();
          channel.send(manifestRequestFrame(f.idBytes));
        }
        continue;
      }
      while (f.firstMissing < f.count && f.have[f.firstMissing]) f.firstMissing++;
      for (let index = f.firstMissing; index < f.count && inFlight < window; index++) {
        if (f.have[index] || f.writing.has(index)) continue;
        let p = f.pending.get(index);
        const length = f.lengthOf(index);
        if (!p) {
          // A new piece needs its buffer: not while storage is behind (at least two pieces).
          if (held > 0 && held + length > Math.max(this.#io.tuning.memory, 2 * length)) return;
          f.pending.set(index, p = { buf: null, asked: 0, got: 0, at: this.#io.now() });
          held += length;
        }
        if (p.asked === 0) this.debug.requested.push(`${f.id}:${index}`);
        while (p.asked < length && inFlight < window) {
          const size = Math.min(block, length - p.asked);
          channel.send(pieceRequestFrame(f.idBytes, index, p.asked, size));
          p.asked += size;
          p.at = this.#io.now();
          inFlight += size;
        }
      }
    }
  }

  async #onManifest(f: IncomingFile, first: number, hashes: Uint8Array): Promise<void> {
    const manifest = f.manifest;
    if (!manifest || f.hashes) return this.#io.drop("manifest-unasked");
    const at = f.manifestGot * HASH_BYTES;
    if (first !== f.manifestGot || at + hashes.length > manifest.length) {
      return this.#io.drop("manifest-out-of-place");
    }
    manifest.set(hashes, at);
    f.manifestGot += hashes.length / HASH_BYTES;
    f.manifestAt = this.#io.now();
    if (f.manifestGot < f.count) return;
    f.manifest = null;
    if (!await manifestMatches(f.offer.root, f.offer.size, f.offer.pieceSize, manifest)) {
      return this.#fail(
        f,
        `${f.fromName}'s browser sent a list of pieces that does not match the file it offered. ` +
          "Nothing was kept; ask them to share it again.",
      );
    }
    if (f.state !== "receiving") return;
    f.hashes = manifest;
    try {
      await f.stored!.writeManifest(manifest);
    } catch (err) {
      return this.#fail(f, storageError(err));
    }
    this.#pump(f.from);
  }

  #onData(f: IncomingFile, index: number, offset: number, bytes: Uint8Array): void {
    const p = f.pending.get(index);
    const length = f.lengthOf(index);
    if (!p || !f.hashes) return this.#io.drop("data-unasked");
    // Blocks are asked for in order and sent in order: bytes arrive where the last ones ended,
    // and never past what was asked for.
    if (offset !== p.got || offset + bytes.length > p.asked) {
      return this.#io.drop("data-out-of-place");
    }
    p.buf ??= new Uint8Array(length);
    p.buf.set(bytes, offset);
    if (f.detail) f.detail = "";
    p.got += bytes.length;
    p.at = this.#io.now();
    f.meter.update(f.done);
    this.#io.changed();
    if (p.got === length) void this.#complete(f, index, p.buf);
    // A block is in (blocks start at multiples of the block size): ask for the next.
    else if (p.got % this.#io.tuning.block === 0) this.#pump(f.from);
  }

  /** A piece is whole: check it, store it, acknowledge it, ask for more. */
  async #complete(f: IncomingFile, index: number, buf: Uint8Array<ArrayBuffer>): Promise<void> {
    f.pending.delete(index);
    f.writing.add(index);
    try {
      const hashedAt = this.#io.now();
      const ok = sameBytes(await sha256(buf), f.hashes!, index * HASH_BYTES);
      this.debug.hashMs += this.#io.now() - hashedAt;
      if (!ok) {
        this.debug.corrupt.push(`${f.id}:${index}`);
        const failures = (f.failures.get(index) ?? 0) + 1;
        f.failures.set(index, failures);
        if (failures >= this.#io.tuning.maxPieceFailures) {
          return this.#fail(
            f,
            `Part of ${f.offer.name} kept arriving damaged from ${f.fromName} (${failures} times). ` +
              "Nothing damaged was kept; try again later.",
          );
        }
        return; // asked for again below
      }
      if (f.state !== "receiving" || f.have[index]) return;
      const writeAt = this.#io.now();
      await f.stored!.write(index, buf);
      this.debug.writeMs += this.#io.now() - writeAt;
      if (f.state !== "receiving" && f.state !== "paused") return;
      if (!f.have[index]) {
        f.have[index] = 1;
        f.held++;
        f.heldBytes += buf.length;
      }
      f.meter.update(f.done);
      this.#io.channel(f.from)?.send(pieceStoredFrame(f.idBytes, index, f.held));
      if (f.held === f.count) await this.#finish(f);
    } catch (err) {
      this.#fail(f, storageError(err));
    } finally {
      f.writing.delete(index);
      this.#io.changed();
      // Memory freed: any sender held back by it may go on.
      const senders = new Set<PeerId>();
      for (const other of this.#files.values()) {
        if (other.state === "receiving") senders.add(other.from);
      }
      for (const peer of senders) this.#pump(peer);
    }
  }

  /** Tells the sender how many pieces we hold (its progress bar), as a status-only ack. */
  #sendStatus(f: IncomingFile): void {
    this.#io.channel(f.from)?.send(pieceStoredFrame(f.idBytes, STATUS_ONLY, f.held));
  }

  /** Every piece is here and verified: write it where the person chose, or keep it here. */
  async #finish(f: IncomingFile): Promise<void> {
    f.pending.clear();
    this.debug.finishedAt.set(f.id, Date.now());
    const target = f.target;
    if (!target) {
      f.state = "done";
      f.location = "browser";
      f.detail = "";
      this.#io.notify("info", `${f.offer.name} from ${f.fromName} is here, whole and verified.`);
      this.#io.changed();
      return;
    }
    f.state = "saving";
    f.detail = `Writing it to ${target.name}…`;
    this.#io.changed();
    try {
      const blob = await f.stored!.file();
      await blob.stream().pipeTo(await target.createWritable());
      f.state = "done";
      f.location = "chosen";
      f.detail = "";
      this.#io.notify("info", `${f.offer.name} from ${f.fromName} is saved as ${target.name}.`);
      f.stored = null;
      await this.#forget(f);
    } catch (err) {
      f.state = "done";
      f.location = "browser";
      f.detail = `It could not be written to ${target.name} (${(err as Error).message}); it is ` +
        "kept in this browser: save it from here.";
      this.#io.notify("error", `${f.offer.name}: ${f.detail}`);
    }
    this.#io.changed();
  }

  #fail(f: IncomingFile, detail: string): void {
    if (f.state === "failed") return;
    const wasAccepted = f.accepted;
    f.state = "failed";
    f.detail = detail;
    f.pending.clear();
    if (wasAccepted) this.#io.sendStop(f.from, f.id, "failed");
    this.#io.notify("error", detail);
    this.#io.changed();
  }

  /** Asks again for pieces that got nothing for `stallMs` (checked every second while needed). */
  #watchStalls(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      const now = this.#io.now();
      let active = false;
      const peers = new Set<PeerId>();
      for (const f of this.#files.values()) {
        if (f.state !== "receiving") continue;
        active = true;
        for (const [index, p] of f.pending) {
          if (now - p.at < this.#io.tuning.stallMs) continue;
          f.pending.delete(index);
          peers.add(f.from);
          f.detail = `Nothing arrived from ${f.fromName} for a while; asked again.`;
          this.#io.changed();
        }
        if (f.manifest && now - f.manifestAt >= this.#io.tuning.stallMs) {
          f.manifest = null;
          peers.add(f.from);
        }
      }
      for (const peer of peers) this.#pump(peer);
      if (!active) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    }, STALL_CHECK_MS);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#announceTimer);
    this.#timer = undefined;
    for (const f of this.#files.values()) f.pending.clear();
  }

  /** What the UI shows of each file offered to us, newest first. */
  view(): IncomingView[] {
    return [...this.#files.values()].reverse().map((f) => {
      const receiving = f.state === "receiving";
      return {
        dir: "in",
        id: f.id,
        name: f.offer.name,
        size: f.offer.size,
        type: f.offer.type,
        from: f.from,
        fromName: f.fromName,
        state: f.state,
        done: f.state === "done" || f.state === "saving" ? f.offer.size : f.done,
        rate: receiving ? f.meter.rate() : null,
        secondsLeft: receiving ? f.meter.secondsLeft(f.offer.size) : null,
        detail: f.detail,
        location: f.location,
        alreadyHere: f.alreadyHere,
      };
    });
  }

  /** Offers waiting for the person's answer. */
  waiting(): number {
    let n = 0;
    for (const f of this.#files.values()) if (f.state === "offered") n++;
    return n;
  }
}

/** A storage failure in words the person can act on. */
function storageError(err: unknown): string {
  const name = (err as Error)?.name;
  if (name === "QuotaExceededError") {
    return "This browser ran out of room for the file. Free up disk space (a private window has " +
      "less room), then ask for it again.";
  }
  return `This browser could not store the file (${(err as Error)?.message ?? err}).`;
}
