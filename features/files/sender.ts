/**
 * The sending half of file sharing: files we offer, and one send queue per peer that serves the
 * manifest and the blocks of pieces its receiver asks for.
 *
 * The file is read lazily, one piece at a time (`Blob.slice`, the next one while a piece goes
 * out), and pieces recently read are shared between receivers, so memory grows neither with the
 * file's size nor with the number of receivers. Blocks go out in frames as large as the link
 * takes (`maxMessageSize`, 256 KiB in Chromium), and the queue waits whenever more than
 * `highWater` bytes are queued on the channel (`drained(lowWater)`): Chromium refuses to queue
 * more than 16 MiB, and with megabytes queued its channels stalled now and then, chat included
 * (README "File sharing").
 *
 * Receivers pull: nothing is sent that was not asked for, by a peer the offer went to (or who
 * proved it holds the offer id, after a reload), for a piece that exists. Everything else is
 * dropped and counted.
 */
import type { PeerChannel } from "../../mesh/feature.ts";
import type { PeerId } from "../../mesh/types.ts";
import { hashFile, readPiece } from "./manifest.ts";
import { formatBytes, RateMeter } from "./meter.ts";
import type { FilesIO, OutgoingState, OutgoingView, ReceiverState } from "./types.ts";
import {
  checkMediaType,
  cleanFileName,
  DATA_HEADER,
  type Frame,
  HASH_BYTES,
  MANIFEST_HEADER,
  manifestFrame,
  MAX_BLOCK,
  MAX_FILE_BYTES,
  newOfferId,
  type Offer,
  offerIdBytes,
  pieceCount,
  pieceLength,
  pieceSizeFor,
  refusedFrame,
  STATUS_ONLY,
  type StopReason,
  writeDataFrame,
} from "./wire.ts";

/** Requests one peer may have queued with us; more are dropped (it asks again if it stalls). */
const MAX_QUEUED = 64;
/** The largest frame we send, whatever the link allows. */
const MAX_FRAME = 256 * 1024;

interface Receiver {
  state: ReceiverState;
  /** Pieces it says it holds. */
  held: number;
  meter: RateMeter;
}

/** A file we offer. */
class OutgoingFile {
  readonly idBytes: Uint8Array;
  readonly name: string;
  readonly type: string;
  readonly pieceSize: number;
  readonly count: number;
  state: OutgoingState = "preparing";
  prepared = 0;
  detail = "";
  hashes: Uint8Array | null = null;
  root = "";
  readonly receivers = new Map<PeerId, Receiver>();
  readonly abort = new AbortController();

  constructor(readonly id: string, readonly file: Blob, name: string, readonly to: PeerId | "all") {
    this.idBytes = offerIdBytes(id)!;
    this.name = cleanFileName(name);
    this.type = checkMediaType(file.type.split(";")[0].trim().toLowerCase()) ?? "";
    this.pieceSize = pieceSizeFor(file.size);
    this.count = pieceCount(file.size, this.pieceSize);
  }

  get size(): number {
    return this.file.size;
  }

  offer(): Offer {
    const { id, name, type, pieceSize, root } = this;
    return { id, name, size: this.size, type, pieceSize, root };
  }
}

type Job =
  | { file: OutgoingFile; index: number; offset: number; length: number }
  | { file: OutgoingFile; manifest: true };

/** The sending half; see the module comment. */
export class Sender {
  readonly #io: FilesIO;
  readonly #files = new Map<string, OutgoingFile>();
  readonly #queues = new Map<PeerId, Job[]>();
  readonly #running = new Set<PeerId>();
  /** Pieces read recently, shared by receivers: `${id}:${index}`, oldest first. */
  readonly #cache = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  /** Where each data frame is written before `send` copies it. */
  readonly #frame = new Uint8Array(MAX_FRAME);
  /** Files waiting to be hashed, one at a time. */
  #preparing: Promise<void> = Promise.resolve();

  /** For tests: what was served to whom, the deepest queue, and pieces to damage once. */
  readonly debug = {
    /** `${id} ${peer}` → piece indexes sent, in order. */
    served: new Map<string, number[]>(),
    /** The highest `bufferedAmount` seen after a send, per peer. */
    maxBuffered: new Map<PeerId, number>(),
    /** `${id}:${index}`: flip a byte in that piece the next time it is sent. */
    corrupt: new Set<string>(),
    /** Milliseconds spent waiting for file reads and for channels to drain (for the bench). */
    readMs: 0,
    drainMs: 0,
  };

  constructor(io: FilesIO) {
    this.#io = io;
  }

  /** Hashes `file`, then offers it to `to`; returns its id at once. */
  share(file: File, to: PeerId | "all"): string {
    const outgoing = new OutgoingFile(newOfferId(), file, file.name, to);
    this.#files.set(outgoing.id, outgoing);
    if (file.size > MAX_FILE_BYTES) {
      this.#fail(
        outgoing,
        `${outgoing.name} is larger than ${formatBytes(MAX_FILE_BYTES)}, the most Mooz can send.`,
      );
      return outgoing.id;
    }
    this.#io.changed();
    this.#preparing = this.#preparing.then(() => this.#prepare(outgoing));
    return outgoing.id;
  }

  async #prepare(f: OutgoingFile): Promise<void> {
    if (f.state !== "preparing") return;
    try {
      const { hashes, root } = await hashFile(f.file, f.pieceSize, (done) => {
        f.prepared = done;
        this.#io.changed();
      }, f.abort.signal);
      if (f.state !== "preparing") return;
      f.hashes = hashes;
      f.root = root;
      f.state = "shared";
      f.prepared = 1;
      const targets = f.to === "all" ? this.#io.peersOnline() : [f.to];
      for (const peer of targets) this.#offerTo(f, peer);
      if (f.to !== "all" && !f.receivers.has(f.to)) {
        f.detail = `${
          this.#io.nameOf(f.to)
        } can't be reached right now; they get it once they can.`;
      }
    } catch (err) {
      if (f.state !== "preparing") return;
      this.#fail(f, `${f.name} could not be read: ${readError(err)}`);
    }
    this.#io.changed();
  }

  #offerTo(f: OutgoingFile, peer: PeerId): void {
    if (!this.#io.sendOffer(peer, f.offer())) return;
    const known = f.receivers.get(peer);
    if (known && known.state !== "declined" && known.state !== "cancelled") return;
    f.receivers.set(peer, { state: "offered", held: 0, meter: new RateMeter(this.#io.now) });
    if (f.to !== "all") f.detail = "";
  }

  /** The core link to `peer` opened: it gets what we share with everyone. */
  linkOpen(peer: PeerId): void {
    for (const f of this.#files.values()) {
      if (f.state !== "shared") continue;
      if (f.to === "all" && !f.receivers.has(peer)) this.#offerTo(f, peer);
      else if (f.to === peer && !f.receivers.has(peer)) this.#offerTo(f, peer);
    }
    this.#io.changed();
  }

  /**
   * `peer` asks for an offer again (it reloaded, or its peer id changed): knowing the id is what
   * entitles it, since only the offer's recipients ever learned it.
   */
  resume(peer: PeerId, id: string): void {
    const f = this.#files.get(id);
    if (!f || f.state !== "shared") return this.#io.drop("resume-unknown");
    const known = f.receivers.get(peer);
    if (known?.state === "removed") return this.#io.drop("resume-removed");
    if (known) {
      this.#io.sendOffer(peer, f.offer());
      return;
    }
    this.#offerTo(f, peer);
    this.#io.changed();
  }

  /** A receiver declined, cancelled or failed. */
  stopped(peer: PeerId, id: string, why: StopReason): void {
    const r = this.#files.get(id)?.receivers.get(peer);
    if (!r || r.state === "done") return this.#io.drop("stop-unknown");
    r.state = why === "declined" ? "declined" : why === "cancelled" ? "cancelled" : "failed";
    this.#dropJobs(peer, id);
    this.#io.changed();
  }

  /** `peer` left the meeting. */
  peerLeft(peer: PeerId): void {
    for (const f of this.#files.values()) {
      const r = f.receivers.get(peer);
      if (r && (r.state === "offered" || r.state === "receiving")) r.state = "left";
    }
    this.#queues.delete(peer);
    this.#io.changed();
  }

  /** Our channel to `peer` closed: what it asked for is gone; it asks again when back. */
  channelClosed(peer: PeerId): void {
    this.#queues.delete(peer);
  }

  /**
   * Stops sharing a file with everyone, or with one receiver (who is told, and is refused from
   * now on).
   */
  stop(id: string, peer?: PeerId): void {
    const f = this.#files.get(id);
    if (!f) return;
    if (peer !== undefined) {
      const r = f.receivers.get(peer);
      if (!r) return;
      if (r.state !== "done") this.#io.sendWithdraw(peer, id);
      r.state = "removed";
      this.#dropJobs(peer, id);
    } else {
      f.abort.abort();
      if (f.state === "preparing" || f.state === "shared") f.state = "stopped";
      for (const [p, r] of f.receivers) {
        if (r.state === "offered" || r.state === "receiving") this.#io.sendWithdraw(p, id);
      }
      for (const p of this.#queues.keys()) this.#dropJobs(p, id);
      this.#evict(id);
    }
    this.#io.changed();
  }

  /** Forgets a file (stopping it first). */
  remove(id: string): void {
    this.stop(id);
    this.#files.delete(id);
    this.#io.changed();
  }

  /** A frame for the sending half arrived from `peer`. */
  receive(peer: PeerId, frame: Frame): void {
    if (
      frame.type !== "manifest-request" && frame.type !== "piece-request" &&
      frame.type !== "piece-stored"
    ) return;
    const f = this.#files.get(frame.id);
    const r = f?.receivers.get(peer);
    if (!f || f.state !== "shared" || !r || r.state === "removed" || r.state === "left") {
      this.#io.drop("request-refused");
      this.#io.channel(peer)?.send(refusedFrame(offerIdBytes(frame.id)!));
      return;
    }
    if (frame.type === "piece-stored") {
      if (frame.held > f.count || (frame.index !== STATUS_ONLY && frame.index >= f.count)) {
        return this.#io.drop("bad-ack");
      }
      r.held = frame.held;
      r.meter.update(Math.min(f.size, frame.held * f.pieceSize));
      if (r.state !== "done") r.state = frame.held === f.count ? "done" : "receiving";
      this.#io.changed();
      return;
    }
    if (frame.type === "piece-request") {
      const { index, offset, length } = frame;
      const end = offset + length;
      if (index >= f.count || length === 0 || length > MAX_BLOCK) return this.#io.drop("bad-piece");
      if (end > pieceLength(f.size, f.pieceSize, index)) return this.#io.drop("bad-piece");
    }
    const queue = this.#queues.get(peer) ?? [];
    if (queue.length >= MAX_QUEUED) return this.#io.drop("queue-full");
    if (r.state === "offered" || r.state === "declined" || r.state === "cancelled") {
      r.state = "receiving";
      this.#io.changed();
    }
    queue.push(
      frame.type === "piece-request"
        ? { file: f, index: frame.index, offset: frame.offset, length: frame.length }
        : { file: f, manifest: true },
    );
    this.#queues.set(peer, queue);
    void this.#run(peer);
  }

  /** Serves `peer`'s queue, one job at a time, while its channel is open. */
  async #run(peer: PeerId): Promise<void> {
    if (this.#running.has(peer)) return;
    this.#running.add(peer);
    try {
      while (true) {
        const job = this.#queues.get(peer)?.shift();
        const channel = this.#io.channel(peer);
        if (!job || !channel) break;
        const f = job.file;
        if (f.state !== "shared" || !this.#serves(f, peer)) continue;
        if ("manifest" in job) {
          await this.#sendManifest(channel, f);
          continue;
        }
        let bytes: Uint8Array<ArrayBuffer>;
        try {
          const readAt = this.#io.now();
          bytes = await this.#read(f, job.index);
          this.debug.readMs += this.#io.now() - readAt;
          // Receivers ask in order: read the next piece while this one goes out.
          if (job.index + 1 < f.count) this.#read(f, job.index + 1).catch(() => {});
        } catch (err) {
          this.#fail(f, `${f.name} can't be read any more (${readError(err)}). Share it again.`);
          this.stop(f.id);
          f.state = "failed";
          continue;
        }
        if (job.offset === 0) {
          const key = `${f.id} ${peer}`;
          const served = this.debug.served.get(key) ?? [];
          served.push(job.index);
          this.debug.served.set(key, served);
        }
        await this.#sendBlock(channel, f, peer, job, bytes);
      }
    } catch (err) {
      console.warn(`Sending files to ${peer} stopped:`, err);
    } finally {
      this.#running.delete(peer);
    }
  }

  #serves(f: OutgoingFile, peer: PeerId): boolean {
    const state = f.receivers.get(peer)?.state;
    return state === "receiving" || state === "done";
  }

  /** Waits until the channel has room for `bytes` more (flow control). */
  async #room(channel: PeerChannel, bytes: number): Promise<void> {
    const { highWater, lowWater } = this.#io.tuning;
    if (channel.bufferedAmount + bytes <= highWater) return;
    const at = this.#io.now();
    await channel.drained(lowWater);
    this.debug.drainMs += this.#io.now() - at;
  }

  #frameBudget(channel: PeerChannel): number {
    return Math.min(channel.maxMessageSize, this.#io.tuning.frame, MAX_FRAME);
  }

  async #sendManifest(channel: PeerChannel, f: OutgoingFile): Promise<void> {
    const hashes = f.hashes!;
    const perFrame = Math.floor((this.#frameBudget(channel) - MANIFEST_HEADER) / HASH_BYTES);
    for (let first = 0; first < f.count; first += perFrame) {
      const part = hashes.subarray(
        first * HASH_BYTES,
        Math.min(f.count, first + perFrame) * HASH_BYTES,
      );
      const frame = manifestFrame(f.idBytes, first, part);
      await this.#room(channel, frame.length);
      if (!channel.open) return;
      channel.send(frame);
    }
  }

  /** Sends bytes `offset .. offset + length` of a piece (`bytes`), in frames the link takes. */
  async #sendBlock(
    channel: PeerChannel,
    f: OutgoingFile,
    peer: PeerId,
    { index, offset: start, length }: { index: number; offset: number; length: number },
    bytes: Uint8Array<ArrayBuffer>,
  ): Promise<void> {
    const payload = this.#frameBudget(channel) - DATA_HEADER;
    const damage = start === 0 && this.debug.corrupt.delete(`${f.id}:${index}`);
    const end = start + length;
    for (let offset = start; offset < end; offset += payload) {
      const part = bytes.subarray(offset, Math.min(end, offset + payload));
      await this.#room(channel, DATA_HEADER + part.length);
      // The receiver may have gone, cancelled or been removed while we waited.
      if (!channel.open || f.state !== "shared" || !this.#serves(f, peer)) return;
      // Filled and sent with no await between: every peer's queue shares the one buffer.
      const frame = writeDataFrame(this.#frame, f.idBytes, index, offset, part);
      if (damage && offset === start) frame[DATA_HEADER] ^= 0xff;
      channel.send(frame);
      const max = this.debug.maxBuffered.get(peer) ?? 0;
      if (channel.bufferedAmount > max) this.debug.maxBuffered.set(peer, channel.bufferedAmount);
    }
  }

  /** Piece `index` of `f`, read once for every receiver that asks for it soon after another. */
  #read(f: OutgoingFile, index: number): Promise<Uint8Array<ArrayBuffer>> {
    const key = `${f.id}:${index}`;
    let piece = this.#cache.get(key);
    if (piece) {
      // Most recently used last.
      this.#cache.delete(key);
    } else {
      piece = readPiece(f.file, f.pieceSize, index);
      piece.catch(() => this.#cache.delete(key));
    }
    this.#cache.set(key, piece);
    while (this.#cache.size > this.#io.tuning.cachePieces) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    return piece;
  }

  #evict(id: string): void {
    for (const key of [...this.#cache.keys()]) {
      if (key.startsWith(`${id}:`)) this.#cache.delete(key);
    }
  }

  #dropJobs(peer: PeerId, id: string): void {
    const queue = this.#queues.get(peer);
    if (queue) this.#queues.set(peer, queue.filter((j) => j.file.id !== id));
  }

  #fail(f: OutgoingFile, detail: string): void {
    f.state = "failed";
    f.detail = detail;
    this.#io.notify("error", detail);
    this.#io.changed();
  }

  /** Stops hashing and forgets everything (the meeting ended). */
  close(): void {
    for (const f of this.#files.values()) f.abort.abort();
    this.#queues.clear();
    this.#cache.clear();
  }

  /** What the UI shows of each file we share, newest first. */
  view(): OutgoingView[] {
    return [...this.#files.values()].reverse().map((f) => ({
      dir: "out",
      id: f.id,
      name: f.name,
      size: f.size,
      type: f.type,
      to: f.to,
      toName: f.to === "all" ? null : this.#io.nameOf(f.to),
      state: f.state,
      prepared: f.prepared,
      detail: f.detail,
      receivers: [...f.receivers].map(([peer, r]) => {
        const done = Math.min(f.size, r.held * f.pieceSize);
        const active = r.state === "receiving";
        return {
          peer,
          name: this.#io.nameOf(peer),
          state: r.state,
          done: r.state === "done" ? f.size : done,
          rate: active ? r.meter.rate() : null,
          secondsLeft: active ? r.meter.secondsLeft(f.size) : null,
        };
      }),
    }));
  }
}

/** A reading error in words: Chromium says NotReadableError when the file changed on disk. */
function readError(err: unknown): string {
  const name = (err as Error)?.name;
  if (name === "NotReadableError") return "it changed or moved on your disk since you chose it";
  if (name === "NotFoundError") return "it is no longer on your disk";
  return (err as Error)?.message ?? String(err);
}
